// How many unreadable images a run may skip (api/SkipLimit, data.max_skipped).
#include <filesystem>
#include <string>

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
