// Decoding of every pixel format a data set may hold (docs/reliability.md), against
// PIL (tests/oracle/data_image_formats.py): grayscale, gray+alpha, palette with and
// without transparency, RGBA, 16-bit, CMYK and grayscale JPEG.
#include <algorithm>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/Error.h"
#include "data/ImageTensors.h"
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
