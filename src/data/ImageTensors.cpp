#include "data/ImageTensors.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/ParallelFor.h"
#include "common/LogOnce.h"
#include "common/Progress.h"
#include "data/FileCheck.h"
#include "data/ImageDecode.h"
#include "data/JpegDecode.h"
#include "data/PngDecode.h"

namespace shiftad::data {
namespace {

namespace fs = std::filesystem;

// Images larger than this are refused before decoding: a corrupt or hostile header
// must not make us allocate gigabytes (OpenCV's own default limit is 2^30 pixels).
constexpr int64_t kMaxSide = 1 << 16;
constexpr int64_t kMaxPixels = int64_t{1} << 27;  // 134 MP, 10x a large photo
constexpr int64_t kMaxFileBytes = int64_t{1} << 30;
// Unreadable images named one by one in the log; the rest are counted.
constexpr size_t kWarnedImages = 5;

struct Dims {
  int64_t width = 0, height = 0;
};

uint32_t be16(const unsigned char* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const unsigned char* p) { return (be16(p) << 16) | be16(p + 2); }
int32_t le32(const unsigned char* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24));
}

std::optional<Dims> pngDims(const std::vector<unsigned char>& h) {
  if (h.size() < 24 || !isPng(h.data(), h.size()) || std::memcmp(h.data() + 12, "IHDR", 4) != 0) return {};
  return Dims{be32(&h[16]), be32(&h[20])};
}

std::optional<Dims> bmpDims(const std::vector<unsigned char>& h) {
  if (h.size() < 26 || h[0] != 'B' || h[1] != 'M') return {};
  if (le32(&h[14]) == 12) return Dims{h[18] | (h[19] << 8), h[20] | (h[21] << 8)};  // OS/2 core header
  return Dims{std::abs(int64_t{le32(&h[18])}), std::abs(int64_t{le32(&h[22])})};    // negative height: top-down
}

// Frame headers libjpeg reads (baseline, extended, progressive, lossless, arithmetic);
// C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
bool isSofMarker(unsigned char m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }
// Markers without a length field: TEM and RST0..7.
bool isStandaloneMarker(unsigned char m) { return m == 0x01 || (m >= 0xD0 && m <= 0xD7); }

// The size in the first frame header (SOF), found as libjpeg finds it: bytes before a
// marker that are not 0xFF are skipped (libjpeg warns "extraneous bytes" and goes
// on), as are 0xFF fill bytes and the 0xFF00 pair. A reader that stopped at the first
// stray byte would not see a frame header that libjpeg then decodes (a 600-byte file
// declaring 30000 x 30000 pixels). nullopt: no frame header before the first scan.
std::optional<Dims> jpegDims(const std::vector<unsigned char>& h) {
  size_t pos = 2;  // after SOI
  while (pos < h.size()) {
    if (h[pos] != 0xFF) {
      ++pos;  // extraneous byte
      continue;
    }
    while (pos < h.size() && h[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= h.size()) break;
    const unsigned char marker = h[pos++];
    if (marker == 0x00 || isStandaloneMarker(marker)) continue;
    if (marker == 0xDA || marker == 0xD9) break;  // scan / end before any frame header
    if (isSofMarker(marker)) {
      if (pos + 7 > h.size()) break;
      return Dims{be16(&h[pos + 5]), be16(&h[pos + 3])};
    }
    if (pos + 2 > h.size()) break;
    pos += be16(&h[pos]);  // the length counts its own two bytes
  }
  return {};
}

// The whole file: decoded from memory so that it is read once.
std::vector<unsigned char> readBytes(const std::string& path) {
  std::error_code ec;
  // Not a FIFO (opening one blocks until a writer comes), a device or a folder; a path
  // that cannot be stat'ed is left to the open below, whose errno says why.
  const auto type = fs::status(path, ec).type();
  SHIFTAD_CHECK(ec || type == fs::file_type::regular,
                "image '{}' is not a regular file (a folder, pipe, socket or device): refusing to read it", path);
  std::ifstream in(path, std::ios::binary);
  // errno says why (permissions, a dangling link, a link loop); it is per thread.
  SHIFTAD_CHECK(in.good(), "image '{}' cannot be opened: {}", path, std::strerror(errno));
  const auto too_big = [&](uintmax_t n) {
    SHIFTAD_THROW("image '{}' is {} bytes, above the limit of {}: refusing to read it", path, n, kMaxFileBytes);
  };
  const uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > static_cast<uintmax_t>(kMaxFileBytes)) too_big(size);
  // Read to the end, not just the size stat gives: a file whose size the file system
  // does not tell (0: /proc, some FUSE mounts) is then judged by its content.
  std::vector<unsigned char> bytes;
  bytes.reserve(ec ? 0 : static_cast<size_t>(size));
  for (char chunk[1 << 16]; in.read(chunk, sizeof chunk).gcount() > 0;) {
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
    if (bytes.size() > static_cast<size_t>(kMaxFileBytes)) too_big(bytes.size());
  }
  SHIFTAD_CHECK(!in.bad(), "image '{}' could not be read completely: {}", path, std::strerror(errno));
  SHIFTAD_CHECK(!bytes.empty(), "image '{}' is empty (0 bytes): re-export or remove it", path);
  return bytes;
}

