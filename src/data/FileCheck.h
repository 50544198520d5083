// Checks on the bytes of image files that decoding alone misses. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shiftad::data {

/// 64-bit FNV-1a of the bytes: identical files have the same hash (exact duplicates).
uint64_t contentHash(std::string_view bytes);

/// Why a PNG or JPEG file is truncated ("" when its end marker is there, or for other
/// formats). libjpeg accepts a cut JPEG and fills the missing rows with gray (PIL
/// refuses it), so the end marker is checked on its own: PNG's IEND chunk, JPEG's EOI
/// after the main image's scan, found by walking the marker segments from SOI (an EXIF
/// thumbnail's own scan and EOI, inside APP1, are skipped with it).
std::string truncation(std::string_view bytes);

}  // namespace shiftad::data
