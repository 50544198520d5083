// End to end: synth -> train -> score -> eval through the public API and the CLI,
// and the errors a user meets first.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/Features.h"
#include "api/RunDir.h"
#include "data/ConfigSplit.h"
#include "data/ImageFolder.h"
#include "data/Protocol.h"
#include "config/Suite.h"
#include "evaluation/Metrics.h"
#include "lab/Report.h"
#include "io/SafeTensors.h"
#include "shiftad/shiftad.h"
#include "training/Trainer.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

struct CliResult {
  int status = 0;
  std::string output;  ///< stdout + stderr
};

/// `shiftad ARGS`, run in `cwd` when given (else the test's working directory).
CliResult runCli(const std::string& args, const std::string& cwd = "") {
  const std::string cmd =
      (cwd.empty() ? "" : "cd '" + cwd + "' && ") + std::string(SHIFTAD_BINARY_DIR) + "/shiftad " + args + " 2>&1";
  CliResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int rc = pclose(pipe);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

/// A small synthetic benchmark shared by the tests of this file (generated once).
const std::string& synthRoot() {
  static TempDir dir;
  static const std::string root = [] {
    shiftad::synthesize(dir / "data", 0);
    return dir / "data";
  }();
  return root;
}

shiftad::Config tinyConfig(const std::string& normal_class) {
  shiftad::Config c;
  c.data.root = synthRoot();
  c.data.source = "source";
  c.data.target = "target";
  c.data.normal_class = normal_class;
  c.train.epochs = 2;
  c.model.width = 8;
  return c;
}

std::map<std::string, double> readScoresCsv(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "path,score,normalised_score,anomalous");
  std::map<std::string, double> out;
  while (std::getline(f, line)) {
    // The paths here need no quoting: path,score are the fields before the last two.
    const auto decision = line.rfind(',', line.rfind(',') - 1);
    const auto comma = line.rfind(',', decision - 1);
    out[line.substr(0, comma)] = std::stod(line.substr(comma + 1, decision - comma - 1));
  }
  return out;
}

}  // namespace

TEST(Pipeline, TrainScoreEvalRoundTripThroughFiles) {
  TempDir tmp;
  const auto cfg = tinyConfig("circle");
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  const auto run = tmp / "run";
  auto r = runCli("train -q --config " + (tmp / "cfg.yaml") + " --out " + run);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"config.yaml", "model.safetensors", "center.safetensors", "metrics.jsonl", "summary.json"})
    EXPECT_TRUE(fs::exists(fs::path(run) / f)) << f;
  // metrics.jsonl: one line per epoch.
  std::ifstream m(fs::path(run) / "metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(m, l);) lines += !l.empty();
  EXPECT_EQ(lines, cfg.train.epochs);

  // The test split, rebuilt independently from the protocol, written as a list file.
  const auto split = shiftad::data::splitFor(cfg.data);
  std::string list;
  for (const auto& p : split.test.paths) list += p + "\n";
  shiftad::test::writeFile(tmp / "test.txt", list);

  r = runCli("score -q --model " + run + " --images " + (tmp / "test.txt") + " --out " + (tmp / "scores.csv"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto scores = readScoresCsv(tmp / "scores.csv");
  ASSERT_EQ(scores.size(), split.test.paths.size());
  std::vector<double> s;
  for (const auto& p : split.test.paths) s.push_back(scores.at(p));
  const double auroc = shiftad::evaluation::auroc(s, split.test.is_anomaly);

  // eval through the API must agree with AUROC over the CSV's scores.
  const auto ev = shiftad::evaluate(run, shiftad::loadRunConfig(run));
  EXPECT_NEAR(ev.auroc, auroc, 1e-6);
  EXPECT_NEAR(ev.auroc_se, shiftad::evaluation::aurocStandardError(s, split.test.is_anomaly), 1e-6);
  EXPECT_EQ(ev.normal + ev.anomalous, static_cast<int64_t>(split.test.paths.size()));

  r = runCli("eval -q --model " + run);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("AUROC {:.4f} ± {:.4f} (DeLong's standard error)", ev.auroc, ev.auroc_se)),
            std::string::npos)
      << r.output;
  // ... and the training pool's estimated contamination next to the true one, as the
  // last epoch's metrics line has them (the default aligns, so it has them).
  std::ifstream again(fs::path(run) / "metrics.jsonl");
  nlohmann::json last;
  for (std::string l; std::getline(again, l);) last = nlohmann::json::parse(l);
  EXPECT_NE(r.output.find(fmt::format("estimated contamination {:.3f} (the share left out of the aligned set); "
                                      "true {:.3f}",
                                      last.at("contamination_estimate").get<double>(),
                                      last.at("contamination_diagnostic").get<double>())),
            std::string::npos)
      << r.output;
}

