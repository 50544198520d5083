// A run's calibration: the warning for scores that only rounding tells apart, and how a
// threshold that fell back is named.
#include <vector>

#include <gtest/gtest.h>

#include "api/Calibration.h"

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

TEST(Calibration, AThresholdThatFellBackSaysWhatItWasTakenFrom) {
  api::Calibration c;
  c.rule.rule = shiftad::ThresholdRule::kMixture;
  c.rule.quantile = 0.95;
  EXPECT_EQ(api::ruleText(c), "mixture");
  c.fell_back = true;
  EXPECT_EQ(api::ruleText(c), "mixture, fell back to the 0.95 quantile of the calibration normals");
}
