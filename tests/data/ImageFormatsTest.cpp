// Decoding of every pixel format a data set may hold (docs/reliability.md), against
// PIL (tests/oracle/data_image_formats.py): grayscale, gray+alpha, palette with and
// without transparency, RGBA, 16-bit, CMYK and grayscale JPEG.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>
#include <zlib.h>

#include "common/Error.h"
#include "data/ImageTensors.h"
#include "support/Process.h"
#include "support/TestSupport.h"

using shiftad::test::TempDir;

TEST(ImageFormats, EveryFormatLoadsAsPilsRgb) {
  TempDir tmp;
  const auto cases = nlohmann::json::parse(shiftad::test::runPython("data_image_formats.py", tmp.path()));
  ASSERT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    const std::string image = c["image"];
    SCOPED_TRACE(image);
    const int64_t h = c["h"], w = c["w"];
    std::ifstream f(c["expected"].get<std::string>(), std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_EQ(static_cast<int64_t>(raw.size()), h * w * 3);
    const auto expected = torch::from_blob(const_cast<char*>(raw.data()), {h, w, 3}, torch::kUInt8).permute({2, 0, 1});
    const auto got = shiftad::data::readImage(image);
    ASSERT_EQ(got.sizes(), expected.sizes());
    const int64_t diff = (got.to(torch::kInt) - expected.to(torch::kInt)).abs().max().item<int64_t>();
    EXPECT_LE(diff, c["tol"].get<int64_t>());
  }
}

TEST(ImageFormats, ATruncatedJpegIsRefusedNotFilledWithGray) {
  // libjpeg decodes a cut JPEG, filling the missing rows with gray; PIL refuses it,
  // and so does the loader (training would otherwise learn from half-gray images).
  TempDir tmp;
  const auto cases = nlohmann::json::parse(shiftad::test::runPython("data_image_formats.py", tmp.path()));
  for (const auto& c : cases) {
    const std::string image = c["image"];
    if (image.size() < 4 || image.substr(image.size() - 4) != ".jpg") continue;
    std::ifstream f(image, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto cut = tmp / "cut.jpg";
    shiftad::test::writeFile(cut, bytes.substr(0, bytes.size() * 2 / 3));
    try {
      shiftad::data::readImage(cut);
      ADD_FAILURE() << "a truncated copy of " << image << " was decoded";
    } catch (const shiftad::Error& e) {
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
    }
  }
}

TEST(ImageFormats, ACutJpegWithAnExifThumbnailIsSkippedNotScoredWithGrayRows) {
  // The thumbnail in APP1 is a whole JPEG (its own scan and end marker): a cut copy of a
  // camera's file must be skipped by its main image's missing end marker, as PIL
  // refuses it, and the whole file scored (its pixels PIL's, EveryFormatLoadsAsPilsRgb).
  TempDir tmp;
  shiftad::test::runPython("data_image_formats.py", tmp.path());
  const auto whole = tmp / "exif_thumb.jpg";
  std::ifstream f(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto cut = tmp / "exif_thumb_cut.jpg";
  shiftad::test::writeFile(cut, bytes.substr(0, bytes.size() * 2 / 3));
  const auto batch = shiftad::data::loadImages({whole, cut}, 16, 1);
  EXPECT_EQ(batch.paths, std::vector<std::string>{whole});
  EXPECT_EQ(batch.skipped, std::vector<std::string>{cut});
  EXPECT_EQ(batch.images.size(0), 1);
}

// ---- JPEG through libjpeg with its warnings caught (data/JpegDecode.h) ----
namespace {

/// A 96 x 128 BGR image with edges and noise, so every block has coefficients to lose.
cv::Mat texture() {
  cv::Mat m(96, 128, CV_8UC3);
  cv::RNG rng(7);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(2 * x + rng.uniform(-20, 20)),
                                        cv::saturate_cast<uchar>(2 * y + rng.uniform(-20, 20)),
                                        cv::saturate_cast<uchar>(x + y + rng.uniform(-20, 20)));
  return m;
}

std::string encodeJpeg(const cv::Mat& m, const std::vector<int>& params) {
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(".jpg", m, out, params));
  return std::string(out.begin(), out.end());
}

/// OpenCV's own decode of a JPEG's bytes, as a 3 x H x W RGB tensor: the oracle.
torch::Tensor opencvRgb(const std::string& jpeg) {
  const cv::Mat buffer(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data()));
  cv::Mat rgb = cv::imdecode(buffer, cv::IMREAD_COLOR);
  cv::cvtColor(rgb, rgb, cv::COLOR_BGR2RGB);
  return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).permute({2, 0, 1}).clone();
}

