// shiftad::Detector (include/shiftad/Detector.h) against independent references: the
// `shiftad score` CLI, the same pixels read from a file, a saved and reloaded copy, an
// uninterrupted run, and a run directory that is gone.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "api/ScoreChunk.h"
#include "common/Error.h"
#include "common/ParallelFor.h"
#include "io/SafeTensors.h"
#include "shiftad/shiftad.h"
#include "support/CapturedLog.h"
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

/// tinyConfig on a copy of the synthetic benchmark in TMP/data, which the test may change.
shiftad::Config tinyConfigOnACopy(const TempDir& tmp, int epochs = 2) {
  fs::copy(synthRoot(), tmp / "data", fs::copy_options::recursive);
  auto cfg = tinyConfig(tmp / "cache", epochs);
  cfg.data.root = tmp / "data";
  return cfg;
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
  EXPECT_EQ(line, "path,score,normalised_score,anomalous");
  std::map<std::string, std::string> out;
  while (std::getline(in, line)) {
    // The paths here need no quoting: path,score are the fields before the last two.
    const auto decision = line.rfind(',', line.rfind(',') - 1);
    const auto comma = line.rfind(',', decision - 1);
    out[line.substr(0, comma)] = line.substr(comma + 1, decision - comma - 1);
  }
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

TEST(Detector, AnImagesScoreDoesNotDependOnTheImagesInItsInferenceBatch) {
  // Images go through F in batches (models::kInferenceImages): 40 images span three, and
  // dropping the first 5 moves every image to another batch and place in it. Eval mode
  // makes each image's features its own, so its score must not move by a bit.
  TempDir tmp;
  auto detector = shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  const auto paths = unseenImages(40);
  ASSERT_EQ(paths.size(), 40u);
  const auto all = valuesOf(detector.score(paths));
  const auto shifted = valuesOf(detector.score(std::vector<std::string>(paths.begin() + 5, paths.end())));
  EXPECT_EQ(shifted, std::vector<double>(all.begin() + 5, all.end()));
  EXPECT_EQ(valuesOf(detector.score(std::vector<std::string>{paths[21]})).at(0), all[21]);
  // A head trained on a frozen trunk's features multiplies its rows in blocks of one
  // size: a matrix product's rounding follows its row count, which the last, shorter
  // batch changed here (by ~1e-7 before the blocks).
  TempDir tmp2;
  auto cfg = tinyConfig(tmp2 / "cache");
  cfg.model.freeze = -1;
  auto head_only = shiftad::Detector::fit(cfg, tmp2 / "run");
  const auto all_h = valuesOf(head_only.score(paths));
  const auto shifted_h = valuesOf(head_only.score(std::vector<std::string>(paths.begin() + 5, paths.end())));
  EXPECT_EQ(shifted_h, std::vector<double>(all_h.begin() + 5, all_h.end()));
  for (const size_t i : {0, 21, 39})
    EXPECT_EQ(valuesOf(head_only.score(std::vector<std::string>{paths[i]})).at(0), all_h[i]) << i;
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

/// The lines of a text file (a run's dominant.txt).
std::vector<std::string> linesOf(const std::string& path) {
  std::istringstream in(shiftad::test::readText(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

TEST(Detector, FitSetsTheThresholdFromTheDominantSetAndNormalisedScoresCountIt) {
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache");
  cfg.threshold.rule = shiftad::ThresholdRule::kNormalQuantile;
  cfg.threshold.quantile = 0.9;
  auto detector = shiftad::Detector::fit(cfg, tmp / "run");
  ASSERT_TRUE(fs::exists(tmp / (std::string("run/") + shiftad::kCalibrationFile)));
  // The calibration normals are the final dominant set: its files, scored here.
  const auto dominant = linesOf(tmp / (std::string("run/") + shiftad::kDominantFile));
  ASSERT_GT(dominant.size(), 3u);
  auto normals = valuesOf(detector.score(dominant));
  ASSERT_EQ(normals.size(), dominant.size());
  std::sort(normals.begin(), normals.end());
  // numpy.quantile by hand: linear interpolation between the order statistics.
  const double pos = 0.9 * static_cast<double>(normals.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const double expected = normals[lo] + (pos - static_cast<double>(lo)) * (normals[lo + 1] - normals[lo]);
  // Scored in other batches than at fit: equal to float rounding.
  EXPECT_NEAR(detector.threshold(), expected, 1e-5 * expected);
  const auto info = detector.thresholdInfo();
  EXPECT_EQ(info.rule, shiftad::ThresholdRule::kNormalQuantile);
  EXPECT_EQ(info.normals, "dominant_set");
  EXPECT_EQ(info.calibration_images, static_cast<int64_t>(dominant.size()));
  // Normalised: the share of calibration normals at or below the score; anomalous: above the threshold.
  auto images = unseenImages(4);
  images.insert(images.end(), dominant.begin(), dominant.begin() + 4);
  const auto r = detector.score(images);
  ASSERT_EQ(r.scores.size(), images.size());
  int flagged = 0;
  for (const auto& s : r.scores) {
    const auto below = std::upper_bound(normals.begin(), normals.end(), s.score) - normals.begin();
    EXPECT_NEAR(s.normalised_score, static_cast<double>(below) / static_cast<double>(normals.size()),
                1.0 / static_cast<double>(normals.size()) + 1e-12)
        << s.path;
    EXPECT_GE(s.normalised_score, 0.0);
    EXPECT_LE(s.normalised_score, 1.0);
    EXPECT_EQ(s.anomalous, s.score > detector.threshold()) << s.path;
    flagged += s.anomalous;
  }
  EXPECT_GT(flagged, 0) << "another class of parts is anomalous";
  // The same pixels in memory get the same decisions.
  std::vector<DecodedImage> decoded;
  for (const auto& p : images) decoded.push_back(decodeRgb(p, 0));
  std::vector<shiftad::ImageView> views;
  for (const auto& d : decoded) views.push_back(d.view());
  const auto in_memory = detector.decide(views);
  ASSERT_EQ(in_memory.size(), r.scores.size());
  for (size_t i = 0; i < in_memory.size(); ++i) {
    EXPECT_EQ(in_memory[i].anomalous, r.scores[i].anomalous) << images[i];
    EXPECT_NEAR(in_memory[i].normalised_score, r.scores[i].normalised_score, 1e-12) << images[i];
  }
}

TEST(Detector, ARunWithoutACalibrationMakesItFromItsConfigOrScoresWithoutDecisions) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  const double threshold = shiftad::Detector::load(tmp / "run").threshold();
  // A run written before thresholds: no calibration.json. It calibrates on first need
  // from the pool of its config, to the same threshold, and save() stores it.
  fs::remove(tmp / (std::string("run/") + shiftad::kCalibrationFile));
  auto old = shiftad::Detector::load(tmp / "run");
  EXPECT_NEAR(old.threshold(), threshold, 1e-5 * threshold);
  old.save(tmp / "copy");
  EXPECT_TRUE(fs::exists(tmp / (std::string("copy/") + shiftad::kCalibrationFile)));
  EXPECT_DOUBLE_EQ(shiftad::Detector::load(tmp / "copy").threshold(), old.threshold());
  // Its data gone too: scores still come, without normalised score or decision.
  fs::remove(tmp / (std::string("run/") + shiftad::kCalibrationFile));
  const auto config = tmp / (std::string("run/") + shiftad::kConfigFile);
  auto text = shiftad::test::readText(config);
  text.replace(text.find(synthRoot()), synthRoot().size(), tmp / "gone");
  shiftad::test::writeFile(config, text);
  auto orphan = shiftad::Detector::load(tmp / "run");
  const auto r = orphan.score(unseenImages(2));
  ASSERT_EQ(r.scores.size(), 2u);
  EXPECT_TRUE(std::isnan(r.scores[0].normalised_score));
  EXPECT_FALSE(r.scores[0].anomalous);
  EXPECT_THROW(orphan.threshold(), shiftad::Error);
  {
    // The failed calibration is not tried again at every call: it read the data set and
    // warned each time (2,000 warnings from a program asking threshold() in a loop).
    shiftad::test::CapturedLog log;
    for (int call = 0; call < 3; ++call) EXPECT_THROW(orphan.threshold(), shiftad::Error);
    EXPECT_THROW(orphan.thresholdInfo(), shiftad::Error);
    EXPECT_EQ(orphan.score(unseenImages(1)).scores.size(), 1u);
    EXPECT_EQ(log.text().find("calibrating again"), std::string::npos) << log.text();
  }
  // Export as docs/deploy.md says: the scores, with threshold nan (protobuf's bytes of
  // the metadata entry: key "threshold", then field 2, length 3, "nan").
  orphan.exportOnnx(tmp / "orphan.onnx");
  const auto onnx = shiftad::test::readText(tmp / "orphan.onnx");
  EXPECT_NE(onnx.find(std::string("threshold\x12\x03nan")), std::string::npos);
  const pid_t pid = shiftad::test::spawnCli(
      {"score", "--model", tmp / "run", "--images", unseenImages(1)[0], "--out", tmp / "s.csv"}, tmp / "cli.log");
  ASSERT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "cli.log");
  const auto csv = shiftad::test::readText(tmp / "s.csv");
  EXPECT_EQ(csv.substr(csv.size() - 3), ",,\n") << csv;
}

/// The numbers of the JSON list `key` holds in `json` (a flat list of numbers).
std::vector<double> jsonNumbers(const std::string& json, const std::string& key) {
  const auto open = json.find("\"" + key + "\":[");
  EXPECT_NE(open, std::string::npos) << key;
  const auto begin = json.find('[', open) + 1;
  std::stringstream list(json.substr(begin, json.find(']', begin) - begin));
  std::vector<double> out;
  for (std::string item; std::getline(list, item, ',');) out.push_back(std::stod(item));
  return out;
}

TEST(Detector, AThresholdRuleEditedAfterTrainingDecidesFromTheStoredScoresWithoutTheData) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfigOnACopy(tmp), tmp / "run");
  const double mixture = shiftad::Detector::load(tmp / "run").threshold();
  const auto calibration = tmp / (std::string("run/") + shiftad::kCalibrationFile);
  const auto stored = shiftad::test::readText(calibration);
  // docs/deploy.md: edit threshold.* in the run's config.yaml.
  const auto config = tmp / (std::string("run/") + shiftad::kConfigFile);
  auto text = shiftad::test::readText(config);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"rule: mixture", "rule: normal_quantile"},
                                 {"quantile: 0.95", "quantile: 0.9"}}) {
    ASSERT_NE(text.find(from), std::string::npos) << text;
    text.replace(text.find(from), from.size(), to);
  }
  shiftad::test::writeFile(config, text);
  // The data is gone: the new rule decides from the scores calibration.json stores.
  fs::rename(tmp / "data", tmp / "moved");
  auto normals = jsonNumbers(stored, "normal_scores");
  ASSERT_GE(normals.size(), 2u);
  std::sort(normals.begin(), normals.end());
  const double h = 0.9 * static_cast<double>(normals.size() - 1);  // numpy.quantile, linear
  const auto lo = static_cast<size_t>(std::floor(h));
  const double expected =
      normals[lo] + (h - std::floor(h)) * (normals[std::min(lo + 1, normals.size() - 1)] - normals[lo]);
  const auto info = shiftad::Detector::load(tmp / "run").thresholdInfo();
  EXPECT_EQ(info.rule, shiftad::ThresholdRule::kNormalQuantile);
  EXPECT_EQ(info.quantile, 0.9);
  EXPECT_NEAR(info.threshold, expected, 1e-12 * expected);
  const pid_t pid = shiftad::test::spawnCli(
      {"score", "--model", tmp / "run", "--images", unseenImages(1)[0], "--out", tmp / "s.csv"}, tmp / "score.log");
  ASSERT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "score.log");
  const auto log = shiftad::test::readText(tmp / "score.log");
  EXPECT_NE(log.find("asks threshold.rule normal_quantile (quantile 0.9): threshold"), std::string::npos) << log;
  EXPECT_EQ(log.find("warn"), std::string::npos) << log;
  EXPECT_EQ(shiftad::test::readText(calibration), stored) << "the run's file is left as training wrote it";
  // What calibrating again from the data with the new rule sets.
  fs::rename(tmp / "moved", tmp / "data");
  fs::copy_file(calibration, tmp / "calibration.json");
  fs::remove(calibration);
  EXPECT_NEAR(shiftad::Detector::load(tmp / "run").threshold(), expected, 1e-5 * expected);
  fs::copy_file(tmp / "calibration.json", calibration);
  // In code: back to training's rule, the mixture's threshold again; save() writes both.
  auto detector = shiftad::Detector::load(tmp / "run");
  detector.setThreshold({shiftad::ThresholdRule::kMixture, 0.95});
  EXPECT_EQ(detector.threshold(), mixture);
  EXPECT_THROW(detector.setThreshold({shiftad::ThresholdRule::kNormalQuantile, 1.5}), shiftad::Error);
  EXPECT_EQ(detector.threshold(), mixture) << "a refused rule changes nothing";
  detector.save(tmp / "saved");
  const auto saved = shiftad::Detector::load(tmp / "saved");
  EXPECT_EQ(saved.config().threshold.rule, shiftad::ThresholdRule::kMixture);
  EXPECT_EQ(saved.threshold(), mixture);
}

