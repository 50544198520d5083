#include "common/TextFile.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/Error.h"
#include "common/AtomicFile.h"

namespace shiftad {

std::string readText(const std::string& path) {
  std::ifstream f(path);
  // errno from the open: "Permission denied" (a run copied with a umask of 077), "No such file".
  SHIFTAD_CHECK(f.good(), "cannot read '{}': {}; check the path and its permissions", path, std::strerror(errno));
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void writeTextAtomic(const std::string& path, const std::string& text) { writeFileAtomic(path, text); }

}  // namespace shiftad