/// Offset of the first segment with `marker` (e.g. 0xC0, SOF0), walking the segments.
size_t segment(const std::string& jpeg, unsigned char marker) {
  size_t pos = 2;
  while (pos + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[pos]) == 0xFF) {
    if (static_cast<unsigned char>(jpeg[pos + 1]) == marker) return pos;
    pos += 2 + ((static_cast<unsigned char>(jpeg[pos + 2]) << 8) | static_cast<unsigned char>(jpeg[pos + 3]));
  }
  ADD_FAILURE() << "no segment FF " << std::hex << int{marker};
  return 0;
}

/// What the process writes to its stderr (file descriptor 2) while `fn` runs.
template <class Fn>
std::string stderrOf(Fn&& fn) {
  std::fflush(stderr);
  char name[] = "/tmp/shiftad_stderr_XXXXXX";
  const int file = ::mkstemp(name);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  try {
    fn();
  } catch (...) {
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  const std::string text = shiftad::test::readText(name);
  ::unlink(name);
  return text;
}

}  // namespace

TEST(ImageFormats, JpegPixelsAreOpenCvsInEveryCodingMode) {
  TempDir tmp;
  const cv::Mat m = texture();
  const std::vector<std::pair<std::string, std::vector<int>>> modes = {
      {"baseline.jpg", {cv::IMWRITE_JPEG_QUALITY, 90}},
      {"progressive.jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
      {"optimized.jpg", {cv::IMWRITE_JPEG_OPTIMIZE, 1, cv::IMWRITE_JPEG_QUALITY, 60}},
      {"restarts.jpg", {cv::IMWRITE_JPEG_RST_INTERVAL, 1}},
      {"chroma.jpg", {cv::IMWRITE_JPEG_LUMA_QUALITY, 95, cv::IMWRITE_JPEG_CHROMA_QUALITY, 20}}};
  for (const auto& [name, params] : modes) {
    SCOPED_TRACE(name);
    const auto jpeg = encodeJpeg(m, params);
    shiftad::test::writeFile(tmp / name, jpeg);
    EXPECT_TRUE(torch::equal(shiftad::data::readImage(tmp / name), opencvRgb(jpeg)));
  }
  cv::Mat gray;
  cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY);
  const auto jpeg = encodeJpeg(gray, {});
  shiftad::test::writeFile(tmp / "gray.jpg", jpeg);
  EXPECT_TRUE(torch::equal(shiftad::data::readImage(tmp / "gray.jpg"), opencvRgb(jpeg)));
}

TEST(ImageFormats, AJpegMissingPartOfItsScanIsRefusedInLibjpegsWordsNotFilledWithGray) {
  // The end marker is there, so the file passes the check for a cut file; libjpeg
  // meets it before the scan's last block and fills the rest with grey.
  TempDir tmp;
  const auto base = encodeJpeg(texture(), {cv::IMWRITE_JPEG_QUALITY, 90});
  const size_t sos = segment(base, 0xDA);
  shiftad::test::writeFile(tmp / "cut_scan.jpg", base.substr(0, sos + 40) + "\xFF\xD9");
  // A frame header that declares more pixels than the scan holds (800 x 800).
  std::string bigger = base;
  const size_t sof = segment(base, 0xC0);
  bigger.replace(sof + 5, 4, std::string("\x03\x20\x03\x20", 4));
  shiftad::test::writeFile(tmp / "bigger_frame.jpg", bigger);
  shiftad::test::writeFile(tmp / "whole.jpg", base);
  for (const std::string name : {"cut_scan.jpg", "bigger_frame.jpg"}) {
    SCOPED_TRACE(name);
    std::string error;
    const auto printed =
        stderrOf([&] { error = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / name); }); });
    EXPECT_NE(error.find(tmp / name), std::string::npos) << error;
    EXPECT_NE(error.find("damaged JPEG data"), std::string::npos) << error;
    EXPECT_NE(error.find("Corrupt JPEG data: premature end of data segment"), std::string::npos) << error;
    EXPECT_EQ(printed, "") << "libjpeg's own line, naming no file";
  }
  const auto batch = shiftad::data::loadImages({tmp / "whole.jpg", tmp / "cut_scan.jpg"}, 16, 1);
  EXPECT_EQ(batch.paths, std::vector<std::string>{tmp / "whole.jpg"});
  EXPECT_EQ(batch.skipped, std::vector<std::string>{tmp / "cut_scan.jpg"});
}

