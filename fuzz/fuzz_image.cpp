// libFuzzer harness: image decoding (header dimension checks, then OpenCV) on
// arbitrary bytes. Unreadable input must be a shiftad::Error, never a crash or a huge
// allocation (run with -rss_limit_mb to catch the latter).
#include <cstddef>
#include <cstdint>
#include <string>

#include <torch/types.h>

#include "FuzzFile.h"
#include "common/Error.h"
#include "data/ImageTensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = shiftad::fuzz::writeInput(data, size, ".img");
  try {
    shiftad::data::readImage(path);
  } catch (const shiftad::Error&) {
  }
  return 0;
}