// A PNG or BMP cut before the end of the header that gives its size: "not an image,
// convert it" sent the user converting a file that only needs copying again.
void refuseCutHeader(const std::vector<unsigned char>& h, const std::string& path) {
  const size_t n = h.size();
  const bool cut_png = n < 24 && std::memcmp(h.data(), kPngSignature, std::min(n, sizeof kPngSignature)) == 0;
  // A BMP's header declares the file's size (bytes 2-5): a cut file is shorter.
  const bool cut_bmp = n >= 6 && n < 26 && h[0] == 'B' && h[1] == 'M' && static_cast<size_t>(le32(&h[2])) > n;
  SHIFTAD_CHECK(!cut_png && !cut_bmp,
                "image '{}' is a {} cut short: {} bytes, fewer than the header that gives its size (an interrupted "
                "copy or download?); copy it again or remove it",
                path, cut_png ? "PNG" : "BMP", n);
}

// The image's size from its header, refused above the limits before anything is
// decoded. Only PNG, JPEG and BMP are read: OpenCV decodes other formats (TIFF, WebP,
// PPM, ...) by their content whatever the file's name, and their headers are not read
// here, so such content is refused rather than decoded unchecked.
void checkDimensions(const std::vector<unsigned char>& bytes, const std::string& path) {
  std::optional<Dims> d = pngDims(bytes);
  if (!d) d = bmpDims(bytes);
  if (!d && isJpeg(bytes.data(), bytes.size())) {
    d = jpegDims(bytes);
    SHIFTAD_CHECK(d.has_value(), "image '{}' is a JPEG without a frame header before its data (truncated or corrupt)",
                  path);
  }
  if (!d) refuseCutHeader(bytes, path);
  SHIFTAD_CHECK(d.has_value(),
                "image '{}' is not a PNG, JPEG or BMP file by its content (its first bytes are of another format, or "
                "of none): convert it to one of those",
                path);
  // A frame header of height 0 defers the height to a DNL marker after the first scan, a
  // legal but rare encoding (some scanners and fax software) that libjpeg does not read.
  SHIFTAD_CHECK(!isJpeg(bytes.data(), bytes.size()) || d->width == 0 || d->height > 0,
                "image '{}' is a JPEG whose height comes after its data, in a DNL marker, which the JPEG decoder "
                "(libjpeg) does not support: convert it to an ordinary JPEG or a PNG",
                path);
  // Said here, not by the decoder's own lines on stderr ("libpng error: Invalid IHDR data").
  SHIFTAD_CHECK(d->width > 0 && d->height > 0, "image '{}' declares {}x{} pixels: it holds no image (corrupt?)", path,
                d->width, d->height);
  SHIFTAD_CHECK(d->width <= kMaxSide && d->height <= kMaxSide && d->width * d->height <= kMaxPixels,
                "image '{}' declares {}x{} pixels, above the limit ({} per side, {} in all): refusing to decode it; "
                "resize it or check that the file is not corrupt",
                path, d->width, d->height, kMaxSide, kMaxPixels);
}

