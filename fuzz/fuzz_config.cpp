// libFuzzer harness: the config parser on arbitrary YAML text. Bad input must be a
// shiftad::Error naming the problem; any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/Error.h"
#include "shiftad/Config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto cfg = shiftad::parseConfig(text);
    // What parses must dump and parse back (the run directory's config.yaml).
    shiftad::parseConfig(shiftad::dumpConfig(cfg));
  } catch (const shiftad::Error&) {
  }
  return 0;
}
