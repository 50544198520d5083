// Checks on the bytes of image files that decoding alone misses. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shiftad::data {

/// 64-bit FNV-1a of the bytes: identical files have the same hash (exact duplicates).
uint64_t contentHash(std::string_view bytes);

/// Why a PNG, JPEG or BMP file cannot be a whole, sound image ("" when nothing says so,
/// and for other formats), found before the decoder runs: its own message would name no
/// file, and some damage it lets through.
/// - Truncation. libjpeg accepts a cut JPEG and fills the missing rows with gray (PIL
///   refuses it), so the end marker is checked on its own: JPEG's EOI after the main
///   image's scan, found by walking the marker segments from SOI (an EXIF thumbnail's own
///   scan and EOI, inside APP1, are skipped with it); PNG's chunks up to IEND; a BMP's
///   pixel data as long as its header declares.
/// - A PNG critical chunk whose CRC does not match (libpng printed "libpng error: IHDR:
///   CRC error"); a BMP header with more than 256 palette colours or a compression
///   OpenCV does not read (JPEG/PNG data inside; it printed an assertion).
std::string damage(std::string_view bytes);

}  // namespace shiftad::data
