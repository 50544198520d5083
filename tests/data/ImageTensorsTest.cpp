// Decoding and transforms, against tiny hand-made images with known pixels.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Hash.h"
#include "data/ImageTensors.h"
#include "support/TestSupport.h"

using namespace shiftad::data;
using shiftad::test::TempDir;
using shiftad::test::writeFile;
namespace fs = std::filesystem;

namespace {

void expectError(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected shiftad::Error";
  } catch (const shiftad::Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n lacks: " << p;
  }
}

std::string write(const TempDir& t, const std::string& name, const cv::Mat& m) {
  const std::string p = t / name;
  EXPECT_TRUE(cv::imwrite(p, m)) << p;
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Pixel (y, x) of a 3 x H x W uint8 tensor as {R, G, B}.
std::vector<int> rgbAt(const torch::Tensor& t, int y, int x) {
  return {t[0][y][x].item<int>(), t[1][y][x].item<int>(), t[2][y][x].item<int>()};
}

// A 2 x 3 BGR image with distinct known pixels.
cv::Mat knownBgr() {
  cv::Mat m(2, 3, CV_8UC3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(10 * x + 1, 50 + y, 200 - 30 * x - y);  // B, G, R
  return m;
}

std::vector<uint8_t> be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

}  // namespace

TEST(ReadImage, ColourPngIsRgbChannelFirst) {
  TempDir t;
  const auto img = readImage(write(t, "c.png", knownBgr()));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 2, 3}));
  EXPECT_EQ(img.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(img.is_contiguous());
  EXPECT_EQ(rgbAt(img, 0, 0), (std::vector<int>{200, 50, 1}));
  EXPECT_EQ(rgbAt(img, 1, 2), (std::vector<int>{139, 51, 21}));
}

TEST(ReadImage, BmpMatchesPng) {
  TempDir t;
  EXPECT_TRUE(torch::equal(readImage(write(t, "c.bmp", knownBgr())), readImage(write(t, "c.png", knownBgr()))));
}

TEST(ReadImage, GrayscaleIsReplicatedToThreeChannels) {
  TempDir t;
  cv::Mat g = (cv::Mat_<uint8_t>(2, 2) << 0, 17, 128, 255);
  const auto img = readImage(write(t, "g.png", g));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(rgbAt(img, 0, 1), (std::vector<int>{17, 17, 17}));
  EXPECT_EQ(rgbAt(img, 1, 1), (std::vector<int>{255, 255, 255}));
}

TEST(ReadImage, AlphaIsDropped) {
  TempDir t;
  cv::Mat m(1, 2, CV_8UC4);
  m.at<cv::Vec4b>(0, 0) = cv::Vec4b(1, 2, 3, 0);  // B, G, R, A: fully transparent
  m.at<cv::Vec4b>(0, 1) = cv::Vec4b(40, 50, 60, 255);
  const auto img = readImage(write(t, "a.png", m));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(rgbAt(img, 0, 0), (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(rgbAt(img, 0, 1), (std::vector<int>{60, 50, 40}));
}

TEST(ReadImage, SixteenBitIsScaledToEightBit) {
  TempDir t;
  cv::Mat g = (cv::Mat_<uint16_t>(1, 3) << 0, 257 * 100, 65535);
  const auto gray = readImage(write(t, "g16.png", g));
  EXPECT_EQ(rgbAt(gray, 0, 1), (std::vector<int>{100, 100, 100}));
  EXPECT_EQ(rgbAt(gray, 0, 2), (std::vector<int>{255, 255, 255}));
  cv::Mat c(1, 1, CV_16UC3, cv::Scalar(257 * 3, 257 * 2, 257 * 1));  // B, G, R
  EXPECT_EQ(rgbAt(readImage(write(t, "c16.png", c)), 0, 0), (std::vector<int>{1, 2, 3}));
}

TEST(ReadImage, JpegDecodesApproximately) {
  TempDir t;
  const auto img = readImage(write(t, "u.jpg", cv::Mat(16, 16, CV_8UC3, cv::Scalar(30, 90, 200))));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 16, 16}));
  const auto px = rgbAt(img, 8, 8);
  EXPECT_NEAR(px[0], 200, 4);
  EXPECT_NEAR(px[1], 90, 4);
  EXPECT_NEAR(px[2], 30, 4);
}