// A file's bytes, its header checked (checkDimensions): every image read goes through
// here, before the image cache or a decode sees it, so a cache entry written by a
// version that accepted the file cannot let it past the checks of this one.
std::vector<unsigned char> readCheckedBytes(const std::string& path) {
  auto bytes = readBytes(path);
  checkDimensions(bytes, path);
  return bytes;
}

// Bilinear: area averaging only when both sides shrink; OpenCV's INTER_AREA degrades
// to a nearest-like filter when a side grows.
cv::Mat resizeTo(const cv::Mat& rgb, int side, Interpolation interpolation) {
  if (rgb.cols == side && rgb.rows == side) return rgb;
  const bool shrink = rgb.cols >= side && rgb.rows >= side;
  int filter = shrink ? cv::INTER_AREA : cv::INTER_LINEAR;
  if (interpolation == Interpolation::kBicubic) filter = cv::INTER_CUBIC;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(side, side), 0, 0, filter);
  return out;
}

// Writes an RGB H x W x 3 Mat into `dst` (3 x H x W uint8, contiguous).
void copyToChw(const cv::Mat& rgb, uint8_t* dst) {
  const size_t plane = static_cast<size_t>(rgb.rows) * rgb.cols;
  cv::Mat planes[3];
  for (int c = 0; c < 3; ++c) planes[c] = cv::Mat(rgb.rows, rgb.cols, CV_8UC1, dst + c * plane);
  cv::split(rgb, planes);
}

void checkBatch(const torch::Tensor& images, const char* what) {
  SHIFTAD_CHECK(images.dim() == 4 && images.size(1) == 3, "{}: expected an N x 3 x H x W batch, got shape {}", what,
                fmt::format("{}", fmt::join(images.sizes(), "x")));
}

struct CropBox {
  int64_t top, left, height, width;
};

