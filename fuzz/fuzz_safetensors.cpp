// libFuzzer harness: the safetensors format (torch-free: header, dtypes, offsets, and
// every tensor's bytes read) on arbitrary bytes. Every malformed file must be a
// shiftad::Error (anything else, or a sanitizer report, is a finding).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "FuzzFile.h"
#include "common/Error.h"
#include "io/SafeTensorsFormat.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = shiftad::fuzz::writeInput(data, size, ".safetensors");
  try {
    shiftad::io::SafeTensorsReader reader(path);
    std::vector<unsigned char> bytes;
    for (const auto& entry : reader.header().tensors) {
      bytes.resize(entry.end - entry.begin);  // validated: within the file
      reader.read(entry, bytes.data());
    }
  } catch (const shiftad::Error&) {
  }
  return 0;
}