TEST(Detector, ADamagedCalibrationOrCenterIsNamedWithWhatToDo) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  const double threshold = shiftad::Detector::load(tmp / "run").threshold();
  const auto loadError = [&] {
    try {
      shiftad::Detector::load(tmp / "run").threshold();
    } catch (const shiftad::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // normal_scores out of order: the file is named, and deleting it (the advice) recalibrates.
  const auto calibration = tmp / (std::string("run/") + shiftad::kCalibrationFile);
  const auto good = shiftad::test::readText(calibration);
  auto text = good;
  const auto at = text.find("\"normal_scores\":[");
  ASSERT_NE(at, std::string::npos) << text;
  text.insert(at + std::strlen("\"normal_scores\":["), "1e9,");
  shiftad::test::writeFile(calibration, text);
  auto msg = loadError();
  EXPECT_NE(msg.find(calibration), std::string::npos) << msg;
  EXPECT_NE(msg.find("delete the file"), std::string::npos) << msg;
  fs::remove(calibration);
  EXPECT_NEAR(shiftad::Detector::load(tmp / "run").threshold(), threshold, 1e-5 * threshold);
  // A center of another run's size: named, with the next step, never a shape error from inside LibTorch.
  const auto center = tmp / (std::string("run/") + shiftad::kCenterFile);
  auto c = shiftad::io::readSafeTensors(center);
  c.tensors["center"] = torch::zeros({c.tensors.at("center").size(0) + 1});
  c.metadata.erase("tensors_xxh64");  // as a run of an earlier version: the checksum would name it first
  c.metadata.erase("run_id");
  shiftad::io::writeSafeTensors(center, c.tensors, c.metadata);
  msg = loadError();
  EXPECT_NE(msg.find(shiftad::kCenterFile), std::string::npos) << msg;
  EXPECT_NE(msg.find("train it again"), std::string::npos) << msg;
}

TEST(Detector, AConfigEditedAfterTrainingIsRefusedNamingTheSettings) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  const auto config = tmp / (std::string("run/") + shiftad::kConfigFile);
  const auto trained = shiftad::test::readText(config);
  const auto edit = [&](const std::string& from, const std::string& to) {
    auto text = trained;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from << " not in " << text;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    shiftad::test::writeFile(config, text);
  };
  // The input size: every score would change without a word.
  edit("image_size: 32", "image_size: 64");
  const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); });
  EXPECT_NE(msg.find("config.yaml' says other settings than"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(data.image_size: 32 -> 64)"), std::string::npos) << msg;
  // A path may change (the data moved), and so may the threads.
  edit("threads: 0", "threads: 1");
  EXPECT_EQ(shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); }), "");
  edit("root: " + synthRoot(), "root: " + tmp / "moved");
  EXPECT_EQ(shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); }), "");
}

TEST(Detector, AResumeUnderEditedSettingsIsRefusedNamingThem) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache", 4);
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", stop_after_one).trainSummary().interrupted);
  const auto config = tmp / (std::string("run/") + shiftad::kConfigFile);
  const auto started = shiftad::test::readText(config);
  auto text = started;
  text.replace(text.find("normal_class: circle"), std::strlen("normal_class: circle"), "normal_class: star");
  shiftad::test::writeFile(config, text);
  const auto msg = shiftad::test::errorOf([&] { shiftad::resumeTraining(tmp / "run"); });
  EXPECT_NE(msg.find("was written under other settings than the run's config.yaml now (data.normal_class: circle -> "
                     "star)"),
            std::string::npos)
      << msg;
  // Restored, it resumes.
  shiftad::test::writeFile(config, started);
  EXPECT_EQ(shiftad::resumeTraining(tmp / "run").resumed_at_epoch, 2);
}