// torchvision's RandomResizedCrop.get_params, driven by pre-drawn uniforms u[0..22).
CropBox sampleCrop(int64_t H, int64_t W, double scale_min, const double* u) {
  const double area = static_cast<double>(H * W);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int t = 0; t < 10; ++t) {
    const double target = area * (scale_min + (1.0 - scale_min) * u[t]);
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * u[10 + t]);
    const auto w = static_cast<int64_t>(std::llround(std::sqrt(target * ratio)));
    const auto h = static_cast<int64_t>(std::llround(std::sqrt(target / ratio)));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const int64_t top = std::min(H - h, static_cast<int64_t>(u[20] * static_cast<double>(H - h + 1)));
      const int64_t left = std::min(W - w, static_cast<int64_t>(u[21] * static_cast<double>(W - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: center crop with the ratio clamped to [3/4, 4/3].
  const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
  int64_t w = W, h = H;
  if (in_ratio < 3.0 / 4.0)
    h = std::llround(static_cast<double>(w) / (3.0 / 4.0));
  else if (in_ratio > 4.0 / 3.0)
    w = std::llround(static_cast<double>(h) * (4.0 / 3.0));
  return {(H - h) / 2, (W - w) / 2, h, w};
}

/// Image `path` as 3 x side x side bytes at `dst`: from `cache` when it holds the entry
/// (nullptr: no cache), else decoded, resized and then written to the cache.
void loadRow(const std::string& path, int side, Interpolation interpolation, const ImageCache* cache, uint8_t* dst) {
  const auto bytes = readCheckedBytes(path);
  std::string key;
  if (cache) {
    key = cache->key(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (cache->read(key, dst)) return;
  }
  copyToChw(resizeTo(decodeRgb(bytes, path), side, interpolation), dst);
  if (cache) cache->write(key, dst);
}

/// The rows of `all` whose error is empty, with their paths; the others are skipped and
/// logged here, in order, not from the workers.
ImageBatch readableRows(const torch::Tensor& all, const std::vector<std::string>& paths,
                        const std::vector<std::string>& errors) {
  const size_t n = paths.size();
  ImageBatch batch;
  std::vector<int64_t> keep;
  std::vector<std::string> warnings;
  for (size_t i = 0; i < n; ++i) {
    if (errors[i].empty()) {
      keep.push_back(static_cast<int64_t>(i));
      batch.paths.push_back(paths[i]);
    } else {
      warnings.push_back("skipping unreadable image: " + errors[i]);
      batch.skipped.push_back(paths[i]);
    }
  }
  logFirst(spdlog::level::warn, warnings, kWarnedImages, "unreadable images skipped",
           " (`shiftad check-data ROOT` lists every one)");
  // An empty selection is explicit: no tensor op on an empty index runs.
  if (keep.empty())
    batch.images = torch::empty({0, 3, all.size(2), all.size(3)}, torch::kUInt8);
  else
    batch.images = keep.size() == n ? all : all.index_select(0, torch::tensor(keep, torch::kInt64));
  return batch;
}

}  // namespace

torch::Tensor readImage(const std::string& path) {
  const cv::Mat rgb = decodeRgb(readCheckedBytes(path), path);
  torch::Tensor out = torch::empty({3, rgb.rows, rgb.cols}, torch::kUInt8);
  copyToChw(rgb, out.data_ptr<uint8_t>());
  return out;
}

std::vector<unsigned char> readDecodableBytes(const std::string& path) {
  auto bytes = readCheckedBytes(path);
  decodeRgb(bytes, path);
  return bytes;
}

torch::Tensor resizeRgb(const uint8_t* rgb, int width, int height, size_t stride, int side,
                        Interpolation interpolation) {
  SHIFTAD_CHECK(rgb != nullptr && width > 0 && height > 0, "an image in memory of {}x{} pixels{}: expected pixels",
                width, height, rgb ? "" : " and no pixel buffer");
  SHIFTAD_CHECK(width <= kMaxSide && height <= kMaxSide && int64_t{width} * height <= kMaxPixels,
                "an image in memory of {}x{} pixels is above the limit ({} per side, {} in all)", width, height,
                kMaxSide, kMaxPixels);
  const size_t row = stride == 0 ? size_t{3} * static_cast<size_t>(width) : stride;
  SHIFTAD_CHECK(row >= size_t{3} * static_cast<size_t>(width),
                "an image in memory of width {} has rows of {} bytes; RGB needs at least {}", width, row, 3 * width);
  // A negative stride cast to size_t (bottom-up rows) is huge: the rows would run past
  // the end of memory, wrapping round to bytes before the buffer.
  const size_t rows_before_last = static_cast<size_t>(height - 1);
  const size_t last_row = size_t{3} * static_cast<size_t>(width);
  SHIFTAD_CHECK(
      rows_before_last == 0 || (row <= (SIZE_MAX - last_row) / rows_before_last &&
                                reinterpret_cast<uintptr_t>(rgb) <= UINTPTR_MAX - (row * rows_before_last + last_row)),
      "an image in memory of {} rows of {} bytes runs past the end of the address space (a negative "
      "stride? rows must go top-down, the stride positive)",
      height, row);
  SHIFTAD_CHECK(side > 0, "resizeRgb: side = {} must be positive", side);
  // The same resize and layout as a decoded file (loadImages), on the caller's pixels.
  const cv::Mat pixels(height, width, CV_8UC3, const_cast<uint8_t*>(rgb), row);
  torch::Tensor out = torch::empty({3, side, side}, torch::kUInt8);
  copyToChw(resizeTo(pixels, side, interpolation), out.data_ptr<uint8_t>());
  return out;
}

ImageBatch loadImages(const std::vector<std::string>& paths, int side, int threads, Interpolation interpolation,
                      const ImageCache* cache) {
  SHIFTAD_CHECK(side > 0, "loadImages: side = {} must be positive", side);
  SHIFTAD_CHECK(!cache || !cache->enabled() || cache->side() == side,
                "loadImages: the image cache holds side {}, not {}", cache ? cache->side() : 0, side);
  const ImageCache* used_cache = cache && cache->enabled() ? cache : nullptr;
  const size_t n = paths.size();
  // Rows are written in place by the workers; unreadable rows are dropped afterwards.
  torch::Tensor all = torch::empty({static_cast<int64_t>(n), 3, side, side}, torch::kUInt8);
  uint8_t* base = all.data_ptr<uint8_t>();
  const size_t row = static_cast<size_t>(3) * side * side;
  std::vector<std::string> errors(n);
  Progress progress("decoding images", static_cast<int64_t>(n));
  parallelFor(n, threads, [&](size_t i) {
    try {
      loadRow(paths[i], side, interpolation, used_cache, base + i * row);
    } catch (const std::exception& e) {
      errors[i] = e.what();
      if (errors[i].empty()) errors[i] = paths[i];
    } catch (...) {
      errors[i] = paths[i];
    }
    progress.advance();
  });
  progress.finish();
  return readableRows(all, paths, errors);
}

int64_t centerCropStart(int64_t side, int64_t size) {
  // Python's round() (half to even) of (side - size) / 2, as torchvision's center_crop.
  const int64_t d = side - size, k = d / 2;
  return (d % 2 == 0 || k % 2 == 0) ? k : k + 1;
}

torch::Tensor centerCrop(const torch::Tensor& images, int size) {
  checkBatch(images, "centerCrop");
  const int64_t H = images.size(2), W = images.size(3);
  SHIFTAD_CHECK(size > 0 && size <= H && size <= W, "centerCrop: crop size {} does not fit images of {}x{}", size, H,
                W);
  const int64_t top = centerCropStart(H, size), left = centerCropStart(W, size);
  return images.slice(2, top, top + size).slice(3, left, left + size).contiguous();
}

torch::Tensor randomResizedCrop(const torch::Tensor& images, int size, double scale_min, bool hflip,
                                torch::Generator& gen) {
  checkBatch(images, "randomResizedCrop");
  SHIFTAD_CHECK(images.scalar_type() == torch::kUInt8, "randomResizedCrop: expected uint8 images");
  SHIFTAD_CHECK(size > 0, "randomResizedCrop: size = {} must be positive", size);
  SHIFTAD_CHECK(scale_min > 0.0 && scale_min <= 1.0, "data.crop_scale_min = {} is outside (0, 1]", scale_min);
  const int64_t N = images.size(0), H = images.size(2), W = images.size(3);
  // All randomness drawn at once from `gen`: 10 area + 10 ratio tries, top, left, flip.
  const torch::Tensor u = torch::rand({N, 23}, gen, torch::kFloat64).contiguous();
  const double* up = u.data_ptr<double>();
  const torch::Tensor x = images.to(torch::kFloat32).div_(255.0);
  torch::Tensor out = torch::empty({N, 3, size, size}, torch::kFloat32);
  namespace F = torch::nn::functional;
  const auto opts =
      F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kBilinear).align_corners(false);
  for (int64_t n = 0; n < N; ++n) {
    const double* un = up + n * 23;
    const CropBox b = sampleCrop(H, W, scale_min, un);
    torch::Tensor crop = x[n].slice(1, b.top, b.top + b.height).slice(2, b.left, b.left + b.width).unsqueeze(0);
    torch::Tensor r = F::interpolate(crop, opts)[0];
    if (hflip && un[22] < 0.5) r = r.flip({2});
    out[n].copy_(r);
  }
  return out.clamp_(0.0, 1.0);
}

torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std) {
  SHIFTAD_CHECK(images.dim() >= 3 && images.size(-3) == 3, "normalize: expected (N x) 3 x H x W images, got shape {}",
                fmt::format("{}", fmt::join(images.sizes(), "x")));
  SHIFTAD_CHECK(mean.size() == 3 && std.size() == 3, "data.mean / data.std need 3 values (R, G, B), got {} and {}",
                mean.size(), std.size());
  for (double s : std) SHIFTAD_CHECK(s > 0.0, "data.std has a non-positive entry {}; every std must be > 0", s);
  const torch::Tensor x =
      images.scalar_type() == torch::kUInt8 ? images.to(torch::kFloat32).div_(255.0) : images.to(torch::kFloat32);
  const auto m = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  const auto s = torch::tensor(std, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  return (x - m) / s;
}

}  // namespace shiftad::data
