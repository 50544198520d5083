// Hand-checked cases for the detection metrics (sklearn comparisons: MetricsOracleTest).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "evaluation/Metrics.h"
#include "support/MathTestUtil.h"

namespace ev = shiftad::evaluation;
using shiftad::test::expectError;

namespace {

// Scores/labels worked out by hand below.
//   anomalies: 0.9, 0.8, 0.3    normals: 0.8, 0.5, 0.3
const std::vector<double> kHandScores = {0.9, 0.8, 0.8, 0.5, 0.3, 0.3};
const std::vector<int> kHandLabels = {1, 0, 1, 0, 1, 0};

}  // namespace

TEST(Metrics, PerfectSeparation) {
  const std::vector<double> s = {0.1, 0.2, 0.8, 0.9};
  const std::vector<int> y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(ev::auroc(s, y), 1.0);
  EXPECT_DOUBLE_EQ(ev::aupr(s, y), 1.0);
}

TEST(Metrics, InvertedScores) {
  // Descending: 0.9 n, 0.8 n, 0.2 a, 0.1 a. AP = 1/2 * 1/3 + 1/2 * 2/4 = 5/12.
  const std::vector<double> s = {0.9, 0.8, 0.2, 0.1};
  const std::vector<int> y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(ev::auroc(s, y), 0.0);
  EXPECT_DOUBLE_EQ(ev::aupr(s, y), 5.0 / 12.0);
}

