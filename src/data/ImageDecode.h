// An image file's bytes to RGB pixels, as torchvision's PIL loader would give them:
// JPEG through libjpeg (JpegDecode.h) and PNG through libpng (PngDecode.h), whose
// messages are caught and attributed to the file; BMP through OpenCV. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace cv {
class Mat;
}

namespace shiftad::data {

/// RGB 8-bit H x W x 3 (continuous) of a file's bytes, whose header was checked
/// (ImageTensors' readCheckedBytes). Throws shiftad::Error naming `path` for a damaged,
/// truncated or undecodable file.
cv::Mat decodeRgb(const std::vector<unsigned char>& bytes, const std::string& path);

/// Decoded samples as OpenCV lays them out (8- or 16-bit, or float in [0, 1]; 1 gray,
/// 2 gray + alpha, 3 BGR or 4 BGRA channels) to RGB 8-bit: 16-bit scaled to the full
/// 8-bit range, alpha dropped, as PIL's convert("RGB") drops it.
cv::Mat samplesToRgb(const cv::Mat& samples, const std::string& path);

}  // namespace shiftad::data
