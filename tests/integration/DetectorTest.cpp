// shiftad::Detector (include/shiftad/Detector.h) against independent references: the
// `shiftad score` CLI, the same pixels read from a file, a saved and reloaded copy, an
// uninterrupted run, and a run directory that is gone.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// The synthetic benchmark, generated once for this binary.
const std::string& synthRoot() {
  static TempDir dir;
  static const std::string root = [] {
    shiftad::synthesize(dir / "data", 0);
    return dir / "data";
  }();
  return root;
}

/// A run of a few seconds that aligns (re-clustering every epoch) and augments; its
/// caches stay in `cache_dir`.
shiftad::Config tinyConfig(const std::string& cache_dir, int epochs = 2) {
  shiftad::setThreads(1);  // as the CLI runs below: the same float order everywhere
  shiftad::Config c;
  c.data.root = synthRoot();
  c.data.source = "source";
  c.data.target = "target";
  c.data.normal_class = "circle";
  c.model.width = 8;
  c.train.epochs = epochs;
  c.train.batch_size = 16;
  c.encoder.cache_dir = cache_dir;
  return c;
}

/// Images training never saw: another class of the source domain, sorted.
std::vector<std::string> unseenImages(size_t n) {
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(synthRoot() + "/source/square")) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  paths.resize(std::min(n, paths.size()));
  return paths;
}

std::vector<double> valuesOf(const shiftad::ScoreResult& r) {
  std::vector<double> out;
  for (const auto& s : r.scores) out.push_back(s.score);
  return out;
}

/// path -> score text of a `shiftad score` CSV (paths here need no quoting).
std::map<std::string, std::string> readScoresCsv(const std::string& path) {
  std::istringstream in(shiftad::test::readText(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "path,score");
  std::map<std::string, std::string> out;
  while (std::getline(in, line)) out[line.substr(0, line.rfind(','))] = line.substr(line.rfind(',') + 1);
  return out;
}

/// Pixels decoded by OpenCV here (not by the library), RGB, rows `pad` bytes longer
/// than the pixels need.
struct DecodedImage {
  int width = 0, height = 0;
  size_t stride = 0;
  std::vector<uint8_t> bytes;
  shiftad::ImageView view() const { return {width, height, stride, bytes.data()}; }
};

DecodedImage decodeRgb(const std::string& path, size_t pad) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  EXPECT_FALSE(bgr.empty()) << path;
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  DecodedImage d{rgb.cols, rgb.rows, static_cast<size_t>(rgb.cols) * 3 + pad, {}};
  d.bytes.assign(d.stride * static_cast<size_t>(d.height), 0xAB);  // padding that must not be read
  for (int y = 0; y < rgb.rows; ++y) std::memcpy(d.bytes.data() + d.stride * y, rgb.ptr(y), rgb.cols * 3);
  return d;
}

}  // namespace

TEST(Detector, FitThenScoreFromFilesEqualsTheScoreCli) {
  TempDir tmp;
  auto detector = shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  ASSERT_TRUE(detector.trained());
  EXPECT_EQ(detector.trainSummary().epochs, 2);
  EXPECT_EQ(detector.config().data.normal_class, "circle");
  const auto images = synthRoot() + "/target/star";
  const auto r = detector.score(images);
  ASSERT_GT(r.scores.size(), 5u);
  const pid_t pid = shiftad::test::spawnCli(
      {"score", "--threads", "1", "--model", tmp / "run", "--images", images, "--out", tmp / "s.csv"}, tmp / "cli.log");
  ASSERT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "cli.log");
  const auto cli = readScoresCsv(tmp / "s.csv");
  ASSERT_EQ(cli.size(), r.scores.size());
  for (const auto& s : r.scores) {
    ASSERT_TRUE(cli.count(s.path)) << s.path;
    EXPECT_EQ(cli.at(s.path), fmt::format("{:.9g}", s.score)) << s.path;
  }
}

TEST(Detector, AnImageInMemoryScoresAsItsFile) {
  TempDir tmp;
  auto detector = shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  const auto paths = unseenImages(6);
  std::vector<DecodedImage> decoded;
  for (size_t i = 0; i < paths.size(); ++i) decoded.push_back(decodeRgb(paths[i], i % 2 ? 7 : 0));
  std::vector<shiftad::ImageView> views;
  for (const auto& d : decoded) views.push_back(d.view());
  const auto from_files = valuesOf(detector.score(paths));
  const auto from_memory = detector.score(views);
  ASSERT_EQ(from_files.size(), paths.size());
  EXPECT_EQ(from_memory, from_files);  // bit for bit: the same resize, crop and normalisation
}

