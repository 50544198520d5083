// The label-free threshold's pieces against numpy and sklearn (tests/oracle/math_threshold.py)
// and hand-checked cases for the rules.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "method/DecisionThreshold.h"
#include "support/TestSupport.h"

namespace m = shiftad::method;

TEST(DecisionThreshold, QuantileAndMixtureMatchNumpyAndSklearn) {
  const auto cases = nlohmann::json::parse(shiftad::test::runPython("math_threshold.py"));
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto x = c.at("values").get<std::vector<double>>();
    for (const auto& q : c.at("quantiles")) EXPECT_NEAR(m::quantile(x, q[0]), q[1].get<double>(), 1e-12);
    // Both fits stop at their own convergence test from different starts; where the
    // components overlap the likelihood is flat near its maximum and EM creeps, so they
    // agree to 1e-3 of the data's unit spread, not to rounding.
    const auto fit = m::fitMixture1d(x);
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(fit.weight[k], c["weights"][k].get<double>(), 1e-3) << k;
      EXPECT_NEAR(fit.mean[k], c["means"][k].get<double>(), 1e-3) << k;
      EXPECT_NEAR(fit.var[k], c["variances"][k].get<double>(), 1e-3) << k;
    }
    const auto point = m::equalDensityPoint(fit);
    ASSERT_TRUE(point.has_value());
    EXPECT_NEAR(*point, c.at("equal_density").get<double>(), 1e-3);
    // mixtureBicGain takes scores and fits their logarithms: exp() of the case's values.
    std::vector<double> scores;
    for (double v : x) scores.push_back(std::exp(v));
    EXPECT_NEAR(m::mixtureBicGain(scores), c.at("bic_gain").get<double>(), 1e-2);
  }
}