TEST(ImageFormats, CmykJpegPixelsAreOpenCvsWithoutItsExifTurn) {
  // The oracle's CMYK JPEGs (PIL, Adobe's inverted CMYK), one carrying EXIF orientation 6:
  // exactly the pixels of OpenCV's IMREAD_UNCHANGED, which ignores the tag.
  TempDir tmp;
  shiftad::test::runPython("data_image_formats.py", tmp.path());
  for (const char* name : {"cmyk.jpg", "cmyk_orient6.jpg"}) {
    SCOPED_TRACE(name);
    const cv::Mat bgr = cv::imread(tmp / name, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(bgr.channels(), 3);
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const auto expected = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).permute({2, 0, 1});
    std::string printed;
    torch::Tensor got;
    printed = stderrOf([&] { got = shiftad::data::readImage(tmp / name); });
    ASSERT_TRUE(got.defined());
    EXPECT_TRUE(torch::equal(got, expected));
    EXPECT_EQ(printed, "");
  }
}

TEST(ImageFormats, AJpegWithAHoleOfZerosInItsScanIsRefused) {
  // libjpeg's only sign is often "N extraneous bytes before marker 0xd9": the Huffman
  // decoder lost step in the zeros, ran through its blocks on them and skipped the rest
  // of the scan. A 320 x 240 image of sinusoids and noise, holes of 256 zero bytes.
  cv::Mat m(240, 320, CV_8UC3);
  cv::RNG rng(3);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      for (int c = 0; c < 3; ++c)
        m.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uchar>(std::sin(x / 9.0 + c) * 100 + std::cos(y / 13.0 - c) * 90 +
                                                            128 + rng.uniform(-30, 30));
  TempDir tmp;
  const auto base = encodeJpeg(m, {cv::IMWRITE_JPEG_QUALITY, 90});
  int stray_bytes = 0;
  for (int i = 1; i <= 6; ++i) {
    const size_t at = base.size() * static_cast<size_t>(i) / 8;
    std::string holed = base;
    holed.replace(at, 256, std::string(256, '\0'));
    shiftad::test::writeFile(tmp / "hole.jpg", holed);
    const auto e = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "hole.jpg"); });
    EXPECT_NE(e.find("damaged JPEG data"), std::string::npos) << "a hole at byte " << at << ": " << e;
    stray_bytes += e.find("extraneous bytes before marker") != std::string::npos;
  }
  EXPECT_GT(stray_bytes, 0) << "no hole gave the warning this test is about";
  // A few stray bytes before the end marker (some cameras write them) leave the image whole.
  shiftad::test::writeFile(tmp / "padded.jpg", base.substr(0, base.size() - 2) + "\x12\x34\x56\xFF\xD9");
  EXPECT_TRUE(torch::equal(shiftad::data::readImage(tmp / "padded.jpg"), opencvRgb(base)));
}

