// Metrics against sklearn (tests/oracle/math_metrics.py), on fixed arrays with ties.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evaluation/Decision.h"
#include "evaluation/Metrics.h"
#include "support/TestSupport.h"

namespace ev = shiftad::evaluation;

namespace {
constexpr double kTol = 1e-12;
}

TEST(MetricsOracle, MatchesSklearn) {
  const nlohmann::json cases = nlohmann::json::parse(shiftad::test::runPython("math_metrics.py"));
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto scores = c.at("scores").get<std::vector<double>>();
    const auto labels = c.at("labels").get<std::vector<int>>();
    EXPECT_NEAR(ev::auroc(scores, labels), c.at("auroc").get<double>(), kTol);
    EXPECT_NEAR(ev::aupr(scores, labels), c.at("ap").get<double>(), kTol);
    if (c.at("delong_se").is_null())  // fewer than two of a class
      EXPECT_TRUE(std::isnan(ev::aurocStandardError(scores, labels)));
    else
      EXPECT_NEAR(ev::aurocStandardError(scores, labels), c.at("delong_se").get<double>(), kTol);

    const ev::RocCurve roc = ev::rocCurve(scores, labels);
    const auto fpr = c.at("fpr").get<std::vector<double>>();
    const auto tpr = c.at("tpr").get<std::vector<double>>();
    ASSERT_EQ(roc.fpr.size(), fpr.size());
    ASSERT_EQ(roc.tpr.size(), tpr.size());
    for (size_t i = 0; i < fpr.size(); ++i) {
      EXPECT_NEAR(roc.fpr[i], fpr[i], kTol) << "point " << i;
      EXPECT_NEAR(roc.tpr[i], tpr[i], kTol) << "point " << i;
    }
  }
}

TEST(MetricsOracle, DecisionsMatchSklearn) {
  const nlohmann::json cases = nlohmann::json::parse(shiftad::test::runPython("math_metrics.py"));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto scores = c.at("scores").get<std::vector<double>>();
    const auto labels = c.at("labels").get<std::vector<int>>();
    EXPECT_NEAR(ev::f1Max(scores, labels), c.at("f1_max").get<double>(), kTol);
    for (const auto& d : c.at("decisions")) {
      const double t = d.at("threshold").get<double>();
      SCOPED_TRACE(t);
      const auto m = ev::atThreshold(scores, labels, t);
      EXPECT_NEAR(m.precision, d.at("precision").get<double>(), kTol);
      EXPECT_NEAR(m.recall, d.at("recall").get<double>(), kTol);
      EXPECT_NEAR(m.f1, d.at("f1").get<double>(), kTol);
      EXPECT_NEAR(m.fpr, d.at("fpr").get<double>(), kTol);
    }
  }
}