TEST(Detector, AResumeAfterTheTargetFolderChangedIsRefusedAndMovedDataResumes) {
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp, 4);
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", stop_after_one).trainSummary().interrupted);
  // One target image gone: the pool split from the folder is no longer the run's.
  std::vector<fs::path> squares;
  for (const auto& e : fs::directory_iterator(tmp / "data/target/square")) squares.push_back(e.path());
  std::sort(squares.begin(), squares.end());
  const auto kept = tmp / "kept.png";
  fs::rename(squares.back(), kept);
  const auto msg = shiftad::test::errorOf([&] { shiftad::resumeTraining(tmp / "run"); });
  EXPECT_NE(msg.find("cannot be resumed: it started on a target pool of"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Restore the target folder"), std::string::npos) << msg;
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors")) << "the refusal keeps the work done";
  // Restored, and the whole data moved to another root (config.yaml edited to it): the
  // same images, so it resumes.
  fs::rename(kept, squares.back());
  fs::rename(tmp / "data", tmp / "moved");
  const auto config = tmp / (std::string("run/") + shiftad::kConfigFile);
  auto text = shiftad::test::readText(config);
  const auto old_root = (tmp / "data");
  text.replace(text.find(old_root), old_root.size(), tmp / "moved");
  shiftad::test::writeFile(config, text);
  EXPECT_EQ(shiftad::resumeTraining(tmp / "run").resumed_at_epoch, 2);
}

TEST(Detector, ARunThatFailsAfterItsLastEpochSaysItsCheckpointResumesIt) {
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp, 2);
  cfg.data.image_cache = false;
  // The target folder goes (an unmounted share) once training is done, before calibration reads it.
  shiftad::FitOptions options;
  options.callbacks.progress = [&](const std::string&, int64_t done, int64_t total) {
    if (done == total) fs::rename(tmp / "data/target", tmp / "gone");
  };
  const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(cfg, tmp / "run", options); });
  EXPECT_NE(msg.find("target"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shiftad train --resume " + tmp / "run"), std::string::npos) << msg;
  ASSERT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors")) << "the hint names work that is kept";
  EXPECT_FALSE(fs::exists(tmp / (std::string("run/") + shiftad::kCalibrationFile)));
  // Back again: the resume finishes the run from its checkpoint.
  fs::rename(tmp / "gone", tmp / "data/target");
  const auto resumed = shiftad::resumeTraining(tmp / "run");
  EXPECT_FALSE(resumed.interrupted);
  EXPECT_TRUE(fs::exists(tmp / (std::string("run/") + shiftad::kCalibrationFile)));
}

TEST(Detector, AResumeAfterTheSourceImagesOrTheWeightsChangedIsRefusedNamingWhich) {
  TempDir tmp;
  // F starts from weights in a file (as a pretrained trunk does): another run's model.
  auto cfg = tinyConfigOnACopy(tmp, 4);
  shiftad::Detector::fit(cfg, tmp / "w1");
  auto seed1 = cfg;
  seed1.train.seed = 1;
  shiftad::Detector::fit(seed1, tmp / "w2");
  fs::copy_file(tmp / "w1/model.safetensors", tmp / "weights.safetensors");
  cfg.model.weights = tmp / "weights.safetensors";
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", stop_after_one).trainSummary().interrupted);
  const auto refusal = [&] { return shiftad::test::errorOf([&] { shiftad::resumeTraining(tmp / "run"); }); };
  // A source image of the normal class replaced under its name by another image.
  std::vector<fs::path> circles, squares;
  for (const auto& e : fs::directory_iterator(tmp / "data/source/circle")) circles.push_back(e.path());
  for (const auto& e : fs::directory_iterator(tmp / "data/source/square")) squares.push_back(e.path());
  const auto victim = *std::min_element(circles.begin(), circles.end());
  const auto original = shiftad::test::readText(victim);
  const auto other = std::find_if(squares.begin(), squares.end(),
                                  [&](const fs::path& p) { return fs::file_size(p) != original.size(); });
  ASSERT_NE(other, squares.end());
  fs::copy_file(*other, victim, fs::copy_options::overwrite_existing);
  auto msg = refusal();
  EXPECT_NE(msg.find("cannot be resumed: source changed since it started"), std::string::npos) << msg;
  shiftad::test::writeFile(victim, original);
  // The weights file replaced at the same path (a shared model updated in place).
  fs::copy_file(tmp / "w2/model.safetensors", tmp / "weights.safetensors", fs::copy_options::overwrite_existing);
  msg = refusal();
  EXPECT_NE(msg.find("cannot be resumed: model.weights changed since it started"), std::string::npos) << msg;
  fs::copy_file(tmp / "w1/model.safetensors", tmp / "weights.safetensors", fs::copy_options::overwrite_existing);
  // The data moved and config.yaml not edited: named as such, with the way out (--set is refused with --resume).
  fs::rename(tmp / "data", tmp / "moved");
  msg = refusal();
  EXPECT_NE(msg.find("if the data moved, edit data.root in that file"), std::string::npos) << msg;
  fs::rename(tmp / "moved", tmp / "data");
  // A cut checkpoint (a full disk, a partial copy): damaged, and what to do.
  const auto checkpoint = tmp / (std::string("run/") + shiftad::kCheckpointFile);
  const auto whole = shiftad::test::readText(checkpoint);
  shiftad::test::writeFile(checkpoint, whole.substr(0, whole.size() / 2));
  msg = refusal();
  EXPECT_NE(msg.find("delete it to train from the start"), std::string::npos) << msg;
  shiftad::test::writeFile(checkpoint, whole);
  // Everything as it started: it resumes.
  EXPECT_EQ(shiftad::resumeTraining(tmp / "run").resumed_at_epoch, 2);
  // A stopped run that lost its config.yaml: restore it (--resume reads it), not --resume.
  fs::remove(tmp / (std::string("run/") + shiftad::kConfigFile));
  fs::remove(tmp / (std::string("run/") + shiftad::kSummaryFile));
  msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); });
  EXPECT_NE(msg.find("has lost its config.yaml"), std::string::npos) << msg;
}

TEST(Detector, ADataFolderWhoseNameIsNotUtf8TrainsResumesAndScores) {
  // A Latin-1 folder name (an old share): the config that names it goes into the
  // checkpoint's and the center's metadata, which are JSON.
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp, 3);
  const auto latin = tmp / "caf\xe9";
  fs::rename(cfg.data.root, latin);
  cfg.data.root = latin;
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", stop_after_one).trainSummary().interrupted);
  EXPECT_EQ(shiftad::resumeTraining(tmp / "run").resumed_at_epoch, 2);
  auto detector = shiftad::Detector::load(tmp / "run");
  EXPECT_EQ(detector.config().data.root, latin);
  EXPECT_EQ(detector.score(unseenImages(2)).scores.size(), 2u);
  EXPECT_GT(detector.evaluate(cfg, "").auroc, 0.5);
}

TEST(Detector, AResumeWithOtherThreadsGoesOnSayingItWillNotBeBitIdentical) {
  TempDir tmp;
  const auto cfg = tinyConfigOnACopy(tmp, 3);  // trained with one thread (tinyConfig)
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", stop_after_one).trainSummary().interrupted);
  const auto r = shiftad::test::runCli({"train", "--threads", "2", "--resume", tmp / "run"}, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("was written with threads 1, ranks 1, and this resume runs with threads 2, ranks 1"),
            std::string::npos)
      << r.err;
}

TEST(Detector, ACacheFolderInsideARunIsRefusedBeforeAnything) {
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "a");
  // In the run being trained, or in another run: either run could no longer be replaced.
  for (const auto& [cache, run] : {std::pair{tmp / "b/cache", tmp / "b"}, {tmp / "a/cache", tmp / "b"}}) {
    const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(tinyConfig(cache, 1), run); });
    EXPECT_NE(msg.find("encoder.cache_dir '" + cache + "' lies inside the run folder"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(cache)) << "refused before anything is written";
  }
  EXPECT_FALSE(fs::exists(tmp / "b"));
  // And the run it would have spoiled is still replaceable.
  shiftad::FitOptions overwrite;
  overwrite.overwrite = true;
  EXPECT_TRUE(shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "a", overwrite).trained());
}

