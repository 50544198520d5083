// A run's calibration: the warning for scores that only rounding tells apart, and how a
// threshold that fell back is named.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/Calibration.h"
#include "common/Error.h"
#include "support/CapturedLog.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace api = shiftad::api;

TEST(Calibration, ScoresThatOnlyRoundingTellsApartAreWarnedOf) {
  // A randomly initialised MobileNetV2's scores (all 720 target images within 2.4e-7).
  EXPECT_TRUE(api::warnIfScoresAlike({1.18823099, 1.18823111, 1.18823123}, "test"));
  // train.svdd_eps = 1e6: scores near 3.2e13, a float32's 7 digits apart.
  EXPECT_TRUE(api::warnIfScoresAlike({3.1999983e13, 3.1999989e13}, "test"));
  EXPECT_TRUE(api::warnIfScoresAlike({0.0, 0.0, 0.0}, "test")) << "every image on the center";
  // A spread of 1e-4 of their size and more is a ranking.
  EXPECT_FALSE(api::warnIfScoresAlike({1.0, 1.00011}, "test"));
  EXPECT_FALSE(api::warnIfScoresAlike({0.2, 0.9, 4.0}, "test"));
  EXPECT_FALSE(api::warnIfScoresAlike({1.0}, "test")) << "one score ranks nothing";
}

TEST(Calibration, AThresholdThatFlagsMostOfThePoolIsWarnedOf) {
  // A pool the method takes to be mostly normal: more than half of it above the threshold
  // (the default's dense half against the rest) means many false alarms. Exactly half, or
  // a score equal to the threshold (normal: anomalous is score > threshold), is not said.
  api::Calibration c;
  c.pool_scores = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (const auto& [threshold, warns] : std::vector<std::pair<double, bool>>{{4.5, true}, {5.0, false}, {5.5, false}}) {
    c.threshold = threshold;
    shiftad::test::CapturedLog log;
    EXPECT_EQ(api::warnIfMostOfThePoolIsFlagged(c), warns) << threshold;
    EXPECT_EQ(log.text().find("flags 6 of the 10 pool images (60%)") != std::string::npos, warns) << log.text();
  }
  c.pool_scores.clear();
  EXPECT_FALSE(api::warnIfMostOfThePoolIsFlagged(c)) << "no pool, nothing flagged";
}

TEST(Calibration, AThresholdThatFellBackSaysWhatItWasTakenFrom) {
  api::Calibration c;
  c.rule.rule = shiftad::ThresholdRule::kMixture;
  c.rule.quantile = 0.95;
  EXPECT_EQ(api::ruleText(c), "mixture");
  c.fell_back = true;
  EXPECT_EQ(api::ruleText(c), "mixture, fell back to the 0.95 quantile of the calibration normals");
}

TEST(Calibration, AStoredThresholdThatIsNotItsRulesIsSaidAndTheRulesDecides) {
  // An edited threshold (-5) called every image anomalous while its normalised score said
  // 0.56. The oracle: normal_quantile 0.75 of 1..5 is 4 (numpy.quantile, linear).
  shiftad::test::TempDir tmp;
  api::Calibration c;
  c.rule = {shiftad::ThresholdRule::kNormalQuantile, 0.75};
  c.normals = "pool";
  c.normal_scores = {1, 2, 3, 4, 5};
  c.source_scores = c.pool_scores = c.normal_scores;
  c.threshold = 4.0;
  const auto path = tmp / "calibration.json";
  api::writeCalibration(path, c);
  {
    shiftad::test::CapturedLog log;
    EXPECT_EQ(api::readCalibration(path).threshold, 4.0);
    EXPECT_EQ(log.text(), "");
  }
  auto text = shiftad::test::readText(path);
  const std::string stored = "\"threshold\":4.0";
  ASSERT_NE(text.find(stored), std::string::npos) << text;
  shiftad::test::writeFile(path, text.replace(text.find(stored), stored.size(), "\"threshold\":-5.0"));
  shiftad::test::CapturedLog log;
  EXPECT_EQ(api::readCalibration(path).threshold, 4.0);
  EXPECT_NE(
      log.text().find("its threshold -5 is not what its rule (normal_quantile) gives over the scores it stores, 4"),
      std::string::npos)
      << log.text();
  // A quantile outside threshold.quantile's range is damage, as unsorted normals are.
  c.rule.quantile = 7;
  api::writeCalibration(path, c);
  EXPECT_THROW(api::readCalibration(path), shiftad::Error);
}