TEST(ReadImage, CorruptTruncatedAndMissingFilesAreErrors) {
  TempDir t;
  std::mt19937 g(1);
  std::string noise(2000, '\0');
  for (char& c : noise) c = static_cast<char>(g());
  writeFile(t / "noise.png", noise);
  expectError([&] { readImage(t / "noise.png"); }, {t / "noise.png", "not a PNG, JPEG or BMP"});
  cv::Mat ramp(64, 64, CV_8UC3);
  cv::randu(ramp, 0, 255);  // incompressible: the truncation cuts into pixel data
  const std::string png = slurp(write(t, "ramp.png", ramp));
  writeFile(t / "trunc.png", png.substr(0, png.size() / 2));
  std::string no_width = png;
  no_width.replace(16, 4, std::string(4, '\0'));  // IHDR's width: 0
  writeFile(t / "zero.png", no_width);
  expectError([&] { readImage(t / "zero.png"); }, {t / "zero.png", "declares 0x64 pixels: it holds no image"});
  expectError([&] { readImage(t / "trunc.png"); }, {t / "trunc.png"});
  expectError([&] { readImage(t / "missing.png"); }, {t / "missing.png"});
  writeFile(t / "empty.png", "");
  expectError([&] { readImage(t / "empty.png"); }, {t / "empty.png", "empty (0 bytes)"});
  // procfs gives size 0 for files that hold text: judged by their content, not "empty".
  expectError([] { readImage("/proc/self/status"); }, {"/proc/self/status", "not a PNG, JPEG or BMP"});
}

TEST(ReadImage, AFolderOrAPipeIsRefusedWithoutOpeningIt) {
  TempDir t;
  fs::create_directories(t / "folder.png");
  expectError([&] { readImage(t / "folder.png"); }, {t / "folder.png", "not a regular file"});
  // Opening a FIFO blocks until a writer comes: it must be refused before that.
  ASSERT_EQ(mkfifo((t / "pipe.png").c_str(), 0600), 0);
  expectError([&] { readImage(t / "pipe.png"); }, {t / "pipe.png", "not a regular file"});
}

TEST(ReadImage, APngOrBmpCutInsideItsHeaderIsNamedCutShortNotAnotherFormat) {
  TempDir t;
  const std::string png = slurp(write(t, "whole.png", knownBgr()));
  const std::string bmp = slurp(write(t, "whole.bmp", knownBgr()));
  for (const auto& [name, bytes, kind] :
       {std::tuple{"cut.png", png.substr(0, 20), "PNG"}, std::tuple{"stub.png", png.substr(0, 5), "PNG"},
        std::tuple{"cut.bmp", bmp.substr(0, 20), "BMP"}}) {
    writeFile(t / name, bytes);
    const auto e = shiftad::test::errorOf([&, name = name] { readImage(t / name); });
    EXPECT_NE(e.find(fmt::format("is a {} cut short: {} bytes", kind, bytes.size())), std::string::npos) << e;
  }
  // Text that happens to start with "BM" and declares no larger size is another format.
  writeFile(t / "notes.bmp", "BM\x05\0\0\0 a note");
  EXPECT_NE(shiftad::test::errorOf([&] { readImage(t / "notes.bmp"); }).find("not a PNG, JPEG or BMP"),
            std::string::npos);
}

TEST(ReadImage, ContentOtherThanPngJpegOrBmpIsRefusedWhateverTheName) {
  // OpenCV decodes a TIFF by its content whatever the name; its header is not read by
  // the size check, so it is refused instead of decoded unchecked.
  TempDir t;
  const std::string tiff = write(t, "x.tiff", knownBgr());
  ASSERT_FALSE(cv::imread(tiff, cv::IMREAD_UNCHANGED).empty()) << "OpenCV cannot decode TIFF here: nothing tested";
  fs::rename(tiff, t / "x.png");
  expectError([&] { readImage(t / "x.png"); }, {t / "x.png", "not a PNG, JPEG or BMP"});
}

