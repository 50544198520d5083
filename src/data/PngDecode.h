// PNG decoding through libpng itself rather than cv::imdecode. libpng reports what it
// meets in a file through its warning and error callbacks; under OpenCV those print
// on stderr, naming no file, for every image ("libpng warning: iCCP: known incorrect
// sRGB profile" on each of thousands of exported files; "libpng error: Not enough image
// data" beside shiftad's own line), whatever `-q` says. Here they are caught: an error
// refuses the image in libpng's words, naming the file; a warning (an ancillary chunk
// that is malformed or fails its checksum, which libpng skips) goes to the debug log
// with the file's name, and the image is used. Nothing goes to stderr.
//
// Samples are those cv::imdecode(IMREAD_UNCHANGED) gives: the same libpng transforms
// (palette expanded, gray below 8 bits expanded, colour in OpenCV's BGR order, 16-bit
// kept in native byte order, no gamma correction), alpha kept for the caller to drop.
#pragma once

#include <cstddef>
#include <string>

namespace cv {
class Mat;
}

namespace shiftad::data {

/// The eight bytes every PNG file starts with.
inline constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/// Whether `bytes` start with the PNG signature.
bool isPng(const unsigned char* bytes, size_t size);

/// The decoded samples of a PNG file's bytes as OpenCV lays them out: CV_8U or CV_16U,
/// 1 (gray), 2 (gray + alpha), 3 (BGR) or 4 (BGRA) channels. Throws shiftad::Error
/// naming `path` with libpng's message when it cannot decode the file.
cv::Mat decodePng(const unsigned char* bytes, size_t size, const std::string& path);

}  // namespace shiftad::data
