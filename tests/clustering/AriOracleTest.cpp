// The adjusted Rand index of MathTestUtil.h (used by KMeansTest) against sklearn.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/TestSupport.h"
#include "support/MathTestUtil.h"

TEST(AriOracle, MatchesSklearnAdjustedRandScore) {
  const nlohmann::json cases = nlohmann::json::parse(shiftad::test::runPython("math_ari.py"));
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    const auto a = c.at("a").get<std::vector<int64_t>>();
    const auto b = c.at("b").get<std::vector<int64_t>>();
    EXPECT_NEAR(shiftad::test::adjustedRandIndex(a, b), c.at("ari").get<double>(), 1e-12) << "n = " << a.size();
  }
}