TEST(ReadImage, StrayBytesBeforeAJpegFrameHeaderDoNotHideItsSize) {
  TempDir t;
  // libjpeg skips bytes that are not a marker (warning "extraneous bytes"), 0xFF fill
  // bytes and standalone markers (RST0): a real JPEG with all three before its frame
  // header still decodes, at its size.
  const std::string jpg = slurp(write(t, "real.jpg", cv::Mat(24, 40, CV_8UC3, cv::Scalar(20, 120, 220))));
  const size_t sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  writeFile(t / "stray.jpg", jpg.substr(0, sof) + std::string("\x00\x17\xFF\xD0\xFF\xFF", 6) + jpg.substr(sof));
  EXPECT_EQ(readImage(t / "stray.jpg").sizes(), (std::vector<int64_t>{3, 24, 40}));
  // So a frame header after one stray byte declares the size libjpeg would allocate.
  const std::vector<uint8_t> bomb = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0,    0, 0x00, 0xFF, 0xC0, 0, 17,   8,
                                     0x75, 0x30, 0x75, 0x30, 3, 1, 0x11, 0, 2,    0x11, 1,    3, 0x11, 1};
  writeFile(t / "bomb.jpg", std::string(bomb.begin(), bomb.end()));
  expectError([&] { readImage(t / "bomb.jpg"); }, {t / "bomb.jpg", "30000x30000", "limit"});
  // A JPEG whose data starts before any frame header is refused, not decoded unchecked.
  const std::vector<uint8_t> headless = {0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 1, 2, 3, 0xFF, 0xD9};
  writeFile(t / "headless.jpg", std::string(headless.begin(), headless.end()));
  expectError([&] { readImage(t / "headless.jpg"); }, {t / "headless.jpg", "frame header"});
}

TEST(ReadImage, AbsurdDimensionsAreRefusedBeforeDecoding) {
  TempDir t;
  // A PNG signature and IHDR declaring 100000 x 100000 pixels, nothing else.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {100000u, 100000u})
    for (uint8_t b : be32(v)) png.push_back(b);
  for (uint8_t b : {8, 2, 0, 0, 0, 0, 0, 0, 0}) png.push_back(b);
  writeFile(t / "huge.png", std::string(png.begin(), png.end()));
  expectError([&] { readImage(t / "huge.png"); }, {t / "huge.png", "100000x100000", "limit"});
  // A JPEG whose frame header (SOF0) declares 65535 x 65535, after an APP0 segment.
  const std::vector<uint8_t> jpg = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4,    0, 0, 0xFF, 0xC0, 0, 17,   8, 0xFF,
                                    0xFF, 0xFF, 0xFF, 3,    1, 0x11, 0, 2, 0x11, 1,    3, 0x11, 1};
  writeFile(t / "huge.jpg", std::string(jpg.begin(), jpg.end()));
  expectError([&] { readImage(t / "huge.jpg"); }, {t / "huge.jpg", "65535x65535", "limit"});
  // A BMP header declaring 70000 x 3 (one side over the limit).
  std::vector<uint8_t> bmp(54, 0);
  bmp[0] = 'B', bmp[1] = 'M', bmp[14] = 40;
  bmp[18] = 0x70, bmp[19] = 0x11, bmp[20] = 0x01;  // 70000 = 0x011170, little-endian
  bmp[22] = 3;
  writeFile(t / "wide.bmp", std::string(bmp.begin(), bmp.end()));
  expectError([&] { readImage(t / "wide.bmp"); }, {t / "wide.bmp", "70000x3", "limit"});
}