TEST(Detector, AHeadOnlyImageInMemoryScoresAsItsFile) {
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache");
  cfg.model.freeze = -1;  // the head trains on (cached) trunk features
  auto detector = shiftad::Detector::fit(cfg, tmp / "run");
  const auto paths = unseenImages(5);
  std::vector<DecodedImage> decoded;
  for (const auto& p : paths) decoded.push_back(decodeRgb(p, 0));
  std::vector<shiftad::ImageView> views;
  for (const auto& d : decoded) views.push_back(d.view());
  EXPECT_EQ(detector.score(views), valuesOf(detector.score(paths)));
}

TEST(Detector, LoadSaveLoadScoresIdentically) {
  TempDir tmp;
  for (const std::string variant : {"cluster_self", "frozen_knn"}) {
    auto overrides = shiftad::variantOverrides(variant);
    if (variant == "frozen_knn") overrides.push_back("encoder.type=backbone");  // Φ: F's initial trunk
    const auto cfg = shiftad::parseConfig(shiftad::dumpConfig(tinyConfig(tmp / "cache")), overrides, "test");
    shiftad::Detector::fit(cfg, tmp / variant);
    auto loaded = shiftad::Detector::load(tmp / variant);
    loaded.save(tmp / (variant + "-copy"));
    EXPECT_THROW(loaded.save(tmp / variant), shiftad::Error) << "never written over a folder that holds files";
    auto copy = shiftad::Detector::load(tmp / (variant + "-copy"));
    EXPECT_EQ(shiftad::dumpConfig(copy.config()), shiftad::dumpConfig(loaded.config())) << variant;
    const auto paths = unseenImages(8);
    EXPECT_EQ(valuesOf(copy.score(paths)), valuesOf(loaded.score(paths))) << variant;
  }
}

TEST(Detector, ScoringTwiceNeverReadsTheRunDirectory) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  auto detector = shiftad::Detector::load(tmp / "run");
  const auto paths = unseenImages(8);
  const auto first = valuesOf(detector.score(paths));
  fs::remove_all(tmp / "run");
  EXPECT_EQ(valuesOf(detector.score(paths)), first);
}

TEST(Detector, CancelledFromProgressStopsWithACheckpointAndResumesToTheSameWeights) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache", 5);
  shiftad::Detector::fit(cfg, tmp / "ref");

  std::vector<int64_t> reported;
  shiftad::FitOptions stop_after_two;
  stop_after_two.callbacks.progress = [&](const std::string& stage, int64_t done, int64_t total) {
    EXPECT_EQ(stage, "fit");
    EXPECT_EQ(total, 5);
    reported.push_back(done);
  };
  stop_after_two.callbacks.cancel = [&] { return reported.size() >= 2; };
  auto stopped = shiftad::Detector::fit(cfg, tmp / "run", stop_after_two);
  EXPECT_TRUE(stopped.trainSummary().interrupted);
  EXPECT_FALSE(stopped.trained());
  EXPECT_EQ(reported, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / "run/model.safetensors")) << "a stopped run has no model yet";
  EXPECT_THROW(stopped.score(unseenImages(2)), shiftad::Error);

  shiftad::FitOptions resume;
  resume.resume = true;
  auto resumed = shiftad::Detector::fit(cfg, tmp / "run", resume);
  EXPECT_TRUE(resumed.trained());
  EXPECT_EQ(resumed.trainSummary().resumed_at_epoch, 3);
  for (const char* f : {"model.safetensors", "center.safetensors"})
    EXPECT_TRUE(shiftad::test::readText(tmp / "ref/" + f) == shiftad::test::readText(tmp / "run/" + f)) << f;
}

TEST(Detector, CancellingScoringIsAnError) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  shiftad::LoadOptions options;
  int64_t seen = -1;
  options.callbacks.progress = [&](const std::string& stage, int64_t done, int64_t) {
    EXPECT_EQ(stage, "score");
    seen = done;
  };
  options.callbacks.cancel = [] { return true; };
  auto detector = shiftad::Detector::load(tmp / "run", options);
  EXPECT_THROW(detector.score(unseenImages(3)), shiftad::Error);
  EXPECT_EQ(seen, 3);
}

TEST(Cache, SharedBetweenDetectorsDecodesEachImageOnce) {
  TempDir tmp;
  auto cache = std::make_shared<shiftad::Cache>();
  shiftad::FitOptions options;
  options.cache = cache;
  auto cfg = tinyConfig(tmp / "cache");
  cfg.data.image_cache = false;  // every decode counted is a real one
  shiftad::Detector::fit(cfg, tmp / "a", options);
  const auto after_first = cache->stats().decoded_images;
  EXPECT_GT(after_first, 0);
  cfg.train.seed = 1;  // another run on the same images
  shiftad::Detector::fit(cfg, tmp / "b", options);
  EXPECT_EQ(cache->stats().decoded_images, after_first);
}