TEST(ImageFormats, AJpegOfMoreThan500ScansIsRefusedBeforeItHoldsTheDecode) {
  // A progressive 32 x 24 grey image: one DC scan, then the same AC scan (every block an
  // end-of-band run) 600 times. 10,000 such scans of 4096 x 4096 took 30 s to decode.
  const auto segment = [](int marker, const std::string& data) {
    const size_t n = data.size() + 2;
    return std::string{'\xFF', static_cast<char>(marker), static_cast<char>(n >> 8), static_cast<char>(n & 0xFF)} +
           data;
  };
  const auto bytes = [](std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += static_cast<char>(c);
    return s;
  };
  std::string jpeg = bytes({0xFF, 0xD8}) + segment(0xDB, bytes({0}) + std::string(64, '\x01')) +
                     segment(0xC2, bytes({8, 0, 24, 0, 32, 1, 1, 0x11, 0})) +
                     segment(0xC4, bytes({0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00})) +
                     segment(0xC4, bytes({0x10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xE0, 0x30}));
  // DC: 12 blocks, each the 1-bit code of a zero difference; AC 1..63: one run of 12
  // end-of-bands (code 10 for EOBRUN 3, then 12 - 8 in three bits: 10100, padded with 1s).
  jpeg += segment(0xDA, bytes({1, 1, 0x00, 0, 0, 0})) + bytes({0x00, 0x0F});
  for (int scan = 0; scan < 600; ++scan) jpeg += segment(0xDA, bytes({1, 1, 0x00, 1, 63, 0})) + bytes({0xA7});
  jpeg += bytes({0xFF, 0xD9});
  TempDir tmp;
  shiftad::test::writeFile(tmp / "scans.jpg", jpeg);
  const auto e = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "scans.jpg"); });
  EXPECT_NE(e.find("cannot be decoded: more than 500 scans (a progressive JPEG has about 10): a malformed or hostile "
                   "file; re-export it"),
            std::string::npos)
      << e;
  // The same file with 400 scans is an image (its header and data are sound).
  std::string fewer = jpeg.substr(0, jpeg.size() - 2 - 200 * 11) + bytes({0xFF, 0xD9});  // 11 bytes a scan
  shiftad::test::writeFile(tmp / "fewer.jpg", fewer);
  EXPECT_EQ(shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "fewer.jpg"); }), "");
}

TEST(ImageFormats, AJpegWithExtraBytesBetweenItsSegmentsIsReadWholeAndSilently) {
  // libjpeg warns ("3 extraneous bytes before marker 0xc0"), but no pixel is lost:
  // the image is the clean file's, and nothing reaches stderr.
  TempDir tmp;
  const auto base = encodeJpeg(texture(), {cv::IMWRITE_JPEG_QUALITY, 90});
  const size_t sof = segment(base, 0xC0);
  shiftad::test::writeFile(tmp / "extra.jpg", base.substr(0, sof) + "\x12\x34\x56" + base.substr(sof));
  torch::Tensor got;
  const auto printed = stderrOf([&] { got = shiftad::data::readImage(tmp / "extra.jpg"); });
  ASSERT_TRUE(got.defined());
  EXPECT_TRUE(torch::equal(got, opencvRgb(base)));
  EXPECT_EQ(printed, "");
}

TEST(ImageFormats, TwelveBitLosslessAndDnlJpegsAreNamedWithARemedy) {
  // Industrial and medical cameras write these; "cannot be decoded (corrupt?)" sent the
  // user looking for damage.
  TempDir tmp;
  const auto base = encodeJpeg(texture(), {});
  const size_t sof = segment(base, 0xC0);
  std::string twelve = base, lossless = base;
  twelve[sof + 4] = 12;  // sample precision
  lossless[sof + 1] = static_cast<char>(0xC3);
  shiftad::test::writeFile(tmp / "twelve.jpg", twelve);
  shiftad::test::writeFile(tmp / "lossless.jpg", lossless);
  const auto e12 = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "twelve.jpg"); });
  EXPECT_NE(e12.find("Unsupported JPEG data precision 12"), std::string::npos) << e12;
  EXPECT_NE(e12.find("convert it to a 16-bit PNG"), std::string::npos) << e12;
  const auto e3 = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "lossless.jpg"); });
  EXPECT_NE(e3.find("SOF type 0xc3"), std::string::npos) << e3;
  EXPECT_NE(e3.find("convert it to PNG"), std::string::npos) << e3;
  // Height 0 in the frame header, the lines given by a DNL segment after the scan: OpenCV's
  // libjpeg refuses it too, so it is named, not called empty.
  std::string dnl = base;
  const auto height = std::string{dnl[sof + 5], dnl[sof + 6]};
  dnl[sof + 5] = dnl[sof + 6] = 0;
  dnl.insert(dnl.size() - 2, std::string("\xFF\xDC\x00\x04", 4) + height);
  shiftad::test::writeFile(tmp / "dnl.jpg", dnl);
  EXPECT_TRUE(cv::imdecode(std::vector<unsigned char>(dnl.begin(), dnl.end()), cv::IMREAD_COLOR).empty());
  const auto ednl = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "dnl.jpg"); });
  EXPECT_NE(ednl.find("in a DNL marker"), std::string::npos) << ednl;
  EXPECT_NE(ednl.find("convert it to an ordinary JPEG or a PNG"), std::string::npos) << ednl;
}