TEST(Detector, EvaluationRefusesATestSplitHoldingImagesTheRunTrainedOn) {
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp);
  shiftad::Detector::fit(cfg, tmp / "run");
  auto detector = shiftad::Detector::load(tmp / "run");
  EXPECT_GT(detector.evaluate(cfg, "").auroc, 0.5);
  // One target image of the normal class deleted: the split recomputed from the folder
  // moves images of the run's pool (pool.txt) into the test split.
  std::vector<fs::path> circles;
  for (const auto& e : fs::directory_iterator(tmp / "data/target/circle")) circles.push_back(e.path());
  std::sort(circles.begin(), circles.end());
  fs::remove(circles.front());
  auto msg = shiftad::test::errorOf([&] { detector.evaluate(cfg, ""); });
  EXPECT_NE(msg.find("test images were in the pool run"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pool.txt"), std::string::npos) << msg;
  // A saved copy keeps the pool; the same data moved elsewhere is the same data.
  detector.save(tmp / "copy");
  fs::rename(tmp / "data", tmp / "moved");
  auto moved = cfg;
  moved.data.root = tmp / "moved";
  msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "copy").evaluate(moved, ""); });
  EXPECT_NE(msg.find("test images were in the pool run"), std::string::npos) << msg;
  // A scores file that cannot be written costs the file, not the metrics.
  moved.data.root = tmp / "moved";
  fs::copy(synthRoot(), tmp / "fresh", fs::copy_options::recursive);
  auto fresh = cfg;
  fresh.data.root = tmp / "fresh";
  shiftad::Detector::fit(fresh, tmp / "run2");
  // (sysfs refuses new files, even to root; a missing folder is refused before the work.)
  const auto r = shiftad::Detector::load(tmp / "run2").evaluate(fresh, "/sys/scores.csv");
  EXPECT_GT(r.auroc, 0.5);
  EXPECT_EQ(r.scores_file, "");
  msg = shiftad::test::errorOf(
      [&] { shiftad::Detector::load(tmp / "run2").evaluate(fresh, tmp / "no/such/folder/scores.csv"); });
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  // The run's source domain as the target: its normal images are training images.
  auto source = moved;
  source.data.target = "source";
  source.data.source = "target";
  msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "copy").evaluate(source, ""); });
  EXPECT_NE(msg.find("the domain run"), std::string::npos) << msg;
}

TEST(Detector, EvaluationOfAnotherSitesDataWithTheSameFileNamesIsNotRefused) {
  // Two sites' exports share their file names (IMG_0001.JPG): under another split seed
  // some of site 2's test images bear the names of the run's pool images. Where the
  // run's images are still there and hold other bytes, they are other images; a byte
  // copy of the run's data is still refused.
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp);
  shiftad::Detector::fit(cfg, tmp / "run");
  auto detector = shiftad::Detector::load(tmp / "run");
  fs::copy(tmp / "data", tmp / "copy", fs::copy_options::recursive);
  fs::copy(tmp / "data", tmp / "site2", fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(tmp / "site2/target")) {
    if (!e.is_regular_file()) continue;
    cv::Mat m = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED), mirrored;
    ASSERT_FALSE(m.empty()) << e.path();
    cv::flip(m, mirrored, 1);
    cv::rotate(mirrored, mirrored, cv::ROTATE_180);  // a flip of both axes: other bytes, a valid image
    ASSERT_TRUE(cv::imwrite(e.path().string(), mirrored));
  }
  auto copy = cfg;
  copy.data.root = tmp / "copy";
  copy.data.split_seed = 1;
  const auto msg = shiftad::test::errorOf([&] { detector.evaluate(copy, ""); });
  EXPECT_NE(msg.find("test images were in the pool run"), std::string::npos) << msg;
  auto site2 = copy;
  site2.data.root = tmp / "site2";
  EXPECT_EQ(shiftad::test::errorOf([&] { detector.evaluate(site2, ""); }), "");
}

TEST(Detector, EvaluationRefusesTrainingImagesUnderAFolderNameWithALineBreak) {
  // pool.txt held one path a line unquoted: each path split in two, matched nothing, and
  // eval --set data.split_seed=1 tested on 33 training images with exit 0.
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp);
  fs::rename(tmp / "data/target", tmp / "data/tar\nget");
  cfg.data.target = "tar\nget";
  shiftad::Detector::fit(cfg, tmp / "run");
  auto other_split = cfg;
  other_split.data.split_seed = 1;
  const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run").evaluate(other_split, ""); });
  EXPECT_NE(msg.find("test images were in the pool run"), std::string::npos) << msg;
}

TEST(Detector, EvaluationRefusesAnotherNormalClassThanTheRunWasTrainedFor) {
  // A circle detector asked about rings scored AUROC 0.07 and exited 0.
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache");
  shiftad::Detector::fit(cfg, tmp / "run");
  auto detector = shiftad::Detector::load(tmp / "run");
  auto other = cfg;
  other.data.normal_class = "ring";
  const auto msg = shiftad::test::errorOf([&] { detector.evaluate(other, tmp / "scores.csv"); });
  EXPECT_NE(msg.find("was trained with 'circle' as the normal class"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "scores.csv"));
  EXPECT_GT(detector.evaluate(cfg, "").auroc, 0.5);
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
  EXPECT_EQ(stopped.trainSummary().epochs, 2) << "the epochs done, not train.epochs";
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
  EXPECT_EQ(resumed.trainSummary().epochs, 5);
  for (const char* f : {"model.safetensors", "center.safetensors"})
    EXPECT_TRUE(shiftad::test::readText(tmp / "ref/" + f) == shiftad::test::readText(tmp / "run/" + f)) << f;
}

TEST(Detector, AResumedRunsSecondsCountItsEarlierSegments) {
  // summary.json's seconds (results.csv's train_seconds) counted the last segment alone.
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache", 4);
  shiftad::FitOptions slow_then_stop;
  int epochs = 0;
  slow_then_stop.callbacks.progress = [&](const std::string&, int64_t, int64_t) {
    ++epochs;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // inside the fit loop's time
  };
  slow_then_stop.callbacks.cancel = [&] { return epochs >= 2; };
  ASSERT_TRUE(shiftad::Detector::fit(cfg, tmp / "run", slow_then_stop).trainSummary().interrupted);
  shiftad::FitOptions resume;
  resume.resume = true;
  const auto t0 = std::chrono::steady_clock::now();
  const auto s = shiftad::Detector::fit(cfg, tmp / "run", resume).trainSummary();
  const double second_segment = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(s.resumed_at_epoch, 3);
  EXPECT_GT(s.seconds, second_segment) << "the first segment's seconds are missing";
  EXPECT_GE(s.seconds, 3.0);
  const auto json = nlohmann::json::parse(shiftad::test::readText(tmp / "run/summary.json"));
  EXPECT_DOUBLE_EQ(json.at("seconds").get<double>(), s.seconds);
}

TEST(Detector, AFitsWeightsAreItsSeedsWhileTheProcessLoadsRunsAndTheHostsGeneratorIsLeftAlone) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  // The host's generator somewhere in a stream of its own: a fit neither reseeds nor moves it.
  torch::manual_seed(4321);
  auto global = at::detail::getDefaultCPUGenerator();
  const auto before = global.get_state();
  shiftad::Detector::fit(cfg, tmp / "alone");
  EXPECT_TRUE(global.get_state().equal(before));
  // Another thread loads runs all along (each builds F before reading its weights).
  std::atomic<bool> done{false};
  std::thread loader([&] {
    while (!done) shiftad::Detector::load(tmp / "alone");
  });
  shiftad::Detector::fit(cfg, tmp / "busy");
  done = true;
  loader.join();
  for (const char* f : {"model.safetensors", "center.safetensors"})
    EXPECT_TRUE(shiftad::test::readText(tmp / "alone/" + f) == shiftad::test::readText(tmp / "busy/" + f)) << f;
}

TEST(Detector, AnInterruptStopsTheFitItCameInAndNoLaterOne) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache", 3);
  shiftad::handleInterrupts();
  bool raised = false;
  shiftad::FitOptions interrupted_once;
  interrupted_once.callbacks.progress = [&](const std::string&, int64_t, int64_t) {
    if (!std::exchange(raised, true)) std::raise(SIGINT);
  };
  const auto stopped = shiftad::Detector::fit(cfg, tmp / "run", interrupted_once);
  EXPECT_TRUE(stopped.trainSummary().interrupted);
  EXPECT_EQ(shiftad::caughtSignal(), SIGINT);
  // The stop was this fit's: the resume trains to the end, and so does a new run.
  shiftad::FitOptions resume;
  resume.resume = true;
  const auto resumed = shiftad::Detector::fit(cfg, tmp / "run", resume);
  EXPECT_TRUE(resumed.trained());
  EXPECT_EQ(resumed.trainSummary().resumed_at_epoch, 2);
  EXPECT_EQ(shiftad::caughtSignal(), 0);
  EXPECT_TRUE(shiftad::Detector::fit(cfg, tmp / "fresh").trained());
  // Between fits a signal is not saved up for the next one: it does what it does unhandled.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::raise(SIGINT), ::testing::KilledBySignal(SIGINT), "");
}

