// `shiftad export` / Detector::exportOnnx checked by ONNX Runtime (npm's onnxruntime-node,
// through tools/onnxruntime/run.js): per architecture, a detector trained for an epoch on
// the synthetic benchmark is exported, its graph is run in ONNX Runtime on pixels that
// this test resizes itself with OpenCV as the model's metadata says, and the scores and
// embeddings must equal Detector::score / Detector::embed of the same image files to
// 1e-4 relative. Skipped with a message where Node or onnxruntime-node is absent.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

const std::string kRunJs = std::string(SHIFTAD_SOURCE_DIR) + "/tools/onnxruntime/run.js";

/// Why ONNX Runtime cannot run here ("" when it can).
std::string runtimeMissing() {
  if (std::system("command -v node >/dev/null 2>&1") != 0)
    return "node is not installed (Debian: apt-get install nodejs npm)";
  if (!fs::is_directory(std::string(SHIFTAD_SOURCE_DIR) + "/tools/onnxruntime/node_modules/onnxruntime-node"))
    return "onnxruntime-node is not installed in tools/onnxruntime (bash scripts/install_deps.sh installs it)";
  return "";
}

/// stdout of a shell command; fails the test on a non-zero exit.
std::string output(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << command << " failed: " << out;
  return out;
}

/// The model's metadata_props, read back with the ONNX protobuf classes.
std::map<std::string, std::string> metadataOf(const std::string& model_path) {
  onnx::ModelProto model;
  std::ifstream in(model_path, std::ios::binary);
  EXPECT_TRUE(model.ParseFromIstream(&in)) << model_path;
  std::map<std::string, std::string> out;
  for (const auto& p : model.metadata_props()) out[p.key()] = p.value();
  return out;
}

/// The caller's side of the contract, done here with OpenCV as docs/deploy.md and the
/// metadata say: decode to RGB, resize to SIDE x SIDE (INTER_AREA when neither side
/// grows, else INTER_LINEAR; bicubic: INTER_CUBIC), uint8 NHWC, appended to `bytes`.
void appendPixels(const std::string& path, int side, const std::string& filter, std::string& bytes) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR), rgb;
  ASSERT_FALSE(bgr.empty()) << path;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (rgb.cols != side || rgb.rows != side) {
    const bool shrink = rgb.cols >= side && rgb.rows >= side;
    const int f = filter == "bicubic" ? cv::INTER_CUBIC : (shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::Mat resized;
    cv::resize(rgb, resized, cv::Size(side, side), 0, 0, f);
    rgb = resized;
  }
  ASSERT_TRUE(rgb.isContinuous());
  bytes.append(reinterpret_cast<const char*>(rgb.data), rgb.total() * 3);
}

