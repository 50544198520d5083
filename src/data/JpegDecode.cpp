#include "data/JpegDecode.h"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE declared first
#include <cstring>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: its message list depends on jconfig.h
#include <opencv2/core.hpp>
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
  bool header_read = false;  // past jpeg_read_header: stray bytes now mean a desynchronised scan
  int fatal_code = 0;
  char fatal[JMSG_LENGTH_MAX] = "";   // error_exit's message
  char damage[JMSG_LENGTH_MAX] = "";  // the warning that meant lost data
  char notice[JMSG_LENGTH_MAX] = "";  // the first harmless warning
};

// Stray bytes before a marker once the scans are read: libjpeg's usual (often only) sign
// that the entropy-coded data was corrupt (a hole of zeros, bytes inserted or lost), as
// the Huffman decoder lost step and skipped the rest of the segment. A few before the end
// marker occur in intact files of some cameras; corruption left 39 and more in every case
// measured (docs/reliability.md).
constexpr int kStrayBytesOfDamage = 16;

// Warnings after which pixels are missing or wrong: libjpeg went on with grey or
// guessed blocks. The others (stray bytes between header segments, an unknown Adobe
// transform or JFIF version, a bad ICC profile, an odd progression) leave the image whole.
bool losesData(const jpeg_error_mgr& pub, bool header_read) {
  const int code = pub.msg_code;
  if (code == JWRN_EXTRANEOUS_DATA) return header_read && pub.msg_parm.i[0] >= kStrayBytesOfDamage;
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
  if (losesData(*info->err, err->header_read)) {
    (*info->err->format_message)(info, err->damage);
    std::longjmp(err->jump, kDamaged);
  }
  if (err->notice[0] == '\0') (*info->err->format_message)(info, err->notice);
}

// A progressive JPEG has about ten scans; each costs a pass over the whole image, so a
// few hundred kilobytes of repeated scans held a decode for half a minute (10,000 scans
// of 4096 x 4096). libjpeg-turbo's own tools stop at 500 (TurboJPEG, djpeg -maxscans).
constexpr int kMaxScans = 500;
constexpr int kTooManyScans = -1;  // a fatal_code of shiftad's, not one of libjpeg's messages

void onProgress(j_common_ptr info) {
  if (!info->is_decompressor) return;
  const int scans = reinterpret_cast<j_decompress_ptr>(info)->input_scan_number;
  if (scans <= kMaxScans) return;
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  err->fatal_code = kTooManyScans;
  std::snprintf(err->fatal, sizeof err->fatal, "more than %d scans (a progressive JPEG has about 10)", kMaxScans);
  std::longjmp(err->jump, kFatal);
}

struct Decompressor {
  jpeg_decompress_struct info{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};  // the scan limit
  bool created = false;

  Decompressor() {
    info.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = onError;
    err.pub.emit_message = onMessage;
    progress.progress_monitor = onProgress;
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
  SHIFTAD_CHECK(code != kTooManyScans, "image '{}' cannot be decoded: {}: a malformed or hostile file; re-export it",
                path, d.err.fatal);
  SHIFTAD_THROW("image '{}' cannot be decoded: libjpeg: {} ({})", path, d.err.fatal, remedy);
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

// OpenCV's conversion of the CMYK libjpeg hands over (Adobe's inverted CMYK, as
// Photoshop and PIL write it), kept so that pixels do not change: each of R, G, B is
// k - ((255 - ink) * k >> 8) of its ink C, M, Y (imgcodecs' icvCvt_CMYK2BGR_8u_C4C3R).
cv::Mat cmykToRgb(const cv::Mat& cmyk) {
  cv::Mat rgb(cmyk.rows, cmyk.cols, CV_8UC3);
  for (int y = 0; y < cmyk.rows; ++y) {
    const uchar* in = cmyk.ptr<uchar>(y);
    uchar* px = rgb.ptr<uchar>(y);
    for (int x = 0; x < cmyk.cols; ++x, in += 4, px += 3) {
      const int k = in[3];
      for (int c = 0; c < 3; ++c) px[c] = static_cast<uchar>(k - (((255 - in[c]) * k) >> 8));
    }
  }
  return rgb;
}

}  // namespace

bool isJpeg(const unsigned char* bytes, size_t size) { return size >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8; }

cv::Mat decodeJpegRgb(const unsigned char* bytes, size_t size, const std::string& path) {
  Decompressor d;
  const int outcome = guarded(d, [&d, bytes, size](jpeg_decompress_struct& info) {
    jpeg_create_decompress(&info);
    d.created = true;
    info.progress = &d.progress;
    jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    d.err.header_read = true;
    // CMYK and YCCK (libjpeg converts the latter) are turned into RGB below, as OpenCV does.
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : info.num_components == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&info);
  });
  throwIfFailed(d, outcome, path);
  const int channels = d.info.output_components;
  cv::Mat out(static_cast<int>(d.info.output_height), static_cast<int>(d.info.output_width), CV_8UC(channels));
  throwIfFailed(d, readRows(d, out), path);
  if (channels == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2RGB);
  if (channels == 4) out = cmykToRgb(out);
  if (d.err.notice[0] != '\0')
    log::atFormatted(spdlog::level::debug, "image '{}': libjpeg: \"{}\" (harmless: the image is whole)", path,
                     d.err.notice);
  return out;
}

}  // namespace shiftad::data