TEST(Detector, OutputsNeverReplaceARunsFilesNorANodeAndAreCheckedBeforeTheWork) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  auto a = shiftad::Detector::fit(cfg, tmp / "a");
  shiftad::Detector::fit(cfg, tmp / "b");
  const auto model_b = shiftad::test::readText(tmp / "b/model.safetensors");
  const auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  // Over another run's model, or this one's: the run would no longer load.
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "b/model.safetensors"); }),
      "is inside the run directory '" + (tmp / "b") + "'");
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "a/sub.onnx"); }), "is inside the run directory");
  has(shiftad::test::errorOf([&] { a.evaluate(a.config(), tmp / "b/center.safetensors"); }),
      "is inside the run directory");
  EXPECT_EQ(shiftad::test::readText(tmp / "b/model.safetensors"), model_b);
  EXPECT_NO_THROW(shiftad::Detector::load(tmp / "b"));
  // A run's own test_scores.csv is what eval writes.
  EXPECT_FALSE(a.evaluate(a.config(), tmp / "a/test_scores.csv").scores_file.empty());
  // A FIFO stays a FIFO; an empty path is refused before the work.
  ASSERT_EQ(mkfifo((tmp / "fifo").c_str(), 0600), 0);
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "fifo"); }), "is not a regular file");
  EXPECT_TRUE(fs::is_fifo(tmp / "fifo"));
  has(shiftad::test::errorOf([&] { a.exportOnnx(""); }), "is empty");
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "nodir/a.onnx"); }), "does not exist");
  // save() as `train --out`: not inside a run (it would block that run's --overwrite), not "".
  has(shiftad::test::errorOf([&] { a.save(tmp / "b/copy"); }), "lies inside the run folder");
  EXPECT_FALSE(fs::exists(tmp / "b/copy"));
  has(shiftad::test::errorOf([&] { a.save(""); }), "empty path");
}

TEST(Detector, WeightsOrAnEncoderThatIsAPipeOrADeviceIsRefusedBeforeAByteIsRead) {
  // A pipe blocked fit in open() for good, and /dev/zero was read for ever (a SIGTERM
  // stopped neither), while the digest of the run's inputs was taken.
  TempDir tmp;
  ASSERT_EQ(mkfifo((tmp / "fifo.safetensors").c_str(), 0600), 0);
  for (const std::string& path : {tmp / "fifo.safetensors", std::string("/dev/zero")}) {
    auto weights = tinyConfig(tmp / "cache");
    weights.model.weights = path;
    auto msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(weights, tmp / "w"); });
    EXPECT_NE(msg.find("model.weights '" + path + "' is not a regular file"), std::string::npos) << msg;
    auto encoder = tinyConfig(tmp / "cache");
    encoder.encoder.type = shiftad::EncoderType::kTorchScript;
    encoder.encoder.path = path;
    msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(encoder, tmp / "e"); });
    EXPECT_NE(msg.find("encoder.path '" + path + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  }
}

TEST(Detector, ASavedRunWithoutCalibrationKeepsItsDominantSetAndScoresTheSame) {
  // save() of a run without calibration.json whose data was away wrote no dominant.txt:
  // the copy then calibrated on the whole pool, and its normalised scores differed.
  TempDir tmp;
  const auto cfg = tinyConfigOnACopy(tmp);
  shiftad::Detector::fit(cfg, tmp / "a");
  ASSERT_TRUE(fs::exists(tmp / (std::string("a/") + shiftad::kDominantFile)));
  fs::remove(tmp / (std::string("a/") + shiftad::kCalibrationFile));
  fs::rename(tmp / "data", tmp / "away");
  shiftad::Detector::load(tmp / "a").save(tmp / "b");
  fs::rename(tmp / "away", tmp / "data");
  EXPECT_EQ(shiftad::test::readText(tmp / (std::string("b/") + shiftad::kDominantFile)),
            shiftad::test::readText(tmp / (std::string("a/") + shiftad::kDominantFile)));
  const auto images = unseenImages(6);
  const auto a = shiftad::Detector::load(tmp / "a").score(images), b = shiftad::Detector::load(tmp / "b").score(images);
  ASSERT_EQ(a.scores.size(), b.scores.size());
  for (size_t i = 0; i < a.scores.size(); ++i) {
    EXPECT_EQ(a.scores[i].score, b.scores[i].score);
    EXPECT_EQ(a.scores[i].normalised_score, b.scores[i].normalised_score) << images[i];
  }
}

TEST(Detector, WeightsThatGiveNaNFeaturesAreNamedNotTheLearningRateOrAMixture) {
  // A BatchNorm running_var below 0 (a bad conversion): the trunk gives NaN. Head-only it
  // failed as "a two-component mixture needs 2 distinct values"; fine-tuned, as a
  // divergence to fix by lowering train.lr.
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "a");
  auto file = shiftad::io::readSafeTensors(tmp / "a/model.safetensors");
  int broken = 0;
  for (auto& [name, tensor] : file.tensors)
    if (name.find("running_var") != std::string::npos && broken++ == 0) tensor = -torch::ones_like(tensor);
  ASSERT_GT(broken, 0) << "no BatchNorm in the small CNN";
  const auto weights = tmp / "negvar.safetensors";
  shiftad::io::writeSafeTensors(weights, file.tensors, file.metadata);
  auto cfg = tinyConfig(tmp / "cache", 1);
  cfg.model.weights = weights;
  cfg.model.freeze = -1;
  auto msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(cfg, tmp / "head"); });
  EXPECT_NE(msg.find("trunk (model.weights '" + weights + "') gives NaN or Inf features for"), std::string::npos)
      << msg;
  cfg.model.freeze = 0;
  msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(cfg, tmp / "fine"); });
  EXPECT_NE(msg.find("F's starting weights (model.weights '" + weights +
                     "') give NaN or Inf features, before any "
                     "update"),
            std::string::npos)
      << msg;
}

TEST(Detector, PreprocessingOtherThanTheWeightsRecordOrOnThe255ScaleIsWarnedOf) {
  // An ImageNet network fed other sizes or normalisations, or mean 123 and std 58 on
  // [0, 1] pixels, trained and scored without a word.
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "a");
  auto file = shiftad::io::readSafeTensors(tmp / "a/model.safetensors");
  const auto weights = tmp / "recorded.safetensors";
  shiftad::io::writeSafeTensors(
      weights, file.tensors,
      {{"input_size", "64"}, {"normalize_mean", "0.485,0.456,0.406"}, {"normalize_std", "0.50196,0.50196,0.50196"}});
  auto cfg = tinyConfig(tmp / "cache", 1);
  cfg.model.weights = weights;
  cfg.data.mean = {123.675, 116.28, 103.53};
  shiftad::test::CapturedLog log;
  shiftad::Detector::fit(cfg, tmp / "b");
  const auto text = log.text();
  EXPECT_NE(text.find("records input_size 64, and data.image_size is " + std::to_string(cfg.data.image_size)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("records normalize_mean 0.485,0.456,0.406, and data.mean is [123.675, 116.28, 103.53]"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("records normalize_std"), std::string::npos) << "0.50196 is 0.5: " << text;
  EXPECT_NE(text.find("look like values on the 0-255 scale"), std::string::npos) << text;
}

TEST(Detector, APretrainedArchitectureUsedFrozenWithoutItsWeightsIsWarnedOf) {
  // Φ as F's initial MobileNetV2 trunk, and a head trained on it, with model.weights
  // forgotten: the pool was clustered in random features without a word (hunt12-b #11).
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache", 1);
  cfg.encoder.type = shiftad::EncoderType::kBackbone;
  cfg.model.freeze = -1;
  {
    shiftad::test::CapturedLog log;  // small_cnn has no pretrained weights: random by design
    shiftad::Detector::fit(cfg, tmp / "small");
    EXPECT_EQ(log.text().find("holds random weights"), std::string::npos) << log.text();
  }
  cfg.model.arch = shiftad::Arch::kMobileNetV2;
  cfg.data.image_size = 32;
  shiftad::test::CapturedLog log;
  shiftad::Detector::fit(cfg, tmp / "mobilenet");
  EXPECT_NE(
      log.text().find("model.weights is empty, so F's mobilenet_v2 trunk holds random weights, and Φ "
                      "(encoder.type: backbone) clusters the pool in it, and model.freeze -1 trains only the head "
                      "on it"),
      std::string::npos)
      << log.text();
}

TEST(Detector, AnOutputGivenAsALinkIsWrittenWhereItLeadsAndALinkIntoProcIsRefused) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  auto a = shiftad::Detector::fit(cfg, tmp / "a");
  shiftad::Detector::fit(cfg, tmp / "b");
  const auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  // A link to a file that does not exist yet, and one to a file that does: written through, kept.
  fs::create_directories(tmp / "results");
  fs::create_symlink("results/detector.onnx", tmp / "latest.onnx");
  a.exportOnnx(tmp / "latest.onnx");
  EXPECT_TRUE(fs::is_symlink(tmp / "latest.onnx"));
  EXPECT_GT(fs::file_size(tmp / "results/detector.onnx"), 1000u);
  shiftad::test::writeFile(tmp / "results/scores.csv", "old\n");
  fs::create_symlink(tmp / "results/scores.csv", tmp / "scores.csv");
  a.evaluate(a.config(), tmp / "scores.csv");
  EXPECT_TRUE(fs::is_symlink(tmp / "scores.csv"));
  EXPECT_EQ(shiftad::test::readText(tmp / "results/scores.csv").rfind("label,score,path\n", 0), 0u);
  // A link into another run is checked where it leads.
  const auto model_b = shiftad::test::readText(tmp / "b/model.safetensors");
  fs::create_symlink(tmp / "b/model.safetensors", tmp / "innocent.onnx");
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "innocent.onnx"); }), "is inside the run directory");
  EXPECT_EQ(shiftad::test::readText(tmp / "b/model.safetensors"), model_b);
  // /dev/stdout leads into /proc: a process's open file, never replaced by a file.
  fs::create_symlink("/proc/self/fd/1", tmp / "stdout");
  has(shiftad::test::errorOf([&] { a.exportOnnx(tmp / "stdout"); }), "a process's open file");
  has(shiftad::test::errorOf([&] { a.exportOnnx("/proc/self/fd/1"); }), "a process's open file");
  EXPECT_TRUE(fs::is_symlink(tmp / "stdout"));
}

