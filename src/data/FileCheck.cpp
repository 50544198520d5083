#include "data/FileCheck.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/Hash.h"
#include "data/JpegDecode.h"
#include "data/PngDecode.h"

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

uint32_t be32(std::string_view b, size_t i) {
  return (uint32_t{byteAt(b, i)} << 24) | (uint32_t{byteAt(b, i + 1)} << 16) | (uint32_t{byteAt(b, i + 2)} << 8) |
         byteAt(b, i + 3);
}
uint32_t le16(std::string_view b, size_t i) { return byteAt(b, i) | (uint32_t{byteAt(b, i + 1)} << 8); }
uint32_t le32(std::string_view b, size_t i) { return le16(b, i) | (le16(b, i + 2) << 16); }

// A chunk type as text: four letters in a sound file, anything in a damaged one.
std::string chunkName(std::string_view type) {
  std::string out;
  for (const char c : type) out += (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? c : '?';
  return out;
}

// A PNG's chunks from the signature to IEND, each by its length: one that runs past the
// end of the file is truncation, and a critical chunk (an upper-case first letter:
// IHDR, PLTE, IDAT, IEND) whose CRC does not match is damage libpng stops on, printing
// its own "libpng error" line (an ancillary chunk's bad CRC it only warns about).
std::string pngDamage(std::string_view b) {
  for (size_t pos = 8; pos + 12 <= b.size();) {
    const uint64_t length = be32(b, pos), end = pos + 12 + length;
    if (end > b.size()) break;
    const auto type = b.substr(pos + 4, 4);
    const bool critical = type[0] >= 'A' && type[0] <= 'Z';
    const auto* typed = reinterpret_cast<const Bytef*>(b.data() + pos + 4);
    if (critical && crc32(0L, typed, static_cast<uInt>(4 + length)) != be32(b, pos + 8 + length))
      return fmt::format("PNG chunk '{}' at byte {} fails its checksum (CRC): the file is corrupt", chunkName(type),
                         pos);
    if (type == "IEND") return "";
    pos = end;
  }
  return "PNG without its IEND chunk (truncated)";
}

// RLE8 and RLE4 pixel data (compression 1, 2): two-byte codes, a run (count, value)
// or an escape (0, then 0 end of line, 1 end of bitmap, 2 a move by two more bytes, or
// an absolute run of that many pixels, padded to 16 bits). Walked to the end-of-bitmap
// code or the last row: OpenCV's decoder threw on a stream that stops before either,
// printing "imdecode_(''): can't read data" on stderr.
std::string rleDamage(std::string_view b, uint64_t offset, uint64_t height, bool rle4) {
  uint64_t pos = offset, row = 0;
  while (row < height) {
    if (pos + 2 > b.size())
      return fmt::format("BMP truncated: its RLE data stops at byte {} after {} of its {} rows", b.size(), row, height);
    const uint32_t count = byteAt(b, pos), code = byteAt(b, pos + 1);
    pos += 2;
    if (count > 0) continue;   // a run of one value
    if (code == 1) return "";  // end of bitmap
    if (code == 0) ++row;      // end of line
    if (code == 2) {           // a move: right by one byte, down by the next
      if (pos + 2 <= b.size()) row += byteAt(b, pos + 1);
      pos += 2;
    }
    if (code > 2) pos += ((rle4 ? (code + 1) / 2 : code) + 1) / 2 * 2;
  }
  return "";
}

// What a BMP's headers say that its bytes do not hold, or that the decoder refuses with
// an assertion message of its own on stderr: pixel data shorter than the header
// declares (uncompressed rows, or the declared size of RLE data), more than 256
// palette colours, a compression it does not read (JPEG or PNG data inside: 4, 5), an RLE stream
// that stops early (rleDamage).
std::string bmpDamage(std::string_view b) {
  if (b.size() < 26 || le32(b, 14) < 12 || 14 + uint64_t{le32(b, 14)} > b.size())
    return "BMP shorter than its headers (truncated)";
  const uint32_t header = le32(b, 14), offset = le32(b, 10);
  const bool core = header == 12;  // OS/2: 16-bit sizes, no compression
  if (!core && header < 40) return "";
  const uint64_t width = core ? le16(b, 18) : std::abs(int64_t{static_cast<int32_t>(le32(b, 18))});
  const uint64_t height = core ? le16(b, 20) : std::abs(int64_t{static_cast<int32_t>(le32(b, 22))});
  const uint32_t bits = le16(b, core ? 24 : 28), compression = core ? 0 : le32(b, 30);
  if (!core && le32(b, 46) > 256)
    return fmt::format("BMP header declares {} palette colours (at most 256): the file is corrupt", le32(b, 46));
  if (compression > 3)  // 4, 5: JPEG or PNG data inside; 6 and up: none OpenCV reads
    return fmt::format(
        "BMP with compression {} (only 0-3: none, RLE8, RLE4, bit fields), which the decoder does not "
        "read",
        compression);
  uint64_t pixels = 0;  // bytes the pixel data takes, where the header says
  if (compression == 0 || compression == 3) pixels = (width * std::min<uint64_t>(bits, 64) + 31) / 32 * 4 * height;
  if (compression == 1 || compression == 2) pixels = le32(b, 34);
  if (uint64_t{offset} + pixels > b.size())
    return fmt::format("BMP truncated: its header declares {} bytes of pixels from byte {}, the file holds {}", pixels,
                       offset, b.size());
  return compression == 1 || compression == 2 ? rleDamage(b, offset, height, compression == 2) : "";
}

}  // namespace

uint64_t contentHash(std::string_view bytes) { return fnv1a(bytes); }

std::string damage(std::string_view bytes) {
  const auto* start = reinterpret_cast<const unsigned char*>(bytes.data());
  if (isPng(start, bytes.size())) return pngDamage(bytes);
  if (isJpeg(start, bytes.size())) {
    const size_t scan = mainScanData(bytes);
    if (scan == kNone) return "JPEG without image data (truncated)";
    return reachesEoi(bytes, scan) ? "" : "JPEG without its end marker (truncated)";
  }
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return bmpDamage(bytes);
  return "";
}

}  // namespace shiftad::data