TEST(LoadImages, ResizesSkipsUnreadableAndKeepsOrder) {
  TempDir t;
  const std::string a = write(t, "a.png", cv::Mat(10, 20, CV_8UC3, cv::Scalar(1, 2, 3)));  // BGR
  const std::string b = write(t, "b.png", cv::Mat(3, 2, CV_8UC1, cv::Scalar(77)));         // upscaled
  const std::string c = write(t, "c.bmp", cv::Mat(8, 8, CV_8UC3, cv::Scalar(9, 8, 7)));
  writeFile(t / "bad.png", "not an image");
  const std::vector<std::string> paths = {a, t / "bad.png", b, t / "missing.jpg", c};
  const ImageBatch batch = loadImages(paths, 4, 2);
  EXPECT_EQ(batch.paths, (std::vector<std::string>{a, b, c}));
  EXPECT_EQ(batch.skipped, (std::vector<std::string>{t / "bad.png", t / "missing.jpg"}));
  ASSERT_EQ(batch.images.sizes(), (std::vector<int64_t>{3, 3, 4, 4}));
  EXPECT_EQ(batch.images.scalar_type(), torch::kUInt8);
  // Constant images stay constant under any interpolation.
  const auto expect_const = [&](int64_t i, std::vector<int> rgb) {
    for (int ch = 0; ch < 3; ++ch) EXPECT_TRUE((batch.images[i][ch] == rgb[ch]).all().item<bool>()) << i << "," << ch;
  };
  expect_const(0, {3, 2, 1});
  expect_const(1, {77, 77, 77});
  expect_const(2, {7, 8, 9});
}

TEST(LoadImages, ShrinkingAveragesAreasAndThreadCountDoesNotMatter) {
  TempDir t;
  cv::Mat m(8, 8, CV_8UC1);
  cv::randu(m, 0, 256);
  const std::string p = write(t, "r.png", m);
  std::vector<std::string> paths(7, p);
  const ImageBatch one = loadImages(paths, 4, 1);
  for (int threads : {0, 3, 16}) EXPECT_TRUE(torch::equal(one.images, loadImages(paths, 4, threads).images));
  // INTER_AREA by an integer factor 2: each output pixel is its 2x2 block's mean.
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      const double mean = (m.at<uint8_t>(2 * y, 2 * x) + m.at<uint8_t>(2 * y + 1, 2 * x) +
                           m.at<uint8_t>(2 * y, 2 * x + 1) + m.at<uint8_t>(2 * y + 1, 2 * x + 1)) /
                          4.0;
      EXPECT_NEAR(one.images[0][1][y][x].item<int>(), mean, 0.5 + 1e-9) << y << "," << x;
    }
}

TEST(LoadImages, BicubicIsOpenCvsCubicFilter) {
  TempDir t;
  cv::Mat m(8, 8, CV_8UC3);
  cv::randu(m, 0, 256);
  const std::string p = write(t, "r.png", m);
  for (int side : {4, 13}) {  // shrink and grow: cubic both ways (bilinear shrinks by area)
    cv::Mat expected;
    cv::resize(m, expected, cv::Size(side, side), 0, 0, cv::INTER_CUBIC);
    cv::cvtColor(expected, expected, cv::COLOR_BGR2RGB);
    const auto got = loadImages({p}, side, 1, Interpolation::kBicubic).images[0].permute({1, 2, 0}).contiguous();
    const auto want = torch::from_blob(expected.data, {side, side, 3}, torch::kUInt8);
    EXPECT_TRUE(torch::equal(got, want)) << side;
    EXPECT_FALSE(
        torch::equal(loadImages({p}, side, 1).images, loadImages({p}, side, 1, Interpolation::kBicubic).images));
  }
}

TEST(LoadImages, AllUnreadableGivesAnEmptyBatch) {
  TempDir t;
  const ImageBatch batch = loadImages({t / "x.png"}, 5);
  EXPECT_EQ(batch.images.sizes(), (std::vector<int64_t>{0, 3, 5, 5}));
  EXPECT_EQ(batch.skipped.size(), 1u);
  EXPECT_TRUE(loadImages({}, 5).paths.empty());
}

namespace {

/// Every regular file under `dir` (recursively).
std::vector<std::string> filesUnder(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  return out;
}

/// t/a.png and t/b.png, 7 x 7 random RGB.
std::vector<std::string> twoRandomImages(const TempDir& t) {
  cv::Mat m1(7, 7, CV_8UC3), m2(7, 7, CV_8UC3);
  cv::randu(m1, 0, 256);
  cv::randu(m2, 0, 256);
  return {write(t, "a.png", m1), write(t, "b.png", m2)};
}

}  // namespace