/// Target images of every class (normals and anomalies), a few each, sorted.
std::vector<std::string> someTargetImages() {
  std::vector<std::string> out;
  for (const auto& cls : fs::directory_iterator(shiftad::test::synthRoot() + "/target")) {
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(cls.path())) files.push_back(f.path().string());
    std::sort(files.begin(), files.end());
    files.resize(std::min<size_t>(files.size(), 2));
    out.insert(out.end(), files.begin(), files.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct ArchCase {
  std::string name;
  std::vector<std::string> overrides;
};

std::ostream& operator<<(std::ostream& os, const ArchCase& c) { return os << c.name; }

shiftad::Config configOf(const ArchCase& c, const std::string& cache_dir) {
  shiftad::Config base = shiftad::test::protocolOf(shiftad::test::synthRoot(), "circle");
  base.train.epochs = 1;
  base.train.batch_size = 16;
  base.encoder.cache_dir = cache_dir;
  return shiftad::parseConfig(shiftad::dumpConfig(base), c.overrides, "test");
}

class OnnxExportTest : public ::testing::TestWithParam<ArchCase> {};

TEST_P(OnnxExportTest, OnnxRuntimeScoresAsTheDetector) {
  if (const auto why = runtimeMissing(); !why.empty()) GTEST_SKIP() << "ONNX Runtime check skipped: " << why;
  shiftad::setThreads(2);
  TempDir tmp;
  auto det = shiftad::Detector::fit(configOf(GetParam(), tmp / "cache"), tmp / "run");
  const auto model = tmp / "detector.onnx";
  det.exportOnnx(model);

  const auto meta = metadataOf(model);
  const auto& d = det.config().data;
  const int side = d.resize > 0 ? d.resize : d.image_size;  // the contract: scoring's resize side
  EXPECT_EQ(meta.at("input_side"), std::to_string(side));
  EXPECT_EQ(meta.at("crop_side"), std::to_string(d.image_size));
  EXPECT_EQ(meta.at("arch"), shiftad::toString(det.config().model.arch));
  EXPECT_EQ(meta.at("input_layout"), "NHWC");
  // The threshold reads back as the same double (9 digits did not: a score equal to it
  // was anomalous to a program reading the metadata, normal to shiftad), and says how it was set.
  EXPECT_EQ(std::stod(meta.at("threshold")), det.threshold());
  EXPECT_EQ(meta.at("threshold_fell_back"), det.thresholdInfo().fell_back ? "true" : "false");
  EXPECT_EQ(std::stod(meta.at("threshold_quantile")), det.config().threshold.quantile);

  const auto paths = someTargetImages();
  std::string pixels;
  for (const auto& p : paths) appendPixels(p, side, meta.at("resize_filter"), pixels);
  shiftad::test::writeFile(tmp / "pixels.bin", pixels);
  const auto ort =
      nlohmann::json::parse(output(fmt::format("node '{}' '{}' '{}' {}", kRunJs, model, tmp / "pixels.bin", side)));

  const auto expected = det.score(paths);
  const auto embedding = det.embed(paths);
  ASSERT_EQ(expected.scores.size(), paths.size());
  ASSERT_EQ(ort["score"].size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const double want = expected.scores[i].score, got = ort["score"][i].get<double>();
    EXPECT_NEAR(got, want, 1e-4 * std::abs(want)) << paths[i];
  }
  // Embeddings: to 1e-4 of the largest coordinate (single coordinates may be ~0).
  double scale = 0.0;
  for (float v : embedding.values) scale = std::max(scale, std::abs(static_cast<double>(v)));
  ASSERT_EQ(ort["embedding"][0].size(), static_cast<size_t>(embedding.dim));
  for (size_t i = 0; i < paths.size(); ++i)
    for (int64_t k = 0; k < embedding.dim; ++k)
      ASSERT_NEAR(ort["embedding"][i][k].get<double>(), embedding.values[i * embedding.dim + k], 1e-4 * scale)
          << paths[i] << " coordinate " << k;
}

// Every architecture, both heads, frozen and fine-tuned trunks, trunk_l2, both paddings
// of mobilenet_v2 (tf_same from side 34: pads (0,1) on even and (1,1) on odd sizes), every
// resize filter (31 < 32: area; 36 > 32: bilinear; bicubic) and center crops with even
// and odd (half-to-even rounded) offsets. Random backbone weights: one epoch of training.
INSTANTIATE_TEST_SUITE_P(
    Architectures, OnnxExportTest,
    ::testing::Values(ArchCase{"small_cnn", {"model.width=8", "data.image_size=28", "data.resize=31"}},
                      ArchCase{"small_cnn_mlp_l2",
                               {"model.width=4", "model.head=mlp", "model.head_hidden=24", "model.trunk_l2=true"}},
                      ArchCase{"resnet18", {"model.arch=resnet18", "align.method=none"}},
                      ArchCase{"resnet50_frozen_mlp_l2",
                               {"model.arch=resnet50", "model.freeze=-1", "model.head=mlp", "model.head_hidden=64",
                                "model.trunk_l2=true", "align.method=none"}},
                      ArchCase{"mobilenet_v2_tf_same",
                               {"model.arch=mobilenet_v2", "model.padding=tf_same", "model.freeze=-1",
                                "data.image_size=34", "data.resize=36", "align.method=none"}},
                      ArchCase{
                          "mobilenet_v2_bicubic_half_frozen",
                          {"model.arch=mobilenet_v2", "model.padding=symmetric", "model.freeze=10",
                           "data.image_size=38", "data.resize=40", "data.interpolation=bicubic", "align.method=none"}}),
    [](const ::testing::TestParamInfo<ArchCase>& info) { return info.param.name; });

TEST(OnnxExport, CliWritesTheModelAndRefusesToReplaceIt) {
  TempDir tmp;
  shiftad::setThreads(2);
  shiftad::Detector::fit(configOf({"cli", {"model.width=4"}}, tmp / "cache"), tmp / "run");
  const auto first = shiftad::test::runCli({"export", "--model", tmp / "run", "--out", tmp / "d.onnx"}, tmp.path());
  EXPECT_EQ(first.exit, 0) << first.err;
  EXPECT_NE(first.out.find("d.onnx"), std::string::npos) << first.out;
  EXPECT_GT(fs::file_size(tmp / "d.onnx"), 1000u);
  const auto again = shiftad::test::runCli({"export", "--model", tmp / "run", "--out", tmp / "d.onnx"}, tmp.path());
  EXPECT_NE(again.exit, 0);
  EXPECT_NE(again.err.find("--overwrite"), std::string::npos) << again.err;
  const auto forced =
      shiftad::test::runCli({"export", "--model", tmp / "run", "--out", tmp / "d.onnx", "--overwrite"}, tmp.path());
  EXPECT_EQ(forced.exit, 0) << forced.err;
  // --overwrite replaces what shiftad wrote, never a user's file named by mistake, nor
  // one a link leads to; an ONNX model another tool wrote (producer "pytorch") is not ours.
  onnx::ModelProto theirs;
  theirs.set_producer_name("pytorch");
  shiftad::test::writeFile(tmp / "theirs.onnx", theirs.SerializeAsString());
  shiftad::test::writeFile(tmp / "my.yaml", "data:\n  root: /data\n");
  fs::create_symlink(tmp / "my.yaml", tmp / "link.onnx");
  for (const char* name : {"theirs.onnx", "my.yaml", "link.onnx"}) {
    const auto before = shiftad::test::readText(tmp / name);
    const auto r =
        shiftad::test::runCli({"export", "--model", tmp / "run", "--out", tmp / name, "--overwrite"}, tmp.path());
    EXPECT_EQ(r.exit, 1) << name;
    EXPECT_NE(r.err.find("is not a file shiftad wrote"), std::string::npos) << r.err;
    EXPECT_EQ(shiftad::test::readText(tmp / name), before) << name;
  }
  EXPECT_TRUE(fs::is_symlink(tmp / "link.onnx"));
}

/// The lines of a text file (a run's dominant.txt: one image path per line).
std::vector<std::string> linesOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// score_center names the center the exported score measures from, not the configured one:
// with score.center dominant, a run that aligned a set measures from its mean in F's space
// (checked by the formula on Detector::embed), and a run that aligned nothing from c: it
// said "dominant" for both. Saved and loaded again, a run says the same.
TEST(OnnxExport, ScoreCenterNamesTheCenterTheScoresMeasureFrom) {
  TempDir tmp;
  shiftad::setThreads(2);
  for (const bool aligns : {true, false}) {
    std::vector<std::string> overrides = {"model.width=4", "score.center=dominant"};
    if (!aligns) overrides.push_back("align.method=none");
    const auto run = tmp / (aligns ? "aligned" : "source_only");
    auto det = shiftad::Detector::fit(configOf({"center", overrides}, tmp / "cache"), run);
    det.exportOnnx(run + ".onnx");
    EXPECT_EQ(metadataOf(run + ".onnx").at("score_center"), aligns ? "dominant" : "source") << run;
    det.save(run + "_saved");
    shiftad::Detector::load(run + "_saved").exportOnnx(run + "_saved.onnx");
    EXPECT_EQ(metadataOf(run + "_saved.onnx").at("score_center"), aligns ? "dominant" : "source") << run;
    if (!aligns) {
      EXPECT_FALSE(fs::exists(fs::path(run) / "dominant.txt"));
      continue;
    }
    // The center is the mean of F's embeddings of the aligned set: score = ||F(x) - mean||^2.
    const auto dominant = linesOf(fs::path(run) / "dominant.txt");
    ASSERT_GE(dominant.size(), 2u);
    const auto e = det.embed(dominant);
    std::vector<double> mean(static_cast<size_t>(e.dim), 0.0);
    for (size_t i = 0; i < dominant.size(); ++i)
      for (int64_t k = 0; k < e.dim; ++k) mean[k] += e.values[i * e.dim + k] / static_cast<double>(dominant.size());
    const auto images = someTargetImages();
    const auto scored = det.score(images);
    const auto embedded = det.embed(images);
    for (size_t i = 0; i < images.size(); ++i) {
      double want = 0.0;
      for (int64_t k = 0; k < e.dim; ++k) {
        const double d = embedded.values[i * e.dim + k] - mean[k];
        want += d * d;
      }
      EXPECT_NEAR(scored.scores[i].score, want, 1e-4 * want + 1e-9) << images[i];
    }
  }
}

TEST(OnnxExport, FrozenEncoderBaselineIsRefusedNamingTheVariant) {
  TempDir tmp;
  auto overrides = shiftad::variantOverrides("frozen_only");
  overrides.push_back("encoder.type=backbone");
  overrides.push_back("model.width=4");
  auto det = shiftad::Detector::fit(configOf({"frozen", overrides}, tmp / "cache"), tmp / "run");
  try {
    det.exportOnnx(tmp / "d.onnx");
    FAIL() << "a frozen-encoder baseline was exported";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("frozen_only"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "d.onnx"));
  // The CLI writes a new --out as a temporary first: its error names the path the user
  // gave (it named 'd.onnx.tmp-PID.new'), and leaves nothing behind.
  const auto cli = shiftad::test::runCli({"export", "--model", tmp / "run", "--out", tmp / "d.onnx"}, tmp.path());
  EXPECT_EQ(cli.exit, 1) << cli.err;
  EXPECT_NE(cli.err.find("cannot export '" + tmp / "d.onnx" + "': this detector is a frozen-encoder baseline"),
            std::string::npos)
      << cli.err;
  EXPECT_EQ(cli.err.find(".tmp-"), std::string::npos) << cli.err;
  EXPECT_FALSE(fs::exists(tmp / "d.onnx"));
  for (const auto& f : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(f.path().filename().string().find("d.onnx"), std::string::npos) << f.path();
}

}  // namespace
