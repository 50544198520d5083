#include "common/TextFile.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/Error.h"
#include "common/Rename.h"

namespace fs = std::filesystem;

namespace shiftad {

std::string readText(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void writeTextAtomic(const std::string& path, const std::string& text) {
  const std::string tmp = temporaryPathFor(path);
  try {
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      SHIFTAD_CHECK(f.is_open(), "cannot write '{}' (no permission, or the folder is missing?)", tmp);
      f << text;
      f.flush();
      SHIFTAD_CHECK(f.good(), "cannot write '{}' (disk full?)", tmp);
    }
    std::error_code ec;
    commitRename(tmp, path, ec);
    SHIFTAD_CHECK(!ec, "cannot rename '{}' over '{}': {}", tmp, path, ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

}  // namespace shiftad