TEST(ImageCache, SecondLoadReadsTheCacheNotTheImage) {
  TempDir t;
  cv::Mat m(9, 7, CV_8UC3);
  cv::randu(m, 0, 256);
  const std::string a = write(t, "a.png", m);
  const std::string copy = write(t, "copy.png", m);  // same bytes, another path
  writeFile(t / "bad.png", "not an image");
  const ImageCache cache(t / "cache", 5, "bilinear");
  const auto plain = loadImages({a}, 5, 1);
  const auto first = loadImages({a, t / "bad.png", copy}, 5, 2, Interpolation::kBilinear, &cache);
  EXPECT_EQ(first.skipped, (std::vector<std::string>{t / "bad.png"}));
  EXPECT_TRUE(torch::equal(first.images[0], plain.images[0]));
  EXPECT_TRUE(torch::equal(first.images[1], plain.images[0]));
  // One entry: keyed by content (the copy shares it), nothing for the unreadable file.
  const auto entries = filesUnder(t / "cache");
  ASSERT_EQ(entries.size(), 1u);
  const auto bytes = slurp(a);
  EXPECT_EQ(entries[0], cache.pathOf(cache.key(bytes)));
  EXPECT_EQ(std::filesystem::file_size(entries[0]), 24u + 3 * 5 * 5);
  // Overwrite the entry's pixels, with their checksum (XXH64 of the pixels XOR XXH64 of
  // the key, little-endian at byte 16): a load that returns them did not decode the image.
  std::string entry = slurp(entries[0]);
  for (size_t i = 24; i < entry.size(); ++i) entry[i] = static_cast<char>(i - 8);
  const auto key = cache.key(bytes);
  const uint64_t sum = shiftad::xxh64(entry.data() + 24, entry.size() - 24) ^ shiftad::xxh64(key.data(), key.size());
  for (int i = 0; i < 8; ++i) entry[16 + i] = static_cast<char>(sum >> (8 * i));
  writeFile(entries[0], entry);
  const auto second = loadImages({copy}, 5, 1, Interpolation::kBilinear, &cache);
  for (int64_t i = 0; i < 75; ++i) EXPECT_EQ(second.images.flatten()[i].item<int>(), (16 + i) % 256) << i;
}

TEST(ImageCache, AnEntryDoesNotLetARefusedFilePastTheChecks) {
  // An entry written for a file (by a version that accepted it) is not read for a file
  // the header checks refuse now: a TIFF named .png, say.
  TempDir t;
  const std::string tiff = write(t, "x.tiff", knownBgr());
  fs::rename(tiff, t / "x.png");
  const ImageCache cache(t / "cache", 4, "bilinear");
  const std::vector<uint8_t> pixels(cache.pixelBytes(), 7);
  cache.write(cache.key(slurp(t / "x.png")), pixels.data());
  const ImageBatch batch = loadImages({t / "x.png"}, 4, 1, Interpolation::kBilinear, &cache);
  EXPECT_EQ(batch.skipped, std::vector<std::string>{t / "x.png"});
  EXPECT_EQ(batch.images.size(0), 0);
}

TEST(ImageCache, AnEntryOfAnEarlierVersionDoesNotLetADamagedJpegPast) {
  // Version 3 cached JPEGs whose scan libjpeg had filled with grey: an entry of it, its
  // checksum intact, is a miss, so the file is decoded again and refused.
  TempDir t;
  const std::string whole = slurp(write(t, "whole.jpg", cv::Mat(64, 64, CV_8UC3, cv::Scalar(20, 120, 220))));
  const size_t scan = whole.find("\xFF\xDA");
  ASSERT_NE(scan, std::string::npos);
  writeFile(t / "cut.jpg", whole.substr(0, scan + 20) + "\xFF\xD9");  // end marker kept
  const ImageCache cache(t / "cache", 4, "bilinear");
  const std::vector<uint8_t> pixels(cache.pixelBytes(), 7);
  const auto key = cache.key(slurp(t / "cut.jpg"));
  cache.write(key, pixels.data());
  std::string entry = slurp(cache.pathOf(key));
  entry[9] = 3;  // the format version, outside the checksum
  writeFile(cache.pathOf(key), entry);
  const ImageBatch batch = loadImages({t / "cut.jpg"}, 4, 1, Interpolation::kBilinear, &cache);
  EXPECT_EQ(batch.skipped, std::vector<std::string>{t / "cut.jpg"});
  EXPECT_EQ(cache.damagedEntries(), 0) << "another version's entry is not damage";
}

