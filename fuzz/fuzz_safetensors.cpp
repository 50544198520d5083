// libFuzzer harness: the safetensors reader on arbitrary bytes. Every malformed file
// must be a shiftad::Error (anything else, or a sanitizer report, is a finding).
#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzFile.h"
#include "common/Error.h"
#include "io/SafeTensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = shiftad::fuzz::writeInput(data, size, ".safetensors");
  try {
    shiftad::io::readSafeTensors(path);
  } catch (const shiftad::Error&) {
  }
  return 0;
}
