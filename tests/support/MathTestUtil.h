// Helpers shared by the math tests (metrics, k-means, losses).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"

namespace shiftad::test {

/// Expect `fn()` to throw shiftad::Error whose message contains `fragment`.
template <typename Fn>
void expectError(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected shiftad::Error containing \"" << fragment << "\", nothing thrown";
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
  }
}

/// Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the same items:
/// 1 for identical partitions (up to renaming), ~0 for independent ones. Matches sklearn's
/// adjusted_rand_score, including its 1.0 for the degenerate cases with a zero denominator.
inline double adjustedRandIndex(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  auto pairs = [](double m) { return m * (m - 1.0) / 2.0; };
  std::map<std::pair<int64_t, int64_t>, double> joint;
  std::map<int64_t, double> rows, cols;
  for (size_t i = 0; i < a.size(); ++i) {
    joint[{a[i], b[i]}] += 1;
    rows[a[i]] += 1;
    cols[b[i]] += 1;
  }
  double index = 0, sum_rows = 0, sum_cols = 0;
  for (const auto& [key, count] : joint) index += pairs(count);
  for (const auto& [key, count] : rows) sum_rows += pairs(count);
  for (const auto& [key, count] : cols) sum_cols += pairs(count);
  const double expected = sum_rows * sum_cols / pairs(static_cast<double>(a.size()));
  const double max_index = (sum_rows + sum_cols) / 2.0;
  if (max_index == expected) return 1.0;
  return (index - expected) / (max_index - expected);
}

}  // namespace shiftad::test