TEST(Metrics, AllTiedScores) {
  const std::vector<double> s(10, 0.7);
  const std::vector<int> y = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0};
  EXPECT_DOUBLE_EQ(ev::auroc(s, y), 0.5);
  EXPECT_DOUBLE_EQ(ev::aupr(s, y), 0.3);  // one threshold: precision = prevalence
  const ev::RocCurve roc = ev::rocCurve(s, y);
  EXPECT_EQ(roc.fpr, (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(roc.tpr, (std::vector<double>{0.0, 1.0}));
}

TEST(Metrics, HandComputedAuroc) {
  // Pairs (anomaly, normal), 1 if the anomaly scores higher, 1/2 on a tie:
  //   0.9 vs {0.8, 0.5, 0.3}: 1 + 1 + 1   = 3
  //   0.8 vs {0.8, 0.5, 0.3}: .5 + 1 + 1  = 2.5
  //   0.3 vs {0.8, 0.5, 0.3}: 0 + 0 + .5  = 0.5
  // AUROC = 6 / 9.
  EXPECT_NEAR(ev::auroc(kHandScores, kHandLabels), 6.0 / 9.0, 1e-15);
}

TEST(Metrics, HandComputedAurocStandardError) {
  // Each anomaly's share of the normals it outscores (the rows above): 1, 5/6, 1/6, sample
  // variance 7/36; each normal's share of the anomalies outscoring it: 0.8 is beaten by 0.9
  // and ties 0.8 (1/2), 0.5 by two (2/3), 0.3 by two and a tie (5/6): variance 1/36.
  // SE = sqrt(7/36 / 3 + 1/36 / 3) = sqrt(2/27).
  EXPECT_NEAR(ev::aurocStandardError(kHandScores, kHandLabels), std::sqrt(2.0 / 27.0), 1e-15);
  // Perfect separation leaves no variance; one sample of a class leaves none to estimate.
  EXPECT_EQ(ev::aurocStandardError({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 0.0);
  EXPECT_TRUE(std::isnan(ev::aurocStandardError({0.1, 0.2, 0.9}, {0, 0, 1})));
}

TEST(Metrics, HandComputedAupr) {
  // Thresholds (descending), cumulative (tp, fp), precision, recall step:
  //   0.9: (1,0) P=1    dR=1/3
  //   0.8: (2,1) P=2/3  dR=1/3
  //   0.5: (2,2) P=1/2  dR=0
  //   0.3: (3,3) P=1/2  dR=1/3
  // AP = (1 + 2/3 + 1/2) / 3 = 13/18.
  EXPECT_NEAR(ev::aupr(kHandScores, kHandLabels), 13.0 / 18.0, 1e-15);
}

TEST(Metrics, HandComputedRocCurve) {
  const ev::RocCurve roc = ev::rocCurve(kHandScores, kHandLabels);
  const std::vector<double> fpr = {0.0, 0.0, 1.0 / 3, 2.0 / 3, 1.0};
  const std::vector<double> tpr = {0.0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1.0};
  ASSERT_EQ(roc.fpr.size(), fpr.size());
  ASSERT_EQ(roc.tpr.size(), tpr.size());
  for (size_t i = 0; i < fpr.size(); ++i) {
    EXPECT_NEAR(roc.fpr[i], fpr[i], 1e-15) << i;
    EXPECT_NEAR(roc.tpr[i], tpr[i], 1e-15) << i;
  }
}

TEST(Metrics, MeanRocIsTheVerticalAverageOfStepCurves) {
  // The hand curve above: TPR (step function, best at or below each FPR) is 1/3 at
  // FPR 0, 2/3 at 0.5, 1 at 1. A perfect detector: TPR 1 everywhere.
  const ev::RocCurve hand = ev::rocCurve(kHandScores, kHandLabels);
  const ev::RocCurve perfect = ev::rocCurve({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1});
  const ev::RocCurve m = ev::meanRoc({hand, perfect}, 3);
  ASSERT_EQ(m.fpr.size(), 3u);
  EXPECT_DOUBLE_EQ(m.fpr[1], 0.5);
  EXPECT_NEAR(m.tpr[0], (1.0 / 3 + 1.0) / 2, 1e-15);
  EXPECT_NEAR(m.tpr[1], (2.0 / 3 + 1.0) / 2, 1e-15);
  EXPECT_NEAR(m.tpr[2], 1.0, 1e-15);
  expectError([] { ev::meanRoc({}, 1); }, "points must be >= 2");
}

TEST(Metrics, InvariantToOrderAndMonotoneTransform) {
  std::vector<double> s = kHandScores;
  std::vector<int> y = kHandLabels;
  std::reverse(s.begin(), s.end());
  std::reverse(y.begin(), y.end());
  for (double& v : s) v = std::exp(3.0 * v) - 100.0;  // strictly increasing: same ranking, same ties
  EXPECT_NEAR(ev::auroc(s, y), 6.0 / 9.0, 1e-15);
  EXPECT_NEAR(ev::aupr(s, y), 13.0 / 18.0, 1e-15);
}

TEST(Metrics, AuprOfAPerfectRankingIsExactlyOneNeverAbove) {
  // Every anomaly above every normal: AP is 1 by its definition. Summing recall steps of
  // 1/9 gave 1.0000000000000002 (a results.csv held aupr 1.0000000000000013).
  for (int positives = 1; positives <= 200; ++positives) {
    std::vector<double> s = {-2.0, -1.0};
    std::vector<int> y = {0, 0};
    for (int i = 0; i < positives; ++i) s.push_back(i), y.push_back(1);
    EXPECT_EQ(ev::aupr(s, y), 1.0) << positives << " anomalies";
  }
}

TEST(Metrics, AuprWithoutNormalsIsOne) { EXPECT_DOUBLE_EQ(ev::aupr({0.3, 0.1, 0.2}, {1, 1, 1}), 1.0); }

TEST(Metrics, Errors) {
  expectError([] { ev::auroc({1, 2, 3, 4, 5}, {0, 1, 0, 1}); }, "auroc: 5 scores but 4 labels");
  expectError([] { ev::aupr({1, 2}, {0}); }, "aupr: 2 scores but 1 labels");
  expectError([] { ev::auroc(std::vector<double>(10, 1.0), std::vector<int>(10, 0)); },
              "auroc needs both normal and anomalous samples; got 0 anomalous of 10");
  expectError(
      [] {
        ev::auroc({1, 2, 3}, {1, 1, 1});
      },
      "auroc needs both normal and anomalous samples; got 3 anomalous of 3");
  expectError([] { ev::rocCurve({1, 2}, {0, 0}); }, "rocCurve needs both normal and anomalous samples");
  expectError([] { ev::aupr({1, 2}, {0, 0}); }, "aupr needs anomalous samples; got 0 anomalous of 2");
  expectError([] { ev::auroc({}, {}); }, "got 0 anomalous of 0");
  expectError([] { ev::auroc({1, 2, 3}, {0, 2, 1}); }, "auroc: label 1 is 2 (labels must be 0 or 1)");
  expectError(
      [] {
        ev::auroc({1, std::numeric_limits<double>::quiet_NaN()}, {0, 1});
      },
      "auroc: score 1 is nan (scores must be finite)");
}

TEST(Metrics, MeanStdPopulation) {
  const ev::MeanStd ms = ev::meanStd({1.0, 2.0, 3.0, 4.0});
  EXPECT_DOUBLE_EQ(ms.mean, 2.5);
  EXPECT_DOUBLE_EQ(ms.std, std::sqrt(1.25));  // ddof = 0: sum of squared deviations 5, over 4
  const ev::MeanStd one = ev::meanStd({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_DOUBLE_EQ(one.std, 0.0);
}

TEST(Metrics, MeanStdStableForLargeOffsets) {
  // E[x^2] - E[x]^2 would lose every digit here; deviations are +-1 around 1e9.
  const ev::MeanStd ms = ev::meanStd({1e9 + 1, 1e9 - 1, 1e9 + 1, 1e9 - 1});
  EXPECT_DOUBLE_EQ(ms.mean, 1e9);
  EXPECT_DOUBLE_EQ(ms.std, 1.0);
}

TEST(Metrics, MeanStdEmptyThrows) {
  expectError([] { ev::meanStd({}); }, "meanStd: no values");
}