TEST(Pipeline, ScoresOfAReloadedRunAreDeterministic) {
  TempDir tmp;
  const auto cfg = tinyConfig("square");
  shiftad::train(cfg, tmp / "run");
  const auto a = shiftad::score(tmp / "run", synthRoot() + "/target/square");
  const auto b = shiftad::score(tmp / "run", synthRoot() + "/target/square");
  ASSERT_EQ(a.scores.size(), b.scores.size());
  ASSERT_FALSE(a.scores.empty());
  for (size_t i = 0; i < a.scores.size(); ++i) EXPECT_EQ(a.scores[i].score, b.scores[i].score);
}

TEST(Pipeline, ScoreCenterDominantScoresFromTheMeanOfTheFinalDominantSet) {
  TempDir tmp;
  auto cfg = tinyConfig("circle");
  cfg.score.center = shiftad::ScoreCenter::kDominant;
  shiftad::train(cfg, tmp / "dom");
  auto src = cfg;
  src.score.center = shiftad::ScoreCenter::kSource;
  shiftad::train(src, tmp / "src");
  // Oracle: F's features of the files listed in dominant.txt, embedded again here.
  std::vector<std::string> members;
  std::ifstream list(fs::path(tmp / "dom") / "dominant.txt");
  for (std::string l; std::getline(list, l);)
    if (!l.empty()) members.push_back(l);
  ASSERT_GE(members.size(), 2u);
  const auto run = shiftad::api::loadRun(tmp / "dom");
  shiftad::api::InputCache cache;
  const auto images =
      shiftad::api::loadImagesOnce(cache, cfg, members, shiftad::api::resizeSide(cfg.data), cfg.data.interpolation)
          .images;
  ASSERT_EQ(images.size(0), static_cast<int64_t>(members.size()));
  const auto expected = run.trainer->embed(images).mean(0);
  EXPECT_LT((run.trainer->center() - expected).abs().max().item<double>(), 1e-5);
  // Not the paper's c, which the same run with score.center = source keeps.
  const auto source_center = shiftad::api::loadRun(tmp / "src").trainer->center();
  EXPECT_GT((source_center - expected).abs().max().item<double>(), 1e-3);
  // A run that aligns nothing keeps c.
  auto so = cfg;
  so.align.method = shiftad::AlignMethod::kNone;
  shiftad::train(so, tmp / "so");
  auto so_src = so;
  so_src.score.center = shiftad::ScoreCenter::kSource;
  shiftad::train(so_src, tmp / "so_src");
  EXPECT_TRUE(torch::allclose(shiftad::api::loadRun(tmp / "so").trainer->center(),
                              shiftad::api::loadRun(tmp / "so_src").trainer->center()));
}

