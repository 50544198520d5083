#include "common/PathList.h"

#include <sstream>

#include "common/Error.h"
#include "common/TextFile.h"

namespace shiftad {

namespace {

bool needsQuoting(const std::string& p) {
  return p.find_first_of("\n\r") != std::string::npos || (!p.empty() && p.front() == '"');
}

std::string quoted(const std::string& p) {
  std::string out = "\"";
  for (const char c : p) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else
      out += c;
  }
  return out + "\"";
}

/// The path a quoted line stands for; `file` and the line for the error on a damaged one.
std::string unquoted(const std::string& line, const std::string& file) {
  std::string out;
  for (size_t i = 1; i + 1 < line.size(); ++i) {
    if (line[i] != '\\') {
      out += line[i];
      continue;
    }
    SHIFTAD_CHECK(i + 2 < line.size(), "'{}': a quoted path ends in a lone backslash: {}", file, line);
    const char e = line[++i];
    SHIFTAD_CHECK(e == 'n' || e == 'r' || e == '"' || e == '\\', "'{}': unknown escape '\\{}' in {}", file, e, line);
    out += e == 'n' ? '\n' : e == 'r' ? '\r' : e;
  }
  return out;
}

}  // namespace

void writePathList(const std::string& path, const std::vector<std::string>& paths) {
  std::string text;
  for (const auto& p : paths) text += (needsQuoting(p) ? quoted(p) : p) + "\n";
  writeTextAtomic(path, text);
}

std::vector<std::string> readPathList(const std::string& path) {
  std::vector<std::string> paths;
  std::istringstream lines(readText(path));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    // Quoted by writePathList (a path of earlier lists starting with '"' and ending with
    // one was never absolute, and runs list absolute paths).
    const bool is_quoted = line.size() >= 2 && line.front() == '"' && line.back() == '"';
    paths.push_back(is_quoted ? unquoted(line, path) : line);
  }
  return paths;
}

}  // namespace shiftad