TEST(Detector, ARunsFilesBelongTogetherAndAFinishedRunMissingOneSaysSo) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  shiftad::Detector::fit(cfg, tmp / "a");
  auto other = cfg;
  other.train.seed = 1;
  shiftad::Detector::fit(other, tmp / "b");
  const auto copyOfA = [&](const std::string& name) {
    fs::copy(tmp / "a", tmp / name, fs::copy_options::recursive);
    return tmp / name;
  };
  const auto loadError = [&](const std::string& dir) {
    return shiftad::test::errorOf([&] { shiftad::Detector::load(dir); });
  };
  // Another run's model, another run's calibration: named, never scored with.
  auto dir = copyOfA("model_of_b");
  fs::copy_file(tmp / "b/model.safetensors", dir + "/model.safetensors", fs::copy_options::overwrite_existing);
  auto msg = loadError(dir);
  EXPECT_NE(msg.find("mixes files of two runs"), std::string::npos) << msg;
  dir = copyOfA("calibration_of_b");
  fs::copy_file(tmp / "b/calibration.json", dir + "/calibration.json", fs::copy_options::overwrite_existing);
  msg = loadError(dir);
  EXPECT_NE(msg.find("was made for another run"), std::string::npos) << msg;
  EXPECT_NE(msg.find("delete it"), std::string::npos) << msg;
  // One bit of the center flipped on disk: still a valid float, and named.
  dir = copyOfA("bit_flip");
  auto bytes = shiftad::test::readText(dir + "/center.safetensors");
  bytes[bytes.size() - 3] ^= 0x10;
  shiftad::test::writeFile(dir + "/center.safetensors", bytes);
  msg = loadError(dir);
  EXPECT_NE(msg.find("center.safetensors' is damaged"), std::string::npos) << msg;
  // A finished run that lost a file: restore it, not --resume (which would say it is finished).
  dir = copyOfA("lost_model");
  fs::remove(dir + "/model.safetensors");
  msg = loadError(dir);
  EXPECT_NE(msg.find("holds a finished run"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("--resume"), std::string::npos) << msg;
  // run.variant is a name, not a setting F was trained under.
  dir = copyOfA("renamed");
  auto text = shiftad::test::readText(dir + "/config.yaml");
  const auto at = text.find("variant: custom");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::strlen("variant: custom"), "variant: my_line_3");
  shiftad::test::writeFile(dir + "/config.yaml", text);
  EXPECT_EQ(loadError(dir), "");
}

TEST(Detector, AMovedRunRecalibratesFromItsDominantSetAsInPlace) {
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp);
  cfg.threshold.rule = shiftad::ThresholdRule::kNormalQuantile;
  const auto in_place = shiftad::Detector::fit(cfg, tmp / "run").thresholdInfo();
  ASSERT_EQ(in_place.normals, "dominant_set");
  // The data and the run moved, config.yaml's data.root edited to follow, calibration.json
  // deleted (as docs/deploy.md says to change the rule): the same images, the same threshold.
  fs::rename(tmp / "data", tmp / "moved");
  fs::rename(tmp / "run", tmp / "run2");
  const auto config = tmp / (std::string("run2/") + shiftad::kConfigFile);
  auto text = shiftad::test::readText(config);
  const auto old_root = tmp / "data";
  text.replace(text.find(old_root), old_root.size(), tmp / "moved");
  shiftad::test::writeFile(config, text);
  fs::remove(tmp / (std::string("run2/") + shiftad::kCalibrationFile));
  const auto moved = shiftad::Detector::load(tmp / "run2").thresholdInfo();
  EXPECT_EQ(moved.normals, "dominant_set");
  EXPECT_EQ(moved.calibration_images, in_place.calibration_images);
  EXPECT_DOUBLE_EQ(moved.threshold, in_place.threshold);
}

TEST(Detector, AConfigFilledInCodeIsCheckedAsAFileIsBeforeAnythingIsWritten) {
  TempDir tmp;
  const auto refused = [&](const std::function<void(shiftad::Config&)>& edit, const std::string& key) {
    auto cfg = tinyConfig(tmp / "cache");
    edit(cfg);
    const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::fit(cfg, tmp / "run"); });
    EXPECT_NE(msg.find("'" + key + "'"), std::string::npos) << key << ": " << msg;
    EXPECT_EQ(msg.find("frame #"), std::string::npos) << "no LibTorch backtrace: " << msg;
    EXPECT_FALSE(fs::exists(tmp / "run")) << key;
    EXPECT_THROW(shiftad::validateConfig(cfg), shiftad::Error) << key;
  };
  refused([](shiftad::Config& c) { c.train.lr = std::nan(""); }, "train.lr");
  refused([](shiftad::Config& c) { c.train.lr = -1; }, "train.lr");
  refused([](shiftad::Config& c) { c.train.weight_decay = -1; }, "train.weight_decay");
  refused([](shiftad::Config& c) { c.model.width = 0; }, "model.width");
  refused([](shiftad::Config& c) { c.train.threads = -5; }, "train.threads");
  refused([](shiftad::Config& c) { c.threshold.quantile = 2; }, "threshold.quantile");
  refused([](shiftad::Config& c) { c.data.mean = {1}; }, "data.mean");
  refused([](shiftad::Config& c) { c.data.image_size = 0; }, "data.image_size");
  // The library's defaults pass, and so does the config a file gives.
  EXPECT_NO_THROW(shiftad::validateConfig(shiftad::Config{}));
  EXPECT_NO_THROW(shiftad::validateConfig(tinyConfig(tmp / "cache")));
}

TEST(Detector, DecideWithoutACalibrationOrItsDataGivesScoresAndNoDecision) {
  TempDir tmp;
  auto cfg = tinyConfigOnACopy(tmp);
  shiftad::Detector::fit(cfg, tmp / "run");
  fs::remove(tmp / "run/calibration.json");
  fs::remove_all(tmp / "data");  // the deployment machine: the run, no data set
  auto d = shiftad::Detector::load(tmp / "run");
  const auto image = cv::imread(unseenImages(1)[0], cv::IMREAD_COLOR);
  cv::Mat rgb;
  cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);
  const shiftad::ImageView view{rgb.cols, rgb.rows, static_cast<size_t>(rgb.step), rgb.data};
  std::vector<shiftad::ImageScore> decided;
  ASSERT_NO_THROW(decided = d.decide({view, view}));
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_EQ(decided[0].score, d.score(std::vector<shiftad::ImageView>{view})[0]);
  EXPECT_TRUE(std::isnan(decided[0].normalised_score));
  EXPECT_FALSE(decided[0].anomalous);
  EXPECT_THROW(d.threshold(), shiftad::Error) << "asked for, the threshold that cannot be made is an error";
}

