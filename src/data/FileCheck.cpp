#include "data/FileCheck.h"

#include "common/Hash.h"

namespace shiftad::data {

namespace {

constexpr size_t kNone = std::string_view::npos;

uint8_t byteAt(std::string_view b, size_t i) { return static_cast<uint8_t>(b[i]); }

// Markers without a length field: TEM, RST0..7 (and SOI, EOI, said apart).
bool standalone(uint8_t m) { return m == 0x01 || (m >= 0xD0 && m <= 0xD7); }

// The end of the marker segment whose marker byte is at `at` (its length counts its own
// two bytes), or kNone when the file ends inside it.
size_t segmentEnd(std::string_view b, size_t at) {
  if (at + 3 > b.size()) return kNone;
  const size_t end = at + 1 + ((size_t{byteAt(b, at + 1)} << 8) | byteAt(b, at + 2));
  return end <= b.size() ? end : kNone;
}

// After the first scan header (SOS) of the main image, found by walking the marker
// segments from SOI as libjpeg does: each segment (APPn, DQT, DHT, SOFn, COM, ...) is
// skipped by its length, so a JPEG inside one (an EXIF thumbnail in APP1, with its own
// SOS and EOI) is never taken for the image. Bytes that are not a marker and 0xFF fill
// bytes are skipped (libjpeg warns and goes on). kNone: no scan before the file ends.
size_t mainScanData(std::string_view b) {
  size_t pos = 2;  // after SOI
  while (pos < b.size()) {
    if (byteAt(b, pos) != 0xFF) {
      ++pos;  // extraneous byte
      continue;
    }
    while (pos < b.size() && byteAt(b, pos) == 0xFF) ++pos;  // fill bytes
    if (pos >= b.size()) return kNone;
    const uint8_t marker = byteAt(b, pos);
    if (marker == 0x00 || standalone(marker)) {
      ++pos;
      continue;
    }
    if (marker == 0xD9) return kNone;  // EOI before any scan
    const size_t end = segmentEnd(b, pos);
    if (end == kNone || marker == 0xDA) return end;
    pos = end;
  }
  return kNone;
}

// Whether the EOI marker follows the entropy-coded data that starts at `pos`. Inside
// that data 0xFF is always followed by 0x00 (stuffing) or RSTn; any other marker ends
// it: DHT, DQT, another SOS (the scans of a progressive JPEG), ... skipped by length.
bool reachesEoi(std::string_view b, size_t pos) {
  while (pos + 1 < b.size()) {
    if (byteAt(b, pos) != 0xFF) {
      ++pos;
      continue;
    }
    const uint8_t next = byteAt(b, pos + 1);
    if (next == 0xD9) return true;
    if (next == 0x00 || next == 0xFF || standalone(next)) {
      pos += next == 0xFF ? 1 : 2;  // stuffed byte, restart marker; a fill byte is skipped alone
      continue;
    }
    pos = segmentEnd(b, pos + 1);
    if (pos == kNone) return false;
  }
  return false;
}

}  // namespace

uint64_t contentHash(std::string_view bytes) { return fnv1a(bytes); }

std::string truncation(std::string_view bytes) {
  constexpr std::string_view kPng("\x89PNG\r\n\x1a\n", 8);
  if (bytes.compare(0, kPng.size(), kPng) == 0) {
    // IEND's type must be followed by its 4-byte CRC.
    const auto iend = bytes.rfind("IEND");
    return iend != std::string_view::npos && iend + 8 <= bytes.size() ? "" : "PNG without its IEND chunk (truncated)";
  }
  if (bytes.size() >= 2 && bytes.compare(0, 2, std::string_view("\xFF\xD8", 2)) == 0) {
    const size_t scan = mainScanData(bytes);
    if (scan == kNone) return "JPEG without image data (truncated)";
    return reachesEoi(bytes, scan) ? "" : "JPEG without its end marker (truncated)";
  }
  return "";
}

}  // namespace shiftad::data
