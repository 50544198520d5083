#include "data/PngDecode.h"

#include <csetjmp>
#include <cstring>
#include <vector>

#include <png.h>
#include <opencv2/core.hpp>

#include "common/Error.h"
#include "common/Log.h"

namespace shiftad::data {
namespace {

// libpng's errors longjmp to png_jmpbuf (its documented error handling); the frames it
// leaves hold no C++ object with a destructor (see guarded()), and ~Reader frees
// libpng's structures.
struct Reader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const unsigned char* bytes = nullptr;
  size_t size = 0, pos = 0;
  char error[256] = "";    // png_error's message
  char warning[256] = "";  // the first warning

  ~Reader() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

void copyMessage(char* dst, png_const_charp message) {
  std::strncpy(dst, message ? message : "(no message)", 255);
  dst[255] = '\0';
}

[[noreturn]] void onError(png_structp png, png_const_charp message) {
  copyMessage(static_cast<Reader*>(png_get_error_ptr(png))->error, message);
  png_longjmp(png, 1);
}

void onWarning(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  if (r->warning[0] == '\0') copyMessage(r->warning, message);
}

void readFromMemory(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "the file ends before its image data does");
  std::memcpy(out, r->bytes + r->pos, n);
  r->pos += n;
}

// Runs `step` under libpng's error handling: false when libpng reported an error.
// `step` must hold no object with a destructor (a longjmp may leave it).
template <class Step>
bool guarded(Reader& r, Step&& step) {
  if (setjmp(png_jmpbuf(r.png))) return false;
  step();
  return true;
}

// The transforms OpenCV's PNG decoder applies under IMREAD_UNCHANGED, short of its
// colour conversions: samples as OpenCV would hand them over.
void setTransforms(png_structp png, png_infop info) {
  const int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
  if (depth == 16) png_set_swap(png);  // native (little-endian) 16-bit samples
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (type & PNG_COLOR_MASK_COLOR) png_set_bgr(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

}  // namespace

bool isPng(const unsigned char* bytes, size_t size) {
  return size >= sizeof kPngSignature && std::memcmp(bytes, kPngSignature, sizeof kPngSignature) == 0;
}

cv::Mat decodePng(const unsigned char* bytes, size_t size, const std::string& path) {
  Reader r;
  r.bytes = bytes;
  r.size = size;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, onError, onWarning);
  if (r.png) r.info = png_create_info_struct(r.png);
  SHIFTAD_CHECK(r.png && r.info, "image '{}' cannot be decoded: libpng could not allocate its state", path);
  cv::Mat out;
  const bool header = guarded(r, [&r] {
    png_set_read_fn(r.png, &r, readFromMemory);
    png_read_info(r.png, r.info);
    setTransforms(r.png, r.info);
  });
  if (header) {
    const int depth = png_get_bit_depth(r.png, r.info) == 16 ? CV_16U : CV_8U;
    out.create(static_cast<int>(png_get_image_height(r.png, r.info)),
               static_cast<int>(png_get_image_width(r.png, r.info)),
               CV_MAKETYPE(depth, png_get_channels(r.png, r.info)));
  }
  std::vector<png_bytep> rows(static_cast<size_t>(out.rows));
  for (int y = 0; y < out.rows; ++y) rows[static_cast<size_t>(y)] = out.ptr<png_byte>(y);
  png_bytepp first = rows.data();
  const bool read = header && guarded(r, [&r, first] {
                      png_read_image(r.png, first);
                      png_read_end(r.png, nullptr);
                    });
  SHIFTAD_CHECK(read, "image '{}' cannot be decoded: libpng: {} (truncated or corrupt: re-export it)", path, r.error);
  if (r.warning[0] != '\0')
    log::atFormatted(spdlog::level::debug, "image '{}': libpng: \"{}\" (a chunk it skipped; the image is whole)", path,
                     r.warning);
  return out;
}

}  // namespace shiftad::data