TEST(Pipeline, AdaptationRaisesTargetAurocOverSourceOnly) {
  TempDir tmp;
  // The demo's setting for one class, fixed seed: the synthetic suite's config, its
  // source-only baseline and the recommended variant (align_all).
  const auto config = [&](const std::string& variant) {
    auto ov = shiftad::variantOverrides(variant);
    for (const auto& kv : {"data.root=" + synthRoot(), std::string("data.source=source"),
                           std::string("data.target=target"), std::string("data.normal_class=star")})
      ov.push_back(kv);
    return shiftad::parseConfig(shiftad::loadSuite("synthetic", false).config_yaml, ov, "synthetic suite");
  };
  const auto so = config("source_only"), ad = config("align_all");
  shiftad::train(so, tmp / "so");
  shiftad::train(ad, tmp / "ad");
  const double a_so = shiftad::evaluate(tmp / "so", so).auroc;
  const double a_ad = shiftad::evaluate(tmp / "ad", ad).auroc;
  EXPECT_GT(a_ad, a_so + 0.02) << "source-only " << a_so << ", adapted " << a_ad;
}

TEST(Pipeline, UnreadableImageIsSkippedWithWarningAndCounted) {
  TempDir tmp;
  fs::copy(synthRoot(), tmp / "data", fs::copy_options::recursive);
  shiftad::test::writeFile(tmp / "data/source/circle/zz_broken.png", "not a png at all");
  auto cfg = tinyConfig("circle");
  cfg.data.root = tmp / "data";
  cfg.train.epochs = 1;
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  const auto r = runCli("train --config " + (tmp / "cfg.yaml") + " --out " + (tmp / "run"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("zz_broken.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(1 skipped)"), std::string::npos) << r.output;
}

TEST(Pipeline, BadInputGivesOneClearErrorLine) {
  TempDir tmp;
  // Missing data folder.
  auto r = runCli("train --set data.root=" + (tmp / "nope") +
                  " --set data.source=a --set data.target=b "
                  "--set data.normal_class=c --out " +
                  (tmp / "run"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("shiftad: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(tmp / "nope"), std::string::npos) << r.output;

  // Empty class folder.
  fs::copy(synthRoot(), tmp / "data", fs::copy_options::recursive);
  fs::create_directories(tmp / "data/target/empty_class");
  r = runCli("train --set data.root=" + (tmp / "data") +
             " --set data.source=source --set data.target=target --set data.normal_class=circle --out " +
             (tmp / "run"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("empty_class"), std::string::npos) << r.output;

  // Unknown config key.
  shiftad::test::writeFile(tmp / "bad.yaml", "train:\n  epocs: 3\n");
  r = runCli("train --config " + (tmp / "bad.yaml") + " --out " + (tmp / "run"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("train.epocs"), std::string::npos) << r.output;

  // Missing run directory.
  r = runCli("eval --model " + (tmp / "no_run"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no_run"), std::string::npos) << r.output;
}

TEST(Pipeline, EveryCommandHasHelp) {
  for (const char* sub : {"synth", "train", "score", "eval", "demo", "classify", "config"}) {
    const auto r = runCli(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << sub << ": " << r.output;
  }
}

TEST(Pipeline, FrozenEncoderClusteringRunsAndIsCached) {
  TempDir tmp;
  shiftad::test::runPython("models_torchscript.py", tmp.path());
  auto cfg = tinyConfig("ring");
  cfg.cluster.space = shiftad::ClusterSpace::kFrozen;
  cfg.encoder.type = shiftad::EncoderType::kTorchScript;
  cfg.encoder.path = tmp / "encoder.pt";
  cfg.encoder.image_size = 32;
  cfg.encoder.cache_dir = tmp / "cache";
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  auto r = runCli("train --config " + (tmp / "cfg.yaml") + " --out " + (tmp / "run1"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("embedding"), std::string::npos) << r.output;
  r = runCli("train --config " + (tmp / "cfg.yaml") + " --out " + (tmp / "run2"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("read from the cache"), std::string::npos) << r.output;
  // Φ's space is clustered once: the same dominant set every epoch, and of the same
  // size in both runs.
  std::ifstream m1(fs::path(tmp / "run1") / "metrics.jsonl"), m2(fs::path(tmp / "run2") / "metrics.jsonl");
  std::string l1, l2;
  std::getline(m1, l1);
  std::getline(m2, l2);
  const auto size_of = [](const std::string& line) {
    const auto k = line.find("\"dominant_size\":");
    return std::stoi(line.substr(k + 16));
  };
  EXPECT_GT(size_of(l1), 0);
  EXPECT_EQ(size_of(l1), size_of(l2));
}

TEST(Pipeline, PretrainedMobileNetV2RunKeepsTfSamePaddingThroughTheCheckpoint) {
  const auto shared = shiftad::test::sharedDir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: no pretrained MobileNetV2 weights to test with";
  TempDir tmp;
  auto cfg = tinyConfig("star");
  cfg.model.arch = shiftad::Arch::kMobileNetV2;
  cfg.model.weights = shared + "/weights/mobilenet_v2_imagenet.safetensors";
  cfg.data.image_size = 64;
  cfg.data.mean = cfg.data.std = {0.50196, 0.50196, 0.50196};
  cfg.train.epochs = 1;
  cfg.align.method = shiftad::AlignMethod::kNone;
  shiftad::train(cfg, tmp / "run");
  auto metadata = shiftad::io::readSafeTensors(tmp / "run/model.safetensors").metadata;
  EXPECT_EQ(metadata["padding"], "tf_same");  // from the weights file's metadata
  // Scoring rebuilds F from the checkpoint alone, even when the pretrained file is gone.
  const auto a = shiftad::score(tmp / "run", synthRoot() + "/target/star");
  EXPECT_EQ(a.scores.size(), 120u);
}

TEST(Pipeline, ClassifyPutsTheExpectedImagenetClassFirst) {
  const auto shared = shiftad::test::sharedDir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: no pretrained MobileNetV2 weights to test with";
  const std::string w = shared + "/weights/";
  const std::map<std::string, std::string> expected = {{"cat.bmp", "Egyptian cat"},
                                                       {"grace_hopper.bmp", "military uniform"}};
  for (const auto& [image, label] : expected) {
    const auto r = runCli("classify -q --weights " + w + "mobilenet_v2_imagenet.safetensors --image " + w + "samples/" +
                          image + " --labels " + w + "imagenet_labels.txt --topk 1");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(label), std::string::npos) << image << ": " << r.output;
  }
}

namespace {

/// Train `cfg` + overrides for one epoch and evaluate it; every loss and the AUROC
/// must be finite.
void trainsAndEvaluates(const std::vector<std::string>& overrides, const std::string& what) {
  TempDir tmp;
  auto base = tinyConfig("circle");
  base.train.epochs = 1;
  base.encoder.cache_dir = tmp / "cache";
  const auto cfg = shiftad::parseConfig(shiftad::dumpConfig(base), overrides, what);
  shiftad::train(cfg, tmp / "run");
  std::ifstream metrics(fs::path(tmp / "run") / "metrics.jsonl");
  std::string line;
  while (std::getline(metrics, line))  // NaN and infinities are written as null
    EXPECT_EQ(line.find("null"), std::string::npos) << what << ": " << line;
  const auto r = shiftad::evaluate(tmp / "run", cfg);
  EXPECT_TRUE(r.auroc >= 0.0 && r.auroc <= 1.0) << what << ": AUROC " << r.auroc;
  EXPECT_GT(r.normal, 0) << what;
}

}  // namespace

TEST(Pipeline, TestScoresKeepAPathWithACommaOrAQuoteAsOneField) {
  TempDir tmp;
  const fs::path data = tmp / "data";
  fs::copy(synthRoot(), data, fs::copy_options::recursive);
  // One image of every target class gets a name that a plain "a,b,c" line splits.
  for (const auto& cls : fs::directory_iterator(data / "target")) {
    const auto first = fs::directory_iterator(cls.path())->path();
    fs::rename(first, cls.path() / "a, \"quoted\" name.png");
  }
  auto cfg = tinyConfig("circle");
  cfg.data.root = data.string();
  cfg.train.epochs = 1;
  cfg.encoder.cache_dir = tmp / "cache";
  shiftad::train(cfg, tmp / "run");
  const auto ev = shiftad::evaluate(tmp / "run", cfg);

  // Read back by Python's csv module, against the test split rebuilt from the protocol.
  const auto cols = nlohmann::json::parse(shiftad::test::runPython("csv_columns.py", ev.scores_file));
  const auto split = shiftad::data::splitFor(cfg.data);
  const auto paths = cols.at("path").get<std::vector<std::string>>();
  EXPECT_EQ(paths, split.test.paths);
  int renamed = 0;
  for (const auto& p : paths) renamed += p.find("a, \"quoted\" name.png") != std::string::npos;
  EXPECT_GT(renamed, 0) << "no renamed image in the test split: the test checks nothing";
  std::vector<int> labels;
  for (const auto& l : cols.at("label").get<std::vector<std::string>>()) labels.push_back(std::stoi(l));
  EXPECT_EQ(labels, split.test.is_anomaly);
}

TEST(Pipeline, EveryVariantTrainsAndEvaluates) {
  for (const auto& v : shiftad::variants()) {
    auto o = shiftad::variantOverrides(v.name);
    o.push_back("data.target_labels=true");  // oracle and few_shot read labels, explicitly allowed here
    o.push_back("encoder.type=backbone");    // Φ = F's own (random) initial trunk
    trainsAndEvaluates(o, v.name);
  }
}

TEST(Pipeline, EveryClusteringAndAlignmentMethodTrains) {
  for (const char* m : {"cluster.method=gmm", "cluster.method=meanshift", "cluster.keep_fraction=0.5"})
    trainsAndEvaluates({m}, m);
  for (const char* m : {"align.method=mmd", "align.method=adversarial"}) trainsAndEvaluates({m}, m);
}

TEST(Pipeline, FrozenTrunkTrainsTheHeadOnCachedFeatures) {
  trainsAndEvaluates({"model.freeze=-1", "model.head=mlp", "cluster.space=frozen", "encoder.type=backbone"},
                     "head only");
}

TEST(Pipeline, OnlyTrainingSaysItCachesTrunkFeaturesScoringWritesNoneAndSaysNothingOfIt) {
  // `score` said "cached for later runs" once per 1024 images, and cached nothing.
  TempDir tmp;
  auto cfg = tinyConfig("circle");
  cfg.model.freeze = -1;  // training and scoring both embed through the feature cache's code
  cfg.encoder.cache_dir = tmp / "cache";
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  const auto entries = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp / "cache/features")) n += e.path().extension() == ".f32";
    return n;
  };
  auto r = runCli("train --threads 1 --config " + (tmp / "cfg.yaml") + " --out " + (tmp / "run"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("cached for later runs"), std::string::npos) << r.output;
  const auto after_training = entries();
  ASSERT_GT(after_training, 0u) << "training wrote what it said it cached";
  r = runCli("score --threads 1 --model " + (tmp / "run") + " --images " + synthRoot() + "/target/star --out " +
             (tmp / "s.csv"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(entries(), after_training) << "a loaded detector writes no cache";
  EXPECT_EQ(r.output.find("cached"), std::string::npos) << r.output;
}

/// A tiny tree in Office-31's layout (the paper's 10 classes) under `root`, made of
/// synthetic images.
void writeFakeOffice31(const std::string& root) {
  const auto classes = shiftad::loadSuite("office31", false).classes;
  std::vector<std::string> pngs;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(synthRoot()) / "source"))
    if (e.path().extension() == ".png") pngs.push_back(e.path().string());
  size_t next = 0;
  for (const char* domain : {"amazon", "webcam"})
    for (const auto& c : classes) {
      fs::create_directories(fs::path(root) / domain / c);
      for (int i = 0; i < 6; ++i)
        fs::copy_file(pngs[next++ % pngs.size()], fs::path(root) / domain / c / fmt::format("{}.png", i));
    }
}

/// `bench` of 2 directions x 2 classes x 1 seed x 2 variants of a small CNN on that tree.
std::string tinyBenchArgs(const TempDir& tmp) {
  return fmt::format(
      "bench -q --suite office31 --root {} --classes back_pack,pen --seeds 0 --variants "
      "source_only,frozen_only "
      "--set model.arch=small_cnn --set model.weights= --set model.freeze=0 --set model.head_init=random "
      "--set model.embedding_dim=32 --set data.image_size=32 "
      "--set data.resize=32 --set train.epochs=1 --set encoder.cache_dir={} --set data.mean=[0.5,0.5,0.5] "
      "--set data.std=[0.5,0.5,0.5]",
      tmp / "office31", tmp / "cache");
}

TEST(Pipeline, BenchRunsTheOffice31LayoutOnAFakeTreeAndResumes) {
  TempDir tmp;
  writeFakeOffice31(tmp / "office31");
  const std::string args = tinyBenchArgs(tmp) + fmt::format(" --out {}", tmp / "bench");
  // Run from a folder that is far from the data wherever the checkout lies (the test's
  // own working directory can be a sibling of the temporary folder: a clone in /tmp).
  TempDir elsewhere;
  const auto far = elsewhere / "a/b";
  fs::create_directories(far);
  auto r = runCli(args, far);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = shiftad::evaluation::readCsv(fs::path(tmp / "bench") / "results.csv");
  // 2 directions x 2 classes x 1 seed x 2 variants.
  EXPECT_EQ(rows.size(), 8u);
  for (const auto& row : rows) EXPECT_TRUE(row.auroc >= 0 && row.auroc <= 1) << row.variant;
  std::ifstream report(fs::path(tmp / "bench") / "report.md");
  const std::string md((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("| amazon → webcam |"), std::string::npos) << md;
  EXPECT_NE(md.find("Model selection: none"), std::string::npos) << md;
  // The suite's description (it was read and never shown), '<' as an entity.
  EXPECT_NE(md.find("- Suite: Office-31 amazon &lt;-&gt; webcam, the paper's 10 classes\n"), std::string::npos) << md;
  // A data root far from where the command ran (three folders up) is shown whole.
  EXPECT_NE(md.find("- Data: `" + (tmp / "office31") + "` (from where the command ran)"), std::string::npos) << md;
  // The HTML report and the figures: summary bars, one mean ROC per direction (from the
  // runs' test scores), linked from the Markdown.
  for (const char* f :
       {"report.html", "figures/summary.svg", "figures/roc-amazon-webcam.svg", "figures/roc-webcam-amazon.svg"})
    EXPECT_TRUE(fs::exists(fs::path(tmp / "bench") / f)) << f;
  EXPECT_NE(md.find("](figures/roc-amazon-webcam.svg)"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(fs::path(tmp / "bench") / "runs/amazon-webcam/pen/seed0/source_only/test_scores.csv"));
  // The wall time of the invocations that produced rows is kept across resumes.
  auto wallTime = [&] {
    std::ifstream f(fs::path(tmp / "bench") / "bench_time.json");
    return nlohmann::json::parse(f).at("wall_seconds").get<double>();
  };
  const double t1 = wallTime();
  EXPECT_GT(t1, 0.0);
  // A second run finds every row done and runs nothing (and adds no time). Run from the
  // data's parent folder, its report shows the root from there.
  r = runCli(args, tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 runs"), std::string::npos) << r.output;
  EXPECT_DOUBLE_EQ(wallTime(), t1);
  {
    std::ifstream again(fs::path(tmp / "bench") / "report.md");
    const std::string text((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("- Data: `office31` (from where the command ran)"), std::string::npos) << text;
  }
  // A folder written before a key existed (here cluster.neighbours, at its default) is
  // the same configuration: stored configs are compared as this shiftad reads them.
  {
    const auto path = fs::path(tmp / "bench") / "bench_config.yaml";
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), kept, line;
    std::istringstream lines(text);
    while (std::getline(lines, line))
      if (line.find("  neighbours: ") != 0) kept += line + "\n";
    ASSERT_LT(kept.size(), text.size()) << text;
    std::ofstream(path) << kept;
    r = runCli(args, far);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("0 runs"), std::string::npos) << r.output;
  }
  // Another configuration in the same folder is refused, naming the key, rather than
  // mixing its rows with the old ones.
  r = runCli(args + " --set train.lr=0.01", far);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds results of another configuration ('train:  lr: 0.001' there, 'train:  lr: 0.01' now)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(shiftad::evaluation::readCsv(fs::path(tmp / "bench") / "results.csv").size(), 8u);
  // A sweep runs the grid once per value, in its own rows and run folders.
  r = runCli(args + " --sweep data.contamination=0,0.3 --no-figures", far);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = shiftad::evaluation::readCsv(fs::path(tmp / "bench") / "results.csv");
  EXPECT_EQ(all.size(), 8u + 2 * 2 * 2 * 2);  // + 2 directions x 2 classes x 2 values x 2 variants
  EXPECT_TRUE(fs::exists(fs::path(tmp / "bench") / "runs/data.contamination=0.3/amazon-webcam/pen/seed0/source_only"));
  EXPECT_TRUE(fs::exists(fs::path(tmp / "bench") / "figures/sweep-data.contamination.svg"));
  // --no-figures: the earlier report's ROC figure is not left beside this report.
  EXPECT_FALSE(fs::exists(fs::path(tmp / "bench") / "figures/roc-amazon-webcam.svg"));
  // The protocol names the sweep: its contamination line alone would show the last value.
  std::ifstream swept_file(fs::path(tmp / "bench") / "report.md");
  const std::string swept{std::istreambuf_iterator<char>(swept_file), std::istreambuf_iterator<char>()};
  EXPECT_NE(swept.find("- Swept: `data.contamination` = 0, 0.3 (each value's results"), std::string::npos) << swept;
  EXPECT_GT(wallTime(), t1);
  r = runCli(args + " --sweep data.contamination", far);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("expected section.key=v1,v2"), std::string::npos) << r.output;
}

TEST(Pipeline, ABenchsProjectionAfterAdaptationIsTheRecommendedVariants) {
  // office31 recommends `default`: the "after" PCA is its run, not align_all's (which
  // came first in the list of adapted variants before there was a default).
  TempDir tmp;
  writeFakeOffice31(tmp / "office31");
  auto args = tinyBenchArgs(tmp);
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"source_only,frozen_only", "source_only,align_all,default"},
        {"back_pack,pen", "pen"}})
    args.replace(args.find(from), from.size(), to);
  const auto r = runCli(args + fmt::format(" --threads 1 --out {}", tmp / "bench"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream report(fs::path(tmp / "bench") / "report.md");
  const std::string md((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("](figures/pca-amazon-webcam-after.svg)"), std::string::npos) << md;
  EXPECT_NE(md.find("class pen, seed 0, after (default)"), std::string::npos) << md;
  EXPECT_EQ(md.find("after (align_all)"), std::string::npos) << md;
}

TEST(Pipeline, ABenchShardedInThreeAndMergedEqualsTheUnshardedOne) {
  TempDir tmp;
  writeFakeOffice31(tmp / "office31");
  const auto bench = tinyBenchArgs(tmp) + " --threads 1 --no-figures";
  ASSERT_EQ(runCli(bench + fmt::format(" --out {}", tmp / "whole")).status, 0);
  std::string shards;
  for (int i = 1; i <= 3; ++i) {
    const auto dir = tmp / fmt::format("shard{}", i);
    const auto r = runCli(bench + fmt::format(" --shard {}/3 --out {}", i, dir));
    ASSERT_EQ(r.status, 0) << r.output;
    // 8 runs, 4 groups of 2 variants, each group's start turned by one shard:
    // positions 0,5,6 / 1,2,7 / 3,4 (shardOfRun).
    EXPECT_EQ(shiftad::evaluation::readCsv(fs::path(dir) / "results.csv").size(), i < 3 ? 3u : 2u) << i;
    shards += " " + dir;
  }
  // Merging needs every shard: without the third, it names what is missing.
  auto r = runCli(bench + fmt::format(" --out {} --merge {} {}", tmp / "partial", tmp / "shard1", tmp / "shard2"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("2 runs of the grid are in none of the shards"), std::string::npos) << r.output;
  // A shard folder is resumed only as the same shard.
  r = runCli(bench + fmt::format(" --shard 2/3 --out {}", tmp / "shard1"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds shard 1/3 of a bench, not 2/3"), std::string::npos) << r.output;

  r = runCli(bench + fmt::format(" --out {} --merge{}", tmp / "merged", shards));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto whole = shiftad::evaluation::readCsv(fs::path(tmp / "whole") / "results.csv");
  const auto merged = shiftad::evaluation::readCsv(fs::path(tmp / "merged") / "results.csv");
  ASSERT_EQ(merged.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    // The same runs in the same order with the same results; only the timing differs.
    auto a = whole[i], b = merged[i];
    a.seconds = b.seconds = 0;
    EXPECT_EQ(shiftad::evaluation::csvLine(b), shiftad::evaluation::csvLine(a)) << "row " << i;
  }
  EXPECT_TRUE(fs::exists(fs::path(tmp / "merged") / "report.md"));
  const auto merged_run = fs::path(tmp / "merged") / "runs/webcam-amazon/pen/seed0/source_only/test_scores.csv";
  EXPECT_TRUE(fs::exists(merged_run));
  // On one filesystem the merged run files are hard links to the shards' (no second copy).
  bool linked = false;
  for (const auto* shard : {"shard1", "shard2", "shard3"}) {
    const auto in_shard = fs::path(tmp / shard) / "runs/webcam-amazon/pen/seed0/source_only/test_scores.csv";
    if (fs::exists(in_shard)) linked = fs::equivalent(in_shard, merged_run);
  }
  EXPECT_TRUE(linked);
  EXPECT_GE(fs::hard_link_count(merged_run), 2u);
  // A shard folder of an older shiftad (shard.json without "dealing": k mod 3, positions
  // 0,3,6) resumes as it was dealt: its three rows are all it runs, so nothing runs.
  const auto legacy = fs::path(tmp / "legacy");
  fs::create_directories(legacy);
  fs::copy_file(fs::path(tmp / "whole") / "bench_config.yaml", legacy / "bench_config.yaml");
  std::string rows_text = shiftad::evaluation::csvHeader() + "\n";
  for (size_t k = 0; k < whole.size(); k += 3) rows_text += shiftad::evaluation::csvLine(whole[k]) + "\n";
  shiftad::test::writeFile((legacy / "results.csv").string(), rows_text);
  shiftad::test::writeFile((legacy / "shard.json").string(), "{\"count\":3,\"index\":1}\n");
  r = runCli(bench + fmt::format(" --shard 1/3 --out {}", legacy.string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 runs"), std::string::npos) << r.output;
  EXPECT_EQ(shiftad::evaluation::readCsv(legacy / "results.csv").size(), 3u);
  // A hand-edited shard.json of the wrong types is named, not thrown as a JSON error.
  shiftad::test::writeFile((legacy / "shard.json").string(), "{\"count\":3,\"index\":\"1\"}\n");
  r = runCli(bench + fmt::format(" --shard 1/3 --out {}", legacy.string()));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("does not parse as a shard's index, count and dealing"), std::string::npos) << r.output;
}