TEST(ImageCache, AnEditedImageMissesAndADamagedEntryIsRewritten) {
  TempDir t;
  cv::Mat m(6, 6, CV_8UC1, cv::Scalar(10));
  const std::string p = write(t, "x.png", m);
  const ImageCache cache(t / "cache", 4, "bilinear");
  loadImages({p}, 4, 1, Interpolation::kBilinear, &cache);
  // Edited in place: new content, new key, the new pixels.
  write(t, "x.png", cv::Mat(6, 6, CV_8UC1, cv::Scalar(200)));
  auto got = loadImages({p}, 4, 1, Interpolation::kBilinear, &cache);
  EXPECT_TRUE((got.images == 200).all().item<bool>());
  EXPECT_EQ(filesUnder(t / "cache").size(), 2u);
  // Truncated entry: a miss, decoded again and rewritten whole.
  const auto entry = cache.pathOf(cache.key(slurp(p)));
  writeFile(entry, slurp(entry).substr(0, 20));
  got = loadImages({p}, 4, 1, Interpolation::kBilinear, &cache);
  EXPECT_TRUE((got.images == 200).all().item<bool>());
  EXPECT_EQ(std::filesystem::file_size(entry), 24u + 3 * 4 * 4);
  // A cache of another side is refused, not misread.
  const ImageCache other(t / "cache", 8, "bilinear");
  expectError([&] { loadImages({p}, 4, 1, Interpolation::kBilinear, &other); }, {"side 8", "not 4"});
}

TEST(ImageCache, AnEntryCorruptedInPlaceIsAMissCountedAndRewritten) {
  TempDir t;
  const auto paths = twoRandomImages(t);
  const auto plain = loadImages(paths, 5, 1);
  {
    const ImageCache cache(t / "cache", 5, "bilinear");
    loadImages(paths, 5, 1, Interpolation::kBilinear, &cache);
  }
  // One byte of each entry's pixels changed, size and header intact (bit rot, a bad
  // copy): the decoded pixels, never the damaged ones.
  std::vector<std::string> entries;
  for (const auto& p : paths) {
    const ImageCache cache(t / "cache", 5, "bilinear");
    entries.push_back(cache.pathOf(cache.key(slurp(p))));
    std::string bytes = slurp(entries.back());
    bytes[40] = static_cast<char>(bytes[40] ^ 0x5a);
    writeFile(entries.back(), bytes);
  }
  {
    const ImageCache cache(t / "cache", 5, "bilinear");
    const auto got = loadImages(paths, 5, 2, Interpolation::kBilinear, &cache);
    EXPECT_TRUE(torch::equal(got.images, plain.images));
    EXPECT_EQ(cache.damagedEntries(), 2);
  }
  // Rewritten: the next load hits both, with nothing damaged.
  const ImageCache cache(t / "cache", 5, "bilinear");
  auto dst = std::vector<uint8_t>(cache.pixelBytes());
  for (const auto& p : paths) EXPECT_TRUE(cache.read(cache.key(slurp(p)), dst.data())) << p;
  EXPECT_EQ(cache.damagedEntries(), 0);
}

TEST(ImageCache, AnEntryUnderAnotherNameOrAFifoIsAMissNeverTheWrongPixels) {
  TempDir t;
  const auto paths = twoRandomImages(t);
  const auto plain = loadImages(paths, 5, 1);
  const ImageCache cache(t / "cache", 5, "bilinear");
  loadImages(paths, 5, 1, Interpolation::kBilinear, &cache);
  // a's valid entry copied over b's (a bad merge or restore of a cache folder).
  const auto a = cache.pathOf(cache.key(slurp(paths[0])));
  const auto b = cache.pathOf(cache.key(slurp(paths[1])));
  fs::copy_file(a, b, fs::copy_options::overwrite_existing);
  auto got = loadImages(paths, 5, 1, Interpolation::kBilinear, &cache);
  EXPECT_TRUE(torch::equal(got.images, plain.images));
  EXPECT_EQ(cache.damagedEntries(), 1);
  // A FIFO where an entry belongs: opening it must not block until a writer comes.
  fs::remove(b);
  ASSERT_EQ(mkfifo(b.c_str(), 0600), 0);
  got = loadImages(paths, 5, 1, Interpolation::kBilinear, &cache);
  EXPECT_TRUE(torch::equal(got.images, plain.images));
}

