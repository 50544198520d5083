// JPEG decoding through libjpeg itself rather than cv::imdecode. libjpeg repairs
// damage it meets in the entropy-coded data (a scan cut short before a kept end
// marker, a hole of zeros from an interrupted copy, a bad Huffman code) and reports it
// only as a warning; OpenCV prints that warning on stderr, naming no file, and returns
// the image with the lost blocks filled with grey or garbage, which a detector then
// scores as an anomaly of the product rather than of the transfer. Here every warning is
// caught: one that means lost pixels (among them stray bytes before a marker once the
// scans are read, the usual sign of a desynchronised scan) refuses the image in
// libjpeg's own words, naming the file; a harmless one (stray bytes between header
// segments, an unknown Adobe transform) is logged at debug level with the file's name
// and the image is used. Nothing goes to stderr. A file of more than 500 scans is
// refused (each scan is a pass over the image: a small file could hold a decode for
// minutes). Damage libjpeg does not see is not found: a hole that decodes as valid
// codes, an arithmetic-coded scan cut short, a progressive file cut between scans.
//
// Pixels are those cv::imdecode(IMREAD_UNCHANGED) gives, and PIL's: libjpeg's default
// decompression parameters (islow IDCT, fancy upsampling), EXIF orientation ignored,
// CMYK converted by OpenCV's formula.
#pragma once

#include <cstddef>
#include <string>

namespace cv {
class Mat;
}

namespace shiftad::data {

/// Whether `bytes` start as a JPEG file does (the start-of-image marker, FF D8).
bool isJpeg(const unsigned char* bytes, size_t size);

/// The RGB pixels (8-bit, H x W x 3, continuous) of a JPEG file's bytes. A grayscale
/// JPEG is expanded to three equal channels; a CMYK or YCCK one is converted as OpenCV
/// converts it. Throws shiftad::Error naming
/// `path`: "cannot be used: damaged JPEG data (libjpeg: ...)" for lost data, "cannot be
/// decoded: libjpeg: ..." for a file libjpeg refuses (with a remedy for 12-bit and
/// lossless JPEGs, which it does not decode).
cv::Mat decodeJpegRgb(const unsigned char* bytes, size_t size, const std::string& path);

}  // namespace shiftad::data