// ---- PNG through libpng with its messages caught (data/PngDecode.h) ----
namespace {

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// A PNG chunk: length, type, data and its CRC-32 (zlib's), flipped when `bad_crc`.
std::string chunk(const std::string& type, const std::string& data, bool bad_crc = false) {
  const std::string body = type + data;
  uint32_t crc = static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()));
  return be32(static_cast<uint32_t>(data.size())) + body + be32(bad_crc ? crc ^ 1u : crc);
}

std::string deflate(const std::string& raw) {
  uLongf n = ::compressBound(raw.size());
  std::string out(n, '\0');
  EXPECT_EQ(
      ::compress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(raw.data()), raw.size()),
      Z_OK);
  out.resize(n);
  return out;
}

/// An 8-bit RGB PNG of `w` x `h` pixels (value (x * 7 + y * 3 + c) % 256) with `extra`
/// chunks before its image data; `rows` image rows are compressed (fewer: the data
/// ends early, every chunk whole).
std::string rgbPng(int w, int h, const std::string& extra = "", int rows = -1) {
  std::string raw;
  for (int y = 0; y < (rows < 0 ? h : rows); ++y) {
    raw += '\0';  // filter type: none
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) raw += static_cast<char>((x * 7 + y * 3 + c) % 256);
  }
  const std::string ihdr = be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra + chunk("IDAT", deflate(raw)) +
         chunk("IEND", "");
}

}  // namespace

TEST(ImageFormats, APngWithABadAncillaryChunkIsReadWholeAndNothingReachesStderr) {
  // libpng skips a malformed iCCP (colour profile) or a text chunk whose CRC fails, and
  // warns; under OpenCV the warning went to stderr for every such image, naming none.
  TempDir tmp;
  const auto clean = rgbPng(17, 13);
  shiftad::test::writeFile(tmp / "clean.png", clean);
  shiftad::test::writeFile(tmp / "short_iccp.png",
                           rgbPng(17, 13, chunk("iCCP", std::string("icc\0\0", 5) + deflate(std::string(200, '\0')))));
  shiftad::test::writeFile(tmp / "bad_text_crc.png",
                           rgbPng(17, 13, chunk("tEXt", std::string("Comment\0hi", 10), true)));
  const cv::Mat buffer(1, static_cast<int>(clean.size()), CV_8UC1, const_cast<char*>(clean.data()));
  cv::Mat expected = cv::imdecode(buffer, cv::IMREAD_COLOR);
  cv::cvtColor(expected, expected, cv::COLOR_BGR2RGB);
  const auto oracle = torch::from_blob(expected.data, {13, 17, 3}, torch::kUInt8).permute({2, 0, 1});
  for (const std::string name : {"short_iccp.png", "bad_text_crc.png"}) {
    SCOPED_TRACE(name);
    torch::Tensor got;
    const auto printed = stderrOf([&] { got = shiftad::data::readImage(tmp / name); });
    ASSERT_TRUE(got.defined());
    EXPECT_TRUE(torch::equal(got, oracle));
    EXPECT_EQ(printed, "");
  }
}

TEST(ImageFormats, APngWhoseImageDataEndsEarlyIsRefusedInLibpngsWordsNamingIt) {
  // Every chunk whole and its CRC right (the file checks pass), but the compressed
  // data holds 5 of the 13 rows.
  TempDir tmp;
  shiftad::test::writeFile(tmp / "short_data.png", rgbPng(17, 13, "", 5));
  std::string error;
  const auto printed =
      stderrOf([&] { error = shiftad::test::errorOf([&] { shiftad::data::readImage(tmp / "short_data.png"); }); });
  EXPECT_NE(error.find(tmp / "short_data.png"), std::string::npos) << error;
  EXPECT_NE(error.find("libpng: Not enough image data"), std::string::npos) << error;
  EXPECT_EQ(printed, "") << "libpng's own line, naming no file";
}
