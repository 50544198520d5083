#include "data/JpegDecode.h"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE declared first
#include <cstring>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: its message list depends on jconfig.h
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "common/Log.h"

namespace shiftad::data {
namespace {

// libjpeg reports failures by calling error_exit, which must not return; the documented
// way out is longjmp to a setjmp in the caller (example.c). Every call into libjpeg
// therefore runs inside guarded(), whose frame and the libjpeg frames it skips hold no
// C++ object with a destructor; libjpeg's own memory is released by
// jpeg_destroy_decompress in ~Decompressor.
struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg reaches the rest through cinfo->err
  std::jmp_buf jump;
  int fatal_code = 0;
  char fatal[JMSG_LENGTH_MAX] = "";   // error_exit's message
  char damage[JMSG_LENGTH_MAX] = "";  // the warning that meant lost data
  char notice[JMSG_LENGTH_MAX] = "";  // the first harmless warning
};

// Warnings after which pixels are missing or wrong: libjpeg went on with grey or
// guessed blocks. The others (extraneous bytes before a marker, an unknown Adobe
// transform or JFIF version, a bad ICC profile, an odd progression) leave the image whole.
bool losesData(int code) {
  return code == JWRN_HIT_MARKER || code == JWRN_JPEG_EOF || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC;
}

enum Outcome : int { kDone = 0, kFatal = 1, kDamaged = 2 };

[[noreturn]] void onError(j_common_ptr info) {
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  err->fatal_code = info->err->msg_code;
  (*info->err->format_message)(info, err->fatal);
  std::longjmp(err->jump, kFatal);
}

// emit_message: level -1 is a warning, 0 and up are trace messages (ignored). A
// warning that loses data stops the decode at once (the image is refused anyway).
void onMessage(j_common_ptr info, int level) {
  if (level >= 0) return;
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  if (losesData(info->err->msg_code)) {
    (*info->err->format_message)(info, err->damage);
    std::longjmp(err->jump, kDamaged);
  }
  if (err->notice[0] == '\0') (*info->err->format_message)(info, err->notice);
}

struct Decompressor {
  jpeg_decompress_struct info{};
  ErrorManager err{};
  bool created = false;

  Decompressor() {
    info.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = onError;
    err.pub.emit_message = onMessage;
  }
  ~Decompressor() {
    if (created) jpeg_destroy_decompress(&info);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
};

// Runs `step` under libjpeg's error handling; its Outcome. `step` must hold no object
// with a destructor (a longjmp may leave it).
template <class Step>
int guarded(Decompressor& d, Step&& step) {
  const int jumped = setjmp(d.err.jump);
  if (jumped != 0) return jumped;
  step(d.info);
  return kDone;
}

void throwIfFailed(const Decompressor& d, int outcome, const std::string& path) {
  if (outcome == kDamaged)
    SHIFTAD_THROW(
        "image '{}' cannot be used: damaged JPEG data (libjpeg: \"{}\": part of the image is missing); "
        "re-export or remove it",
        path, d.err.damage);
  if (outcome != kFatal) return;
  const int code = d.err.fatal_code;
  const char* remedy = code == JERR_BAD_PRECISION ? "only 8-bit JPEG is read: convert it to a 16-bit PNG"
                       : code == JERR_SOF_UNSUPPORTED
                           ? "lossless, hierarchical and other rare JPEG processes are not read: convert it to PNG"
                           : "truncated, corrupt or not an image";
  SHIFTAD_THROW("image '{}' cannot be decoded: libjpeg: {} ({})", path, d.err.fatal, remedy);
}

/// Reads every scan's coefficients (all of the entropy-coded data) without producing
/// pixels: the damage check of a JPEG whose pixels OpenCV converts.
int readAllData(Decompressor& d) {
  return guarded(d, [](jpeg_decompress_struct& info) {
    jpeg_read_coefficients(&info);
    jpeg_finish_decompress(&info);
  });
}

int readRows(Decompressor& d, cv::Mat& out) {
  std::vector<JSAMPROW> rows(static_cast<size_t>(out.rows));
  for (int r = 0; r < out.rows; ++r) rows[static_cast<size_t>(r)] = out.ptr<JSAMPLE>(r);
  JSAMPROW* first = rows.data();
  return guarded(d, [first](jpeg_decompress_struct& info) {
    while (info.output_scanline < info.output_height)
      jpeg_read_scanlines(&info, first + info.output_scanline, info.output_height - info.output_scanline);
    jpeg_finish_decompress(&info);
  });
}

}  // namespace

bool isJpeg(const unsigned char* bytes, size_t size) { return size >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8; }

cv::Mat decodeJpegRgb(const unsigned char* bytes, size_t size, const std::string& path) {
  Decompressor d;
  bool four_components = false;
  int outcome = guarded(d, [&d, bytes, size, &four_components](jpeg_decompress_struct& info) {
    jpeg_create_decompress(&info);
    d.created = true;
    jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    four_components = info.num_components == 4;
    if (four_components) return;
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
  });
  throwIfFailed(d, outcome, path);
  cv::Mat out;
  if (four_components) {
    throwIfFailed(d, readAllData(d), path);
    // OpenCV's CMYK conversion (Adobe's inverted CMYK included) is kept, as before.
    const cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<unsigned char*>(bytes));
    const cv::Mat bgr = cv::imdecode(buffer, cv::IMREAD_COLOR);
    SHIFTAD_CHECK(!bgr.empty(), "image '{}' cannot be decoded: OpenCV does not convert its {} JPEG to RGB", path,
                  d.info.jpeg_color_space == JCS_YCCK ? "YCCK" : "CMYK");
    cv::cvtColor(bgr, out, cv::COLOR_BGR2RGB);
  } else {
    const int channels = d.info.output_components;
    out.create(static_cast<int>(d.info.output_height), static_cast<int>(d.info.output_width), CV_8UC(channels));
    throwIfFailed(d, readRows(d, out), path);
    if (channels == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2RGB);
  }
  if (d.err.notice[0] != '\0')
    log::atFormatted(spdlog::level::debug, "image '{}': libjpeg: \"{}\" (harmless: the image is whole)", path,
                     d.err.notice);
  return out;
}

}  // namespace shiftad::data