TEST(ImageCache, AnEntryOfTheOlderFormatIsAQuietMiss) {
  // Version 1 (a 16-byte header without checksum): not damage, so not counted.
  TempDir t;
  const ImageCache cache(t / "cache", 2, "bilinear");
  const std::string key = cache.key("image bytes");
  std::string v1 = std::string("SHIFTADU8") + '\x01' + std::string(2, '\0') + std::string("\x02\0\0\0", 4);
  v1 += std::string(12, '\x07');
  std::filesystem::create_directories(std::filesystem::path(cache.pathOf(key)).parent_path());
  writeFile(cache.pathOf(key), v1);
  std::vector<uint8_t> dst(cache.pixelBytes());
  EXPECT_FALSE(cache.read(key, dst.data()));
  EXPECT_EQ(cache.damagedEntries(), 0);
  EXPECT_FALSE(std::filesystem::exists(cache.pathOf(key))) << "removed, to be rewritten";
}

TEST(ImageCache, DisabledCacheWritesNothingAndAnUnwritableOneOnlyCostsTime) {
  TempDir t;
  const std::string p = write(t, "x.png", cv::Mat(6, 6, CV_8UC1, cv::Scalar(33)));
  const ImageCache off("", 4, "bilinear");
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE((loadImages({p}, 4, 1, Interpolation::kBilinear, &off).images == 33).all().item<bool>());
  writeFile(t / "file", "a file where the cache folder should be");
  const ImageCache blocked(t / "file", 4, "bilinear");
  EXPECT_TRUE((loadImages({p}, 4, 1, Interpolation::kBilinear, &blocked).images == 33).all().item<bool>());
}

