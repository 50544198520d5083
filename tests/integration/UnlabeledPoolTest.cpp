// A deployment's target: unlabeled images given as the pool (data.pool_images), a folder
// or a list, with no class folders, no test split and no label diagnostics; and a
// labelled held-out folder given as the test split (data.test_images).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evaluation/Metrics.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// The image files of `dir`, recursively, sorted.
std::vector<std::string> imagesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.is_regular_file() && f.path().extension() == ".png") out.push_back(f.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// The lines of a text file.
std::vector<std::string> linesOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

/// The last JSON line of a run's metrics.jsonl.
nlohmann::json lastMetrics(const std::string& run) {
  const auto lines = linesOf(run + "/metrics.jsonl");
  return lines.empty() ? nlohmann::json() : nlohmann::json::parse(lines.back());
}

/// Target images of every class, mixed: what an unlabeled pool of a new site holds.
std::vector<std::string> mixedTargetImages(size_t per_class) {
  std::vector<std::string> out;
  for (const auto& cls : fs::directory_iterator(shiftad::test::smallSynthRoot() + "/target")) {
    auto files = imagesIn(cls.path().string());
    files.resize(std::min(files.size(), per_class));
    out.insert(out.end(), files.begin(), files.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A labelled held-out set as a user makes one: DIR/circle holds target circles the pool
/// does not, DIR/<two other classes> a few anomalies each (copies, not links). Returns
/// (path, is_anomaly) of every image written, by path.
std::vector<std::pair<std::string, int>> heldOutFolder(const std::string& dir, size_t skip) {
  std::vector<std::pair<std::string, int>> out;
  const auto copy = [&](const std::string& cls, size_t from, size_t n) {
    const auto files = imagesIn(shiftad::test::smallSynthRoot() + "/target/" + cls);
    fs::create_directories(dir + "/" + cls);
    for (size_t i = from; i < from + n && i < files.size(); ++i) {
      const auto to = dir + "/" + cls + "/" + fs::path(files[i]).filename().string();
      fs::copy_file(files[i], to);
      out.emplace_back(to, cls == "circle" ? 0 : 1);
    }
  };
  copy("circle", skip, 5);
  copy("square", skip, 2);
  copy("ring", skip, 2);
  std::sort(out.begin(), out.end());
  return out;
}

shiftad::Config unlabeledConfig(const std::string& pool_images) {
  auto cfg = shiftad::test::protocolOf(shiftad::test::smallSynthRoot(), "circle");
  cfg.data.target = "";  // only the pool: no target domain to split
  cfg.data.pool_images = pool_images;
  cfg.model.width = 4;
  cfg.train.epochs = 1;
  cfg.train.batch_size = 8;
  return cfg;
}

}  // namespace

TEST(UnlabeledPool, AListOfUnlabeledImagesIsThePoolWholeWithNoTestSplitAndNoLabelDiagnostics) {
  TempDir tmp;
  shiftad::setThreads(1);
  const auto pool = mixedTargetImages(3);  // 18 images of 6 classes, nobody says which
  std::string list;
  for (const auto& p : pool) list += p + "\n";
  shiftad::test::writeFile(tmp / "pool.txt", list);
  auto det = shiftad::Detector::fit(unlabeledConfig(tmp / "pool.txt"), tmp / "run");
  // The pool is every listed image, as listed: no split, no sampling to a contamination.
  EXPECT_EQ(linesOf(tmp / "run/pool.txt"), pool);
  const auto last = lastMetrics(tmp / "run");
  ASSERT_TRUE(last.contains("contamination_estimate")) << last.dump();
  EXPECT_TRUE(last["contamination_estimate"].is_number()) << last.dump();
  EXPECT_TRUE(last["contamination_diagnostic"].is_null()) << "no label was read: " << last.dump();
  EXPECT_TRUE(last["dominant_purity_diagnostic"].is_null()) << last.dump();
  const auto diagnostics = shiftad::poolDiagnostics(tmp / "run");
  EXPECT_TRUE(diagnostics.present);
  EXPECT_TRUE(std::isnan(diagnostics.contamination));
  EXPECT_EQ(diagnostics.contamination_estimate, last["contamination_estimate"].get<double>());
  // The run decides: its threshold was set from the source and this pool.
  EXPECT_TRUE(std::isfinite(det.threshold()));
  // It has no test split: evaluating it on its own config says how to evaluate it.
  const auto own = shiftad::test::errorOf([&] { det.evaluate(det.config()); });
  EXPECT_NE(own.find("is an unlabeled pool, with no test split"), std::string::npos) << own;
  EXPECT_NE(own.find("--set data.test_images=FOLDER"), std::string::npos) << own;
  // Labelled target data whose test split holds the pool's own images is refused: they
  // were trained on (compared as paths: the pool lies outside any split of the root).
  auto labelled = det.config();
  labelled.data.pool_images = "";
  labelled.data.target = "target";
  const auto seen = shiftad::test::errorOf([&] { det.evaluate(labelled); });
  EXPECT_NE(seen.find("test images were in the pool run"), std::string::npos) << seen;
}

TEST(UnlabeledPool, TheCliTrainsOnAFolderOfUnlabeledImagesAndSaysTheTruthIsUnknown) {
  TempDir tmp;
  // A flat folder with a sub-folder, as images are dumped from a line camera.
  const auto pool = mixedTargetImages(2);
  fs::create_directories(tmp / "site_b/day2");
  for (size_t i = 0; i < pool.size(); ++i)
    fs::copy_file(pool[i], (i % 2 ? tmp / "site_b/day2/" : tmp / "site_b/") + "img" + std::to_string(i) + ".png");
  const auto cfg = unlabeledConfig(tmp / "site_b");
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  const auto r = shiftad::test::runCli({"train", "--threads", "1", "--config", tmp / "cfg.yaml", "--out", tmp / "run"},
                                       tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("true: unknown (an unlabeled pool)"), std::string::npos) << r.err;
  EXPECT_EQ(linesOf(tmp / "run/pool.txt"), imagesIn(tmp / "site_b"));
  const auto e = shiftad::test::runCli({"eval", "--threads", "1", "--model", tmp / "run"}, tmp.path());
  EXPECT_EQ(e.exit, 1) << e.err;
  EXPECT_NE(e.err.find("is an unlabeled pool"), std::string::npos) << e.err;
  // Labels cannot be read from an unlabeled pool: the oracle is refused before any work.
  const auto oracle = shiftad::test::runCli({"train", "--threads", "1", "--config", tmp / "cfg.yaml", "--variant",
                                             "oracle", "--set", "data.target_labels=true", "--out", tmp / "o"},
                                            tmp.path());
  EXPECT_EQ(oracle.exit, 1) << oracle.err;
  EXPECT_NE(oracle.err.find("is an unlabeled pool, and train.on: target_normals"), std::string::npos) << oracle.err;
  EXPECT_FALSE(fs::exists(tmp / "o"));
}

TEST(TestImages, AHeldOutLabelledFolderIsTheTestSplitOfAnUnlabeledPoolsRun) {
  TempDir tmp;
  shiftad::setThreads(1);
  const auto pool = mixedTargetImages(3);  // the first 3 of each class
  std::string list;
  for (const auto& p : pool) list += p + "\n";
  shiftad::test::writeFile(tmp / "pool.txt", list);
  const auto held = heldOutFolder(tmp / "held", 3);  // images the pool does not hold
  auto cfg = unlabeledConfig(tmp / "pool.txt");
  cfg.data.test_images = tmp / "held";
  auto det = shiftad::Detector::fit(cfg, tmp / "run");
  // The run's own config now has a test split: the folder, labelled by its class folders.
  const auto r = det.evaluate(det.config());
  EXPECT_EQ(r.normal, 5);
  EXPECT_EQ(r.anomalous, 4);
  std::vector<std::string> paths;
  std::vector<int> labels;
  for (const auto& [path, label] : held) paths.push_back(path), labels.push_back(label);
  std::vector<double> scores;
  for (const auto& s : det.score(paths).scores) scores.push_back(s.score);
  ASSERT_EQ(scores.size(), paths.size());
  EXPECT_NEAR(r.auroc, shiftad::evaluation::auroc(scores, labels), 1e-12);
  // A held-out image that is a pool image (a link to it) would test on training images:
  // refused before training.
  fs::create_symlink(pool.front(), tmp / "held/circle/linked.png");
  const auto leak = shiftad::test::errorOf([&] { shiftad::Detector::fit(cfg, tmp / "run2"); });
  EXPECT_NE(leak.find("test image(s) of data.test_images '" + (tmp / "held") + "' are also training images"),
            std::string::npos)
      << leak;
  EXPECT_FALSE(fs::exists(tmp / "run2"));
}

TEST(TestImages, EvalOnAHeldOutFolderReadsNoOtherFolderAndSaysWhatTheFolderLacks) {
  TempDir tmp;
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 1);
  ASSERT_EQ(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run"}, tmp.path())
                .exit,
            0);
  // Labelled images of a new site, with no source or target domain beside them: the
  // data root named is not even there.
  TempDir site;
  const auto held = heldOutFolder(site / "site_c", 0);  // another data set's images: none the run saw
  ASSERT_FALSE(held.empty());
  const auto eval = [&](const std::string& folder, const std::string& out) {
    return shiftad::test::runCli({"eval", "--threads", "1", "--model", tmp / "run", "--set",
                                  "data.test_images=" + folder, "--set", "data.root=" + (tmp / "nowhere"), "--out",
                                  tmp / out},
                                 tmp.path());
  };
  const auto e = eval(site / "site_c", "held.csv");
  ASSERT_EQ(e.exit, 0) << e.err;
  const auto rows = linesOf(tmp / "held.csv");
  ASSERT_EQ(rows.size(), held.size() + 1);
  EXPECT_EQ(rows.front(), "label,score,path");
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto path = rows[i].substr(rows[i].rfind(',') + 1);
    const auto at = std::find_if(held.begin(), held.end(), [&](const auto& h) { return h.first == path; });
    ASSERT_NE(at, held.end()) << rows[i];
    EXPECT_EQ(rows[i].substr(0, 2), std::to_string(at->second) + ",") << rows[i];
  }
  // A folder without the run's normal class, and one with nothing but it.
  fs::create_directories(site / "no_normal/square");
  fs::copy_file(held.back().first, site / "no_normal/square/a.png");
  auto bad = eval(site / "no_normal", "x.csv");
  EXPECT_EQ(bad.exit, 1);
  EXPECT_NE(bad.err.find("has no folder of the normal class 'circle'"), std::string::npos) << bad.err;
  fs::create_directories(site / "only_normal/circle");
  fs::copy_file(held.front().first, site / "only_normal/circle/a.png");
  bad = eval(site / "only_normal", "x.csv");
  EXPECT_EQ(bad.exit, 1);
  EXPECT_NE(bad.err.find("holds only the normal class 'circle'"), std::string::npos) << bad.err;
  bad = eval(site / "missing", "x.csv");
  EXPECT_EQ(bad.exit, 1);
  EXPECT_NE(bad.err.find("data.test_images '" + (site / "missing") + "' is not a folder"), std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(tmp / "x.csv"));
}
