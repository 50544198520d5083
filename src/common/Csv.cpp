#include "common/Csv.h"

#include <algorithm>
#include <istream>

namespace shiftad::csv {

std::string field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string row(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + field(fields[i]);
  return out;
}

bool readRecord(std::istream& in, std::string& record, int& line) {
  if (!std::getline(in, record)) return false;
  ++line;
  // An odd number of quotes so far: a quoted field goes on over the line break.
  for (std::string more; std::count(record.begin(), record.end(), '"') % 2 == 1 && std::getline(in, more); ++line)
    record += "\n" + more;
  return true;
}

std::vector<std::string> split(std::string_view record) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted && c == '"' && i + 1 < record.size() && record[i + 1] == '"') {
      fields.back() += '"';  // a doubled quote inside quotes
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace shiftad::csv