TEST(Detector, ARunBeingTrainedIsNamedAsSuchWhenLoadedAndPathsGiveTheLibrarysError) {
  TempDir tmp;
  std::string msg;
  shiftad::FitOptions options;
  options.callbacks.progress = [&](const std::string&, int64_t done, int64_t) {
    if (done == 1) msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); });
  };
  EXPECT_TRUE(shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run", options).trained());
  EXPECT_NE(msg.find("process " + std::to_string(::getpid()) + " is training it"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("--resume"), std::string::npos) << "a resume would be refused by the lock: " << msg;
  // Paths the file system refuses are shiftad::Error, not std::filesystem's exceptions.
  EXPECT_THROW(shiftad::Detector::fit(tinyConfig(tmp / "cache"), ""), shiftad::Error);
  auto d = shiftad::Detector::load(tmp / "run");
  const auto refused = shiftad::test::errorOf([&] { d.save("/proc/shiftad-test/run"); });
  EXPECT_NE(refused.find("/proc/shiftad-test"), std::string::npos) << refused;
  // A name longer than the file system's 255 bytes: load and loadRunConfig let
  // std::filesystem's exception out (the documented example, which catches Error,
  // aborted), save did the whole work and left a hidden copy of the run behind (hunt14-a).
  const std::string too_long = tmp / std::string(300, 'a');
  for (const auto& [call, what] : std::vector<std::pair<std::function<void()>, std::string>>{
           {[&] { shiftad::Detector::load(too_long); }, "cannot load the run"},
           {[&] { shiftad::loadRunConfig(too_long); }, "cannot read the run"},
           {[&] { shiftad::poolDiagnostics(too_long); }, "cannot read the run"},
           {[&] { d.save(too_long); }, "cannot save a detector to"}}) {
    const auto e = shiftad::test::errorOf(call);  // an Error, or the test fails here
    EXPECT_NE(e.find(what), std::string::npos) << e;
    EXPECT_NE(e.find(std::strerror(ENAMETOOLONG)), std::string::npos) << e;
  }
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    EXPECT_NE(entry.path().filename().string().rfind(".aaa", 0), 0u) << "left behind: " << entry.path();
  // A path that is no run is an error, not a run that aligned nothing.
  EXPECT_NE(shiftad::test::errorOf([&] { shiftad::poolDiagnostics(tmp / "none"); }).find("does not exist"),
            std::string::npos);
  EXPECT_TRUE(shiftad::poolDiagnostics(tmp / "run").present);
  // save() into a folder that does not exist is refused before the work, as exportOnnx is.
  const auto missing = shiftad::test::errorOf([&] { d.save(tmp / "missing/sub/run"); });
  EXPECT_NE(missing.find("does not exist; create it first"), std::string::npos) << missing;
  EXPECT_FALSE(fs::exists(tmp / "missing"));
}

TEST(Detector, TrainThreadsSetTheThreadsOfFitAndEvaluateAndSetThreadsThoseOfDecoding) {
  // train.threads was read, validated and written into every run, and used by nothing.
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache", 1);
  // On a new thread: LibTorch sets a thread's OpenMP threads to its own setting at the
  // thread's first parallel operator, which here comes inside fit, as in the CLI.
  std::thread([&] {
    shiftad::setThreads(3);
    EXPECT_EQ(shiftad::defaultThreads(), 3) << "decoding (data.threads 0) follows setThreads";
    std::set<int> during;
    shiftad::FitOptions options;
    options.callbacks.progress = [&](const std::string&, int64_t, int64_t) { during.insert(omp_get_max_threads()); };
    cfg.train.threads = 2;
    auto d = shiftad::Detector::fit(cfg, tmp / "run", options);
    EXPECT_EQ(during, std::set<int>{2}) << "fit runs on train.threads";
    EXPECT_EQ(omp_get_max_threads(), 3) << "and gives the caller's setting back";
    during.clear();
    cfg.train.threads = 1;
    d.evaluate(cfg);
    EXPECT_EQ(during, std::set<int>{1}) << "evaluate runs on its config's train.threads";
    during.clear();
    cfg.train.threads = 0;
    d.evaluate(cfg);
    EXPECT_EQ(during, std::set<int>{3}) << "0: the caller's setting";
  }).join();
  shiftad::setThreads(1);
}

TEST(Detector, AHostsDefaultDtypeReachesNeitherItsNetworksNorItsScores) {
  // LibTorch's default dtype is the process's: a host that set double got float64
  // networks that refused float32 images, in LibTorch's words and backtrace.
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "run");
  const auto images = unseenImages(4);
  auto before = shiftad::Detector::load(tmp / "run");
  const auto expected = before.score(images);
  torch::set_default_dtype(caffe2::TypeMeta::Make<double>());
  std::string error;
  shiftad::ScoreResult loaded, kept;
  try {
    loaded = shiftad::Detector::load(tmp / "run").score(images);
    kept = before.score(images);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const bool host_kept_its_dtype = torch::get_default_dtype() == caffe2::TypeMeta::Make<double>();
  torch::set_default_dtype(caffe2::TypeMeta::Make<float>());
  ASSERT_EQ(error, "");
  EXPECT_TRUE(host_kept_its_dtype);
  ASSERT_EQ(loaded.scores.size(), expected.scores.size());
  for (size_t i = 0; i < expected.scores.size(); ++i) {
    EXPECT_EQ(loaded.scores[i].score, expected.scores[i].score) << i;
    EXPECT_EQ(kept.scores[i].score, expected.scores[i].score) << i;
  }
}

TEST(Detector, TheDiskCachesStayWithinEncoderCacheMaxGbAfterAFit) {
  // Shared by every run and never trimmed, they grew with every new set of files.
  TempDir tmp;
  const auto cacheBytes = [&] {
    uintmax_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp / "cache"))
      bytes += e.is_regular_file() ? e.file_size() : 0;
    return bytes;
  };
  auto cfg = tinyConfig(tmp / "cache", 1);
  cfg.data.image_cache = true;
  cfg.encoder.cache_max_gb = 0;  // no limit
  shiftad::Detector::fit(cfg, tmp / "run1");
  const auto full = cacheBytes();
  ASSERT_GT(full, 10000u) << "the fit went through the disk caches";
  cfg.encoder.cache_max_gb = static_cast<double>(full / 2) / 1e9;
  cfg.train.seed = 1;
  shiftad::test::CapturedLog log;
  auto d = shiftad::Detector::fit(cfg, tmp / "run2");
  EXPECT_LE(cacheBytes(), full / 2 / 10 * 9) << "down to 90% of the limit";
  EXPECT_NE(log.text().find("least recently used entries"), std::string::npos) << log.text();
  EXPECT_EQ(d.score(unseenImages(2)).scores.size(), 2u);
}

TEST(Detector, ALoadedDetectorScoresWithoutFillingTheDiskCachesUnlessAsked) {
  TempDir tmp;
  auto cfg = tinyConfig(tmp / "cache");
  cfg.data.image_cache = true;
  shiftad::Detector::fit(cfg, tmp / "run");
  const auto files = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp / "cache")) n += e.is_regular_file();
    return n;
  };
  const auto after_training = files();
  ASSERT_GT(after_training, 0u) << "training went through the disk caches";
  const auto images = unseenImages(6);
  const auto scores = valuesOf(shiftad::Detector::load(tmp / "run").score(images));
  EXPECT_EQ(files(), after_training) << "new images scored: nothing written to disk";
  shiftad::LoadOptions asked;
  asked.disk_caches = true;
  EXPECT_EQ(valuesOf(shiftad::Detector::load(tmp / "run", asked).score(images)), scores);
  EXPECT_GT(files(), after_training) << "asked: their decoded images are cached";
}

