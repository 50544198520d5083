// How many unreadable images a run may skip (api/SkipLimit, data.max_skipped).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/SkipLimit.h"
#include "common/Error.h"
#include "shiftad/shiftad.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::protocolOf;
using shiftad::test::synthRoot;
using shiftad::test::TempDir;

TEST(SkipLimit, SharesBelowOneAndCountsFromOne) {
  EXPECT_EQ(shiftad::api::allowedSkips(0.1, 125), 12u);
  EXPECT_EQ(shiftad::api::allowedSkips(0.0, 125), 0u);
  EXPECT_EQ(shiftad::api::allowedSkips(1.0, 5), 1u);
  EXPECT_EQ(shiftad::api::allowedSkips(3.7, 100), 3u);
}

TEST(SkipLimit, TooManyUnreadableImagesStopTrainingNamingTheKey) {
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  shiftad::test::writeFile(root + "/source/circle/zz_a.png", "broken");
  shiftad::test::writeFile(root + "/source/circle/zz_b.png", "broken");
  auto cfg = protocolOf(root, "circle");
  cfg.model.width = 8;
  cfg.train.epochs = 1;
  cfg.data.max_skipped = 1;
  try {
    shiftad::train(cfg, tmp / "run");
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("2 of 122 source images"), std::string::npos) << msg;
    EXPECT_NE(msg.find("zz_a.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("data.max_skipped"), std::string::npos) << msg;
  }
  // A new run that failed before its first checkpoint leaves nothing to trip over.
  EXPECT_FALSE(fs::exists(tmp / "run/config.yaml"));
  EXPECT_FALSE(fs::exists(tmp / "run/metrics.jsonl"));
  cfg.data.max_skipped = 2;
  EXPECT_EQ(shiftad::train(cfg, tmp / "run").skipped_images, 2);
}

TEST(SkipLimit, ScoringSaysHowToAllowMoreAndLoadOptionsDoes) {
  TempDir tmp;
  auto cfg = protocolOf(synthRoot(), "circle");
  cfg.model.width = 8;
  cfg.train.epochs = 1;
  cfg.encoder.cache_dir = tmp / "cache";
  shiftad::train(cfg, tmp / "run");
  // Four images, one missing: 10% of 4 rounds down to none allowed.
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(synthRoot() + "/target/circle")) {
    if (paths.size() == 3) break;
    paths.push_back(e.path().string());
  }
  paths.push_back(tmp / "missing.png");
  try {
    shiftad::Detector::load(tmp / "run").score(paths);
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1 of 4 scored images"), std::string::npos) << msg;
    // It read "more than the limit = 0.1 allows (0)" (hunt14-b).
    EXPECT_NE(msg.find("more than the limit of 0.1 allows (0)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--max-skipped"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("check-data"), std::string::npos) << "the files are not a data set: " << msg;
  }
  shiftad::LoadOptions options;
  options.max_skipped = 1;
  const auto r = shiftad::Detector::load(tmp / "run", options).score(paths);
  EXPECT_EQ(r.scores.size(), 3u);
  EXPECT_EQ(r.skipped, std::vector<std::string>{tmp / "missing.png"});
}
