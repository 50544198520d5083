#include "common/TextFile.h"

#include <fstream>
#include <iterator>

#include "common/Error.h"
#include "common/AtomicFile.h"

namespace shiftad {

std::string readText(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void writeTextAtomic(const std::string& path, const std::string& text) { writeFileAtomic(path, text); }

}  // namespace shiftad