TEST(Detector, AMovedFromDetectorIsAnErrorNotACrash) {
  TempDir tmp;
  auto d = shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  shiftad::Detector e = std::move(d);
  EXPECT_TRUE(e.trained());
  const auto msg = shiftad::test::errorOf([&] { (void)d.trained(); });  // NOLINT(bugprone-use-after-move)
  EXPECT_NE(msg.find("was moved from"), std::string::npos) << msg;
  EXPECT_THROW((void)d.config(), shiftad::Error);              // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(d.score(unseenImages(1)), shiftad::Error);      // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(d.exportOnnx(tmp / "x.onnx"), shiftad::Error);  // NOLINT(bugprone-use-after-move)
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

TEST(Detector, EvaluationScoresTheTestSplitInScoringsChunksWithTheSameResults) {
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  shiftad::Detector::fit(cfg, tmp / "run");
  // In scoring's own chunks (api::kScoreChunk).
  const auto whole = shiftad::Detector::load(tmp / "run").evaluate(cfg, tmp / "whole.csv");
  const auto n = static_cast<int64_t>(whole.normal + whole.anomalous);
  // Chunks of 64: F embeds images in batches of models::kInferenceImages (16), which 64
  // and kScoreChunk divide, so the batches, and their float rounding, are those of one
  // pass (chunks of 7 differed in the 7th digit).
  constexpr int64_t kChunk = 64;
  ASSERT_GT(n, 3 * kChunk);
  struct SmallChunks {  // restored whatever fails below
    SmallChunks() { shiftad::api::setScoreChunk(kChunk); }
    ~SmallChunks() { shiftad::api::setScoreChunk(0); }
  } small_chunks;
  shiftad::LoadOptions options;
  std::vector<int64_t> done;
  options.callbacks.progress = [&](const std::string& stage, int64_t d, int64_t total) {
    EXPECT_EQ(stage, "score");
    EXPECT_EQ(total, n);
    done.push_back(d);
  };
  const auto chunked = shiftad::Detector::load(tmp / "run", options).evaluate(cfg, tmp / "chunked.csv");
  // The split went through in chunks of 64, each forgotten once scored: never held whole.
  ASSERT_EQ(done.size(), static_cast<size_t>((n + kChunk - 1) / kChunk));
  for (size_t i = 0; i < done.size(); ++i) EXPECT_EQ(done[i], std::min<int64_t>(kChunk * (i + 1), n)) << i;
  // The same per-image scores and metrics as in one chunk.
  EXPECT_EQ(shiftad::test::readText(tmp / "chunked.csv"), shiftad::test::readText(tmp / "whole.csv"));
  EXPECT_EQ(chunked.auroc, whole.auroc);
  EXPECT_EQ(chunked.aupr, whole.aupr);
  EXPECT_EQ(chunked.f1, whole.f1);
  EXPECT_EQ(chunked.f1_max, whole.f1_max);
  // And score()'s on the same files.
  std::istringstream in(shiftad::test::readText(tmp / "chunked.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> paths, texts;
  while (std::getline(in, line)) {  // label,score,path (these paths need no quoting)
    const auto a = line.find(','), b = line.find(',', a + 1);
    texts.push_back(line.substr(a + 1, b - a - 1));
    paths.push_back(line.substr(b + 1));
  }
  const auto scored = shiftad::Detector::load(tmp / "run").score(paths);
  ASSERT_EQ(scored.scores.size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ(scored.scores[i].path, paths[i]);
    EXPECT_EQ(fmt::format("{:.9g}", scored.scores[i].score), texts[i]) << paths[i];
  }
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
  // Detectors that score through it too: the second finds the first's images.
  shiftad::LoadOptions shared;
  shared.cache = cache;
  const auto images = unseenImages(5);
  auto a = shiftad::Detector::load(tmp / "a", shared), b = shiftad::Detector::load(tmp / "b", shared);
  a.score(images);
  const auto after_scoring = cache->stats().decoded_images;
  EXPECT_GT(after_scoring, after_first) << "unseen images are decoded once";
  b.score(images);
  EXPECT_EQ(cache->stats().decoded_images, after_scoring);
}

TEST(Detector, FiniteButInvalidWeightsAreAnErrorNotANanScore) {
  // Loading refuses NaN and Inf, but a negative BatchNorm variance is finite: its
  // sqrt is NaN, and so is every score through it.
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache", 1), tmp / "run");
  auto file = shiftad::io::readSafeTensors(tmp / "run/model.safetensors");
  bool edited = false;
  for (auto& [name, t] : file.tensors)
    if (!edited && name.find("running_var") != std::string::npos) {
      t[0] = -1.0;
      edited = true;
    }
  ASSERT_TRUE(edited) << "no BatchNorm in the small CNN: nothing tested";
  // Written as a run of an earlier version (no checksum, which would name the change first).
  file.metadata.erase("tensors_xxh64");
  file.metadata.erase("run_id");
  shiftad::io::writeSafeTensors(tmp / "run/model.safetensors", file.tensors, file.metadata);
  auto detector = shiftad::Detector::load(tmp / "run");
  const auto paths = unseenImages(3);
  for (const auto& call :
       std::vector<std::function<void()>>{[&] { detector.score(paths); },
                                          [&] {
                                            const auto d = decodeRgb(paths[0], 0);
                                            detector.score(std::vector<shiftad::ImageView>{d.view()});
                                          }}) {
    try {
      call();
      ADD_FAILURE() << "expected shiftad::Error";
    } catch (const shiftad::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;
      EXPECT_NE(msg.find(tmp / "run"), std::string::npos) << msg;
    }
  }
}

TEST(Detector, ARunExchangedForItsReplacementWhileLoadingLoadsAsOneRunOrTheOther) {
  // `train --overwrite` exchanges the run's folder for the new one in one step
  // (renameat2 RENAME_EXCHANGE); a load reading one file after another could straddle it
  // and refuse the run as two runs' files, advising to delete a good calibration.json
  // (about one load per exchange failed). Here a thread exchanges two runs a few loads
  // apart (at least 15 ms; longer on a loaded machine, where a load that outlasts several
  // exchanges is straddled on every retry, which a real --overwrite, one exchange, is not).
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache");
  shiftad::Detector::fit(cfg, tmp / "run");
  auto other = cfg;
  other.train.seed = 1;
  shiftad::Detector::fit(other, tmp / "next");
  const double a = shiftad::Detector::load(tmp / "run").threshold(),
               b = shiftad::Detector::load(tmp / "next").threshold();
  ASSERT_NE(a, b);
  const auto t_loads = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) (void)shiftad::Detector::load(tmp / "run");
  const auto period = std::max<std::chrono::steady_clock::duration>(
      std::chrono::milliseconds(15), (std::chrono::steady_clock::now() - t_loads) * 3 / 5);
  std::atomic<bool> done{false};
  std::atomic<int> exchanges{0};
  std::thread swapper([&] {
    const auto run = tmp / "run", next = tmp / "next";
    while (!done) {
      ASSERT_EQ(::renameat2(AT_FDCWD, next.c_str(), AT_FDCWD, run.c_str(), RENAME_EXCHANGE), 0) << std::strerror(errno);
      ++exchanges;
      std::this_thread::sleep_for(period);
    }
  });
  int loads = 0;
  std::vector<std::string> failures;
  for (const auto t0 = std::chrono::steady_clock::now();
       exchanges < 100 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60); ++loads) {
    try {
      const double t = shiftad::Detector::load(tmp / "run").threshold();
      if (t != a && t != b) failures.push_back("threshold " + std::to_string(t) + " is neither run's");
    } catch (const shiftad::Error& e) {
      failures.push_back(e.what());
    }
  }
  done = true;
  swapper.join();
  ASSERT_GE(exchanges.load(), 100);
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << loads << " loads failed across " << exchanges
                                << " exchanges, e.g. " << failures.front();
}

TEST(Detector, ARunWhoseTrainingHasNotWrittenItsCalibrationYetIsNotRecalibrated) {
  // While training writes the run (its lock live), calibration.json comes last: a load in
  // between took the run for one that lost the file and set a threshold of its own.
  TempDir tmp;
  shiftad::Detector::fit(tinyConfig(tmp / "cache"), tmp / "run");
  fs::remove(tmp / (std::string("run/") + shiftad::kCalibrationFile));
  {
    std::ofstream lock(tmp / "run/lock");
    lock << ::getpid() << "\n";  // an older version's lock: the pid alone, a live one
  }
  const auto msg = shiftad::test::errorOf([&] { shiftad::Detector::load(tmp / "run"); });
  EXPECT_NE(msg.find("is training it"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / (std::string("run/") + shiftad::kCalibrationFile)));
}

TEST(Detector, EvaluateWritesNoScoresIntoARunThatReplacedItsFolderMeanwhile) {
  // `eval` of a run that `train --overwrite` replaced while it scored wrote the old
  // model's test scores into the new run's test_scores.csv (hunt14-b #2). The exchange
  // is made here by hand, as replaceRun makes it: another folder under the run's name.
  TempDir tmp;
  const auto cfg = tinyConfig(tmp / "cache", 1);
  shiftad::Detector::fit(cfg, tmp / "run");
  auto old = shiftad::Detector::load(tmp / "run");
  fs::rename(tmp / "run", tmp / "old");
  shiftad::Detector::fit(cfg, tmp / "run");
  const auto file = tmp / "run/test_scores.csv";
  ASSERT_FALSE(fs::exists(file));
  const auto r = old.evaluate(cfg, file);
  EXPECT_GT(r.auroc, 0.5);
  EXPECT_EQ(r.scores_file, "");
  EXPECT_FALSE(fs::exists(file));
  // A folder that stayed is written, again and again (a write in it changes its ctime).
  auto same = shiftad::Detector::load(tmp / "run");
  EXPECT_EQ(same.evaluate(cfg, file).scores_file, file);
  EXPECT_EQ(same.evaluate(cfg, file).scores_file, file);
}
