// Hand-checked cases for the metrics of a decision (sklearn comparisons: MetricsOracleTest).
#include <vector>

#include <gtest/gtest.h>

#include "evaluation/Decision.h"
#include "support/MathTestUtil.h"

namespace ev = shiftad::evaluation;
using shiftad::test::expectError;

namespace {

//   anomalies: 0.9, 0.8, 0.3    normals: 0.8, 0.5, 0.3
const std::vector<double> kScores = {0.9, 0.8, 0.8, 0.5, 0.3, 0.3};
const std::vector<int> kLabels = {1, 0, 1, 0, 1, 0};

}  // namespace

TEST(Decision, CountsAtAThreshold) {
  // score > 0.5 calls 0.9 (a), 0.8 (n), 0.8 (a): TP 2, FP 1, FN 1 (0.3), TN 2 (0.5, 0.3).
  const auto m = ev::atThreshold(kScores, kLabels, 0.5);
  EXPECT_EQ(m.true_positives, 2);
  EXPECT_EQ(m.false_positives, 1);
  EXPECT_EQ(m.false_negatives, 1);
  EXPECT_EQ(m.true_negatives, 2);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.fpr, 1.0 / 3.0);
}

TEST(Decision, AScoreEqualToTheThresholdIsNormal) {
  // score > 0.8 calls only 0.9: P 1, R 1/3, F1 = 2 * 1/3 / (4/3) = 1/2, FPR 0.
  const auto m = ev::atThreshold(kScores, kLabels, 0.8);
  EXPECT_DOUBLE_EQ(m.precision, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1, 0.5);
  EXPECT_DOUBLE_EQ(m.fpr, 0.0);
}

TEST(Decision, NothingCalledGivesZeroRates) {
  const auto m = ev::atThreshold(kScores, kLabels, 1.0);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.fpr, 0.0);
}

TEST(Decision, F1MaxHandChecked) {
  // Thresholds from the top: {0.9}: P 1, R 1/3, F1 1/2. {0.9, 0.8, 0.8}: P 2/3, R 2/3,
  // F1 2/3. {.., 0.5}: P 1/2, R 2/3, F1 4/7. all: P 1/2, R 1, F1 2/3. Best: 2/3.
  EXPECT_DOUBLE_EQ(ev::f1Max(kScores, kLabels), 2.0 / 3.0);
  // Perfect separation reaches 1; with no anomaly there is nothing to find.
  EXPECT_DOUBLE_EQ(ev::f1Max({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);
  EXPECT_EQ(ev::f1Max({0.1, 0.2}, {0, 0}), 0.0);
}

TEST(Decision, SizeMismatchIsAnError) {
  expectError([] { ev::atThreshold({0.1, 0.2}, {1}, 0.0); }, "2 scores but 1 labels");
  expectError([] { ev::f1Max({0.1}, {1, 0}); }, "1 scores but 2 labels");
}