TEST(ImageCache, NeverTakesTheLastGigabyteOfItsFileSystem) {
  // A 4 MB file system (tmpfs, where mounting is allowed): any entry would eat into the
  // 1 GiB the cache leaves to the runs, so none is written, and images still load.
  TempDir t;
  fs::create_directories(t / "small");
  if (std::system(("mount -t tmpfs -o size=4M tmpfs " + (t / "small") + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "mounting a tmpfs is not allowed here";
  const std::string p = write(t, "x.png", cv::Mat(6, 6, CV_8UC1, cv::Scalar(33)));
  {
    const ImageCache cache(t / "small/cache", 4, "bilinear");
    EXPECT_TRUE((loadImages({p}, 4, 1, Interpolation::kBilinear, &cache).images == 33).all().item<bool>());
  }
  EXPECT_TRUE(filesUnder(t / "small").empty());
  EXPECT_EQ(std::system(("umount " + (t / "small")).c_str()), 0);
}

TEST(CenterCrop, EqualsTheSliceWithTorchvisionOffsets) {
  // torchvision: top = round((H - size) / 2) with Python's half-to-even rounding.
  const std::vector<std::tuple<int, int, int>> cases = {{9, 4, 2},  {8, 5, 2}, {6, 5, 0},
                                                        {10, 4, 3}, {7, 7, 0}, {11, 4, 4}};
  for (const auto& [S, size, top] : cases) {
    const auto x = torch::randint(0, 256, {2, 3, S, S}, torch::kUInt8);
    const auto got = centerCrop(x, size);
    EXPECT_TRUE(torch::equal(got, x.slice(2, top, top + size).slice(3, top, top + size))) << S << " -> " << size;
  }
  expectError([] { centerCrop(torch::zeros({1, 3, 4, 4}, torch::kUInt8), 5); }, {"crop size 5", "4x4"});
  expectError([] { centerCrop(torch::zeros({3, 4, 4}, torch::kUInt8), 2); }, {"N x 3 x H x W"});
}

TEST(RandomResizedCrop, ReproducibleShapeAndRange) {
  torch::manual_seed(0);
  const auto x = torch::randint(0, 256, {16, 3, 20, 20}, torch::kUInt8);
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(123);
  auto g2 = at::make_generator<at::CPUGeneratorImpl>(123);
  auto g3 = at::make_generator<at::CPUGeneratorImpl>(124);
  const auto a = randomResizedCrop(x, 12, 0.5, true, g1);
  const auto b = randomResizedCrop(x, 12, 0.5, true, g2);
  const auto c = randomResizedCrop(x, 12, 0.5, true, g3);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{16, 3, 12, 12}));
  EXPECT_EQ(a.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
  // The generator advanced: a second call differs from the first.
  EXPECT_FALSE(torch::equal(a, randomResizedCrop(x, 12, 0.5, true, g1)));
}

TEST(RandomResizedCrop, FullScaleWithoutFlipIsTheImage) {
  // Area fraction 1 on a square image leaves only the whole image (or the fallback,
  // the whole image too); resizing to the same size is the identity.
  const auto x = torch::randint(0, 256, {8, 3, 10, 10}, torch::kUInt8);
  auto g = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto out = randomResizedCrop(x, 10, 1.0, false, g);
  EXPECT_TRUE(torch::allclose(out, x.to(torch::kFloat32) / 255.0, 0, 1e-6));
}

TEST(RandomResizedCrop, FlipsAboutHalfTheImages) {
  const auto x = torch::randint(0, 256, {200, 3, 6, 6}, torch::kUInt8);
  auto g = at::make_generator<at::CPUGeneratorImpl>(9);
  const auto out = randomResizedCrop(x, 6, 1.0, true, g);
  const auto ref = x.to(torch::kFloat32) / 255.0;
  int flipped = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const bool same = torch::allclose(out[i], ref[i], 0, 1e-6),
               mirror = torch::allclose(out[i], ref[i].flip({2}), 0, 1e-6);
    EXPECT_TRUE(same || mirror) << i;
    flipped += mirror;
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
}

TEST(RandomResizedCrop, SmallScaleCropsZoomIn) {
  // Left half 0, right half 255: a crop of the full image would average to ~0.5 in
  // every output; zoomed-in crops push many outputs towards 0 or 1.
  auto x = torch::zeros({64, 3, 32, 32}, torch::kUInt8);
  x.slice(3, 16, 32).fill_(255);
  auto g = at::make_generator<at::CPUGeneratorImpl>(2);
  const auto means = randomResizedCrop(x, 16, 0.1, false, g).mean({1, 2, 3});
  EXPECT_GT((means - 0.5).abs().max().item<float>(), 0.2f);
  EXPECT_GE(means.min().item<float>(), 0.0f);
  expectError([&] { randomResizedCrop(x, 16, 0.0, false, g); }, {"crop_scale_min"});
}

TEST(Normalize, AppliesTheFormulaPerChannel) {
  auto x = torch::tensor({0, 51, 255, 102, 204, 153}, torch::kUInt8).view({1, 3, 1, 2});
  const auto out = normalize(x, {0.5, 0.2, 0.0}, {0.5, 0.1, 2.0});
  ASSERT_EQ(out.scalar_type(), torch::kFloat32);
  const auto expected = torch::tensor({(0.0 - 0.5) / 0.5, (0.2 - 0.5) / 0.5, (1.0 - 0.2) / 0.1, (0.4 - 0.2) / 0.1,
                                       (0.8 - 0.0) / 2.0, (0.6 - 0.0) / 2.0},
                                      torch::kFloat32)
                            .view({1, 3, 1, 2});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-6));
  // Float input is taken as already in [0, 1].
  EXPECT_TRUE(torch::allclose(normalize(x.to(torch::kFloat32) / 255.0, {0.5, 0.2, 0.0}, {0.5, 0.1, 2.0}), expected,
                              1e-5, 1e-6));
  expectError([&] { normalize(x, {0.5, 0.5}, {0.5, 0.5, 0.5}); }, {"3 values"});
  expectError([&] { normalize(x, {0.5, 0.5, 0.5}, {0.5, 0.0, 0.5}); }, {"data.std"});
}