TEST(DecisionThreshold, OneGaussianHasNoBicGain) {
  // 2000 log-normal scores: one population; the mixture's likelihood gain stays below the
  // BIC's price of 3 ln n = 22.8 for its three extra parameters.
  std::mt19937 gen(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> scores;
  for (int i = 0; i < 2000; ++i) scores.push_back(std::exp(0.3 * normal(gen) - 1.0));
  EXPECT_LT(m::mixtureBicGain(scores), 0.0);
}

TEST(DecisionThreshold, EqualVariancesMeetHalfWayAndWeightsDoNotMatter) {
  m::Mixture1d mix;
  mix.mean[0] = 1.0, mix.mean[1] = 5.0, mix.var[0] = mix.var[1] = 2.0;
  mix.weight[0] = 0.9, mix.weight[1] = 0.1;
  ASSERT_TRUE(m::equalDensityPoint(mix).has_value());
  EXPECT_NEAR(*m::equalDensityPoint(mix), 3.0, 1e-12);
  // Unequal variances: log N(x;0,1) = log N(x;3,4) <=> 3x^2 + 6x - 9 - 4 ln 4 = 0 (times 4),
  // whose root in [0, 3] is -1 + sqrt(4 + 4 ln 4 / 3).
  mix.mean[0] = 0.0, mix.var[0] = 1.0, mix.mean[1] = 3.0, mix.var[1] = 4.0;
  EXPECT_NEAR(*m::equalDensityPoint(mix), -1.0 + std::sqrt(4.0 + 4.0 * std::log(4.0) / 3.0), 1e-12);
}

TEST(DecisionThreshold, TheWeightedPointIsTheBoundaryOfTheMixturesOwnAssignment) {
  // Equal variances v: w0 N(x;m0,v) = w1 N(x;m1,v) at x = (m0+m1)/2 + v ln(w0/w1) / (m1-m0),
  // here 3 + 2 ln 9 / 4: a 90 % component pushes the boundary toward the other one.
  m::Mixture1d mix;
  mix.mean[0] = 1.0, mix.mean[1] = 5.0, mix.var[0] = mix.var[1] = 2.0;
  mix.weight[0] = 0.9, mix.weight[1] = 0.1;
  ASSERT_TRUE(m::equalDensityPoint(mix, true).has_value());
  EXPECT_NEAR(*m::equalDensityPoint(mix, true), 3.0 + 2.0 * std::log(9.0) / 4.0, 1e-12);
  mix.weight[0] = mix.weight[1] = 0.5;  // equal weights: the unweighted point
  EXPECT_NEAR(*m::equalDensityPoint(mix, true), 3.0, 1e-12);
}

TEST(DecisionThreshold, RulesTakeTheirOwnScores) {
  shiftad::ThresholdConfig cfg;
  m::ThresholdInputs in;
  in.source = {1, 2, 3, 4, 5};
  in.normals = {10, 20, 30, 40, 50};
  // Pool: log scores near 0 (e^0 = 1) and near ln 100; equal variances meet half-way,
  // at log 10: the threshold is 10 (the pool's own spread, mirrored, keeps it symmetric).
  for (double e : {-0.2, -0.1, 0.0, 0.1, 0.2}) in.pool.push_back(std::exp(e));
  for (double e : {-0.2, -0.1, 0.0, 0.1, 0.2}) in.pool.push_back(100 * std::exp(e));
  cfg.quantile = 0.75;
  cfg.rule = shiftad::ThresholdRule::kSourceQuantile;
  EXPECT_DOUBLE_EQ(m::decisionThreshold(cfg, in), 4.0);
  cfg.rule = shiftad::ThresholdRule::kNormalQuantile;
  EXPECT_DOUBLE_EQ(m::decisionThreshold(cfg, in), 40.0);
  // The pool's 0.75 quantile (numpy.quantile, linear): position 0.75 x 9 = 6.75 of its 10
  // sorted scores, between 100 e^-0.1 and 100.
  cfg.rule = shiftad::ThresholdRule::kPoolQuantile;
  EXPECT_NEAR(m::decisionThreshold(cfg, in), 100 * std::exp(-0.1) + 0.75 * (100 - 100 * std::exp(-0.1)), 1e-9);
  cfg.rule = shiftad::ThresholdRule::kMixture;
  bool fell_back = true;
  EXPECT_NEAR(m::decisionThreshold(cfg, in, &fell_back), 10.0, 1e-6);
  EXPECT_FALSE(fell_back);
  // Pool scores all alike cannot show two components: the normals' quantile instead.
  in.pool = {2, 2, 2, 2, 2};
  EXPECT_DOUBLE_EQ(m::decisionThreshold(cfg, in, &fell_back), 40.0);
  EXPECT_TRUE(fell_back);
}

TEST(DecisionThreshold, AComponentOfOneScoreIsNoPopulationAndTheRuleFallsBack) {
  // The pool of a real run (OfficeCaltech10 amazon -> webcam, class mug: 16 pool images):
  // the mixture gives its upper component to the highest score alone, and the cut just
  // below it passed 130 of 131 test anomalies. With one score on a side the rule falls
  // back to the 0.95 quantile of the calibration normals (numpy.quantile, linear: 0.1122717).
  const std::vector<double> pool = {0.0747411, 0.0772011, 0.0779876, 0.0827114, 0.0838357, 0.0846074,
                                    0.0856438, 0.0933445, 0.0978687, 0.1013264, 0.1029558, 0.1075715,
                                    0.1148026, 0.1222292, 0.1320414, 0.4348865};
  const auto cut = m::mixtureCut(pool);
  ASSERT_TRUE(cut.has_value()) << "the mixture alone cuts off the one score";
  EXPECT_GT(*cut, 0.1320414);
  shiftad::ThresholdConfig cfg;  // mixture, quantile 0.95
  m::ThresholdInputs in;
  in.pool = pool;
  in.normals = {0.0772011, 0.0779876, 0.0838357, 0.0856438, 0.0933445, 0.1013264, 0.1075715, 0.1148026};
  bool fell_back = false;
  EXPECT_NEAR(m::decisionThreshold(cfg, in, &fell_back), 0.1122717, 1e-6);
  EXPECT_TRUE(fell_back);
  // Two scores above the cut are a population (as a block of identical scores is, below).
  in.pool.push_back(0.4411);
  EXPECT_NEAR(m::decisionThreshold(cfg, in, &fell_back), *m::mixtureCut(in.pool), 1e-12);
  EXPECT_FALSE(fell_back);
}

TEST(DecisionThreshold, ScoresSpreadByATinyFractionOfTheirSizeAreCutBetweenTheirGroups) {
  // Scores near 3.2e13 (train.svdd_eps = 1e6) whose logarithms differ by 2e-6: 50 around
  // one value, 17 two millionths above. EM's variance, E[x^2] - mean^2, cancelled on such
  // logs (at a tenth of this spread a component emptied, its mean fell to 0 and the cut to
  // the square root of the scores, below every score). The cut lies between the groups.
  std::mt19937 gen(5);
  std::normal_distribution<double> noise(0.0, 1e-7);
  std::vector<double> low, high;
  for (int i = 0; i < 50; ++i) low.push_back(3.2e13 * std::exp(noise(gen)));
  for (int i = 0; i < 17; ++i) high.push_back(3.2e13 * std::exp(2e-6 + noise(gen)));
  auto pool = low;
  pool.insert(pool.end(), high.begin(), high.end());
  const auto cut = m::mixtureCut(pool);
  ASSERT_TRUE(cut.has_value());
  EXPECT_GT(*cut, *std::max_element(low.begin(), low.end()));
  EXPECT_LT(*cut, *std::min_element(high.begin(), high.end()));
  // The same groups at the scale of ordinary scores: the same cut, scaled.
  std::vector<double> scaled;
  for (double s : pool) scaled.push_back(std::pow(s / 3.2e13, 1e5));
  const auto cut_scaled = m::mixtureCut(scaled);
  ASSERT_TRUE(cut_scaled.has_value());
  EXPECT_NEAR(std::log(*cut_scaled), 1e5 * std::log(*cut / 3.2e13), 1e-3);
  // Scores that differ only by float32 rounding (a spread below a millionth) are one value.
  std::vector<double> rounded;
  for (double s : pool) rounded.push_back(3.2e13 * (1 + (s / 3.2e13 - 1) / 10));
  EXPECT_FALSE(m::mixtureCut(rounded).has_value());
}

TEST(DecisionThreshold, ABlockOfIdenticalScoresIsAComponentOfItsOwn) {
  // 20 byte-identical images score alike, two others apart: three distinct values, two
  // populations (before: fewer than 4 distinct values were one, and the cut was lost).
  std::vector<double> scores(20, 0.01);
  scores.push_back(0.3);
  scores.push_back(0.5);
  const auto cut = m::mixtureCut(scores, /*weighted=*/true);
  ASSERT_TRUE(cut.has_value());
  EXPECT_GT(*cut, 0.01);
  EXPECT_LT(*cut, 0.3);
  EXPECT_FALSE(m::mixtureCut({0.01, 0.01, 0.3}).has_value()) << "fewer than 4 values";
}
