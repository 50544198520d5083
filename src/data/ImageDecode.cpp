#include "data/ImageDecode.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "data/FileCheck.h"
#include "data/JpegDecode.h"
#include "data/PngDecode.h"

namespace shiftad::data {
namespace {

cv::Mat to8Bit(const cv::Mat& m, const std::string& path) {
  cv::Mat out;
  switch (m.depth()) {
    case CV_8U:
      return m;
    case CV_16U:
      m.convertTo(out, CV_8U, 255.0 / 65535.0);
      return out;  // full 16-bit range -> 0..255
    case CV_32F:
    case CV_64F:
      m.convertTo(out, CV_8U, 255.0);
      return out;  // float images are taken as [0,1]
    default:
      SHIFTAD_THROW("image '{}' has an unsupported pixel depth (OpenCV depth {}): convert it to 8-bit", path,
                    m.depth());
  }
}

cv::Mat toRgb(const cv::Mat& m, const std::string& path) {
  cv::Mat out;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, out, cv::COLOR_GRAY2RGB);
      break;
    case 2:
      cv::extractChannel(m, out, 0);
      cv::cvtColor(out, out, cv::COLOR_GRAY2RGB);
      break;  // gray + alpha
    case 3:
      cv::cvtColor(m, out, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(m, out, cv::COLOR_BGRA2RGB);
      break;  // alpha dropped, as PIL's convert("RGB")
    default:
      SHIFTAD_THROW("image '{}' has {} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)", path, m.channels());
  }
  return out;
}

}  // namespace

cv::Mat samplesToRgb(const cv::Mat& samples, const std::string& path) { return toRgb(to8Bit(samples, path), path); }

cv::Mat decodeRgb(const std::vector<unsigned char>& bytes, const std::string& path) {
  const auto damaged = damage(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  SHIFTAD_CHECK(damaged.empty(), "image '{}' cannot be used: {}; re-export or remove it", path, damaged);
  // JPEG and PNG through their own libraries, whose messages are caught (JpegDecode.h,
  // PngDecode.h); BMP through OpenCV.
  if (isJpeg(bytes.data(), bytes.size())) return decodeJpegRgb(bytes.data(), bytes.size(), path);
  if (isPng(bytes.data(), bytes.size())) return samplesToRgb(decodePng(bytes.data(), bytes.size(), path), path);
  cv::Mat raw;
  try {
    // UNCHANGED keeps 16-bit depth and alpha (converted below) and ignores EXIF
    // orientation, as torchvision's PIL loader does.
    raw = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    SHIFTAD_THROW("image '{}' cannot be decoded: {}", path, e.what());
  }
  SHIFTAD_CHECK(!raw.empty(), "image '{}' cannot be decoded (truncated, corrupt or not an image)", path);
  return samplesToRgb(raw, path);
}

}  // namespace shiftad::data
