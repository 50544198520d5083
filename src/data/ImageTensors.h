// Decoding images into uint8 tensors and the transforms applied to them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/ImageCache.h"
#include "shiftad/Config.h"

namespace shiftad::data {

/// Decode one image file to an RGB uint8 tensor 3 x H x W (grayscale, 16-bit and alpha
/// images are converted). Throws shiftad::Error naming the path if it cannot be decoded.
torch::Tensor readImage(const std::string& path);

/// The bytes of an image file that readImage would decode: the same checks and decode,
/// the pixels dropped, the bytes kept (for a content hash without a second read).
/// Throws as readImage.
std::vector<unsigned char> readDecodableBytes(const std::string& path);

/// A decoded set of images, all resized to side x side (uint8, N x 3 x side x side).
struct ImageBatch {
  torch::Tensor images;
  std::vector<std::string> paths;    ///< paths of the rows of `images`, in order
  std::vector<std::string> skipped;  ///< unreadable files (each logged as a warning)
};

/// Resize filter of loadImages: the config's data.interpolation. kBilinear: area
/// averaging when both sides shrink, else bilinear; kBicubic: OpenCV's bicubic (CLIP's
/// preprocessing uses PIL's bicubic).
using Interpolation = shiftad::Interpolation;

/// An RGB image in memory (8 bits per channel, interleaved, rows `stride` bytes apart;
/// 0: packed) resized to side x side exactly as loadImages resizes a decoded file:
/// uint8 3 x side x side. Throws shiftad::Error for an empty or oversized image.
torch::Tensor resizeRgb(const uint8_t* rgb, int width, int height, size_t stride, int side,
                        Interpolation interpolation);

/// Decode and resize (to side x side) every path; unreadable files are skipped with a
/// warning naming each and listed in `skipped`. Uses `threads` worker threads (0: all
/// cores). With a `cache` (of this side and interpolation), images decoded before are
/// read from it and newly decoded ones are added to it.
ImageBatch loadImages(const std::vector<std::string>& paths, int side, int threads = 0,
                      Interpolation interpolation = Interpolation::kBilinear, const ImageCache* cache = nullptr);

/// Where a center crop of `size` starts on an axis of `side` pixels (torchvision's
/// rounding: half to even). The ONNX export crops with it too.
int64_t centerCropStart(int64_t side, int64_t size);

/// Center crop of a uint8 batch N x 3 x S x S to N x 3 x size x size.
torch::Tensor centerCrop(const torch::Tensor& images, int size);

/// Per image: random resized crop (area fraction in [scale_min, 1], aspect ratio in
/// [3/4, 4/3]) resized to size x size, then (if hflip) a horizontal flip with
/// probability 1/2. Input uint8 N x 3 x S x S; output float N x 3 x size x size in [0,1].
torch::Tensor randomResizedCrop(const torch::Tensor& images, int size, double scale_min, bool hflip,
                                torch::Generator& gen);

/// uint8 or [0,1] float N x 3 x H x W -> float, (x/255 - mean) / std per channel.
torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace shiftad::data
