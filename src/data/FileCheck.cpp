#include "data/FileCheck.h"

#include "common/Hash.h"

namespace shiftad::data {

uint64_t contentHash(std::string_view bytes) { return fnv1a(bytes); }

std::string truncation(std::string_view bytes) {
  constexpr std::string_view kPng("\x89PNG\r\n\x1a\n", 8);
  if (bytes.compare(0, kPng.size(), kPng) == 0) {
    // IEND's type must be followed by its 4-byte CRC.
    const auto iend = bytes.rfind("IEND");
    return iend != std::string_view::npos && iend + 8 <= bytes.size() ? "" : "PNG without its IEND chunk (truncated)";
  }
  if (bytes.size() >= 2 && bytes.compare(0, 2, std::string_view("\xFF\xD8", 2)) == 0) {
    // Inside entropy-coded data 0xFF is always stuffed (FF 00), so FF D9 after the
    // first scan header is the end marker.
    const auto scan = bytes.find(std::string_view("\xFF\xDA", 2));
    if (scan == std::string_view::npos) return "JPEG without image data (truncated)";
    return bytes.find(std::string_view("\xFF\xD9", 2), scan) != std::string_view::npos
               ? ""
               : "JPEG without its end marker (truncated)";
  }
  return "";
}

}  // namespace shiftad::data
