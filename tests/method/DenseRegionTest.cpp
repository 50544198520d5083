// The pool's dense region (cluster.space: dense): neighbour distances against a
// hand-computed case and a naive double loop, and the region itself on pools built so
// that which rows are normal is known.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "common/Error.h"
#include "method/DenseRegion.h"
#include "shiftad/Config.h"

namespace me = shiftad::method;

namespace {

constexpr double kPi = 3.14159265358979323846;
/// The low mode itself: a neighbourhood of a fifth of the pool, no gate, no cap.
const me::DenseRegionParams kUncapped{0.2, false, 1.0};

/// Unit vectors at `degrees` in the plane, each scaled by a different length (distances are
/// cosine, so the lengths must not matter).
torch::Tensor onCircle(const std::vector<double>& degrees) {
  auto x = torch::empty({static_cast<int64_t>(degrees.size()), 2}, torch::kDouble);
  for (size_t i = 0; i < degrees.size(); ++i) {
    const double r = degrees[i] * kPi / 180.0, len = 1.0 + static_cast<double>(i);
    x[static_cast<int64_t>(i)][0] = len * std::cos(r);
    x[static_cast<int64_t>(i)][1] = len * std::sin(r);
  }
  return x;
}

/// The rows of `x` around `kinds` directions: `per_kind[j]` rows near axis j, jittered by `noise`.
torch::Tensor kindsOfRows(const std::vector<int64_t>& per_kind, int64_t dim, double noise, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> parts;
  for (size_t j = 0; j < per_kind.size(); ++j) {
    auto center = torch::zeros({1, dim}, torch::kDouble);
    center[0][static_cast<int64_t>(j)] = 1.0;
    parts.push_back(center + noise * torch::randn({per_kind[j], dim}, gen, torch::kDouble));
  }
  return torch::cat(parts);
}

}  // namespace

TEST(DenseRegion, NeighbourDistanceIsTheMeanCosineDistanceToTheNearestOthers) {
  const auto x = onCircle({0.0, 10.0, 30.0, 100.0});
  const auto d = [](double deg) { return 1.0 - std::cos(deg * kPi / 180.0); };
  // share 1/3 of the 3 others: k = 1.
  const auto k1 = me::neighbourDistance(x, 1.0 / 3.0);
  const std::vector<double> want1 = {d(10), d(10), d(20), d(70)};
  // share 2/3: k = 2.
  const auto k2 = me::neighbourDistance(x, 2.0 / 3.0);
  const std::vector<double> want2 = {(d(10) + d(30)) / 2, (d(10) + d(20)) / 2, (d(20) + d(30)) / 2,
                                     (d(70) + d(90)) / 2};
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(k1[i].item<double>(), want1[static_cast<size_t>(i)], 1e-12) << i;
    EXPECT_NEAR(k2[i].item<double>(), want2[static_cast<size_t>(i)], 1e-12) << i;
  }
}

TEST(DenseRegion, NeighbourDistanceMatchesANaiveLoopAcrossBlocks) {
  // 600 rows: more than two blocks of the blocked computation.
  auto gen = at::detail::createCPUGenerator(3);
  const auto x = torch::randn({600, 5}, gen, torch::kDouble);
  const double share = 0.05;
  const auto got = me::neighbourDistance(x.to(torch::kFloat), share);
  const int64_t n = x.size(0), k = std::llround(share * static_cast<double>(n - 1));
  const auto a = x.accessor<double, 2>();
  for (int64_t i = 0; i < n; i += 37) {
    std::vector<double> dist;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double dot = 0, ni = 0, nj = 0;
      for (int64_t c = 0; c < 5; ++c) {
        dot += a[i][c] * a[j][c];
        ni += a[i][c] * a[i][c];
        nj += a[j][c] * a[j][c];
      }
      dist.push_back(1.0 - dot / std::sqrt(ni * nj));
    }
    std::sort(dist.begin(), dist.end());
    double mean = 0;
    for (int64_t m = 0; m < k; ++m) mean += dist[static_cast<size_t>(m)];
    // float32 input: the features are rounded before the float64 comparison.
    EXPECT_NEAR(got[i].item<double>(), mean / static_cast<double>(k), 1e-6) << i;
  }
}

TEST(DenseRegion, OneReferenceRowIsRefused) {
  const auto x = torch::randn({10, 3}, torch::kDouble);
  EXPECT_THROW(me::neighbourDistance(x, 0.2, 1), shiftad::Error);
  EXPECT_EQ(me::neighbourDistance(x, 0.2, 2).size(0), 10);
}

TEST(DenseRegion, OnAReferenceSampleEachRowIsComparedWithRowsSpreadEvenlyOverThePool) {
  // cluster.dense_reference_rows = 100 of 600 rows: the reference rows are 0, 6, 12, ...;
  // a row among them does not count itself. Naive loop over exactly those rows.
  auto gen = at::detail::createCPUGenerator(4);
  const auto x = torch::randn({600, 5}, gen, torch::kDouble);
  const double share = 0.1;
  const int64_t m = 100, k = std::llround(share * static_cast<double>(m - 1));
  const auto got = me::neighbourDistance(x, share, m);
  const auto a = x.accessor<double, 2>();
  const auto cosine = [&](int64_t i, int64_t j) {
    double dot = 0, ni = 0, nj = 0;
    for (int64_t c = 0; c < 5; ++c) {
      dot += a[i][c] * a[j][c];
      ni += a[i][c] * a[i][c];
      nj += a[j][c] * a[j][c];
    }
    return dot / std::sqrt(ni * nj);
  };
  for (int64_t i = 0; i < 600; i += 7) {  // 7 and 6 meet: rows in the sample and rows outside it
    std::vector<double> dist;
    for (int64_t j = 0; j < m; ++j)
      if (6 * j != i) dist.push_back(1.0 - cosine(i, 6 * j));
    std::sort(dist.begin(), dist.end());
    double mean = 0;
    for (int64_t r = 0; r < k; ++r) mean += dist[static_cast<size_t>(r)];
    EXPECT_NEAR(got[i].item<double>(), mean / static_cast<double>(k), 1e-12) << i;
  }
  // As many reference rows as the pool, or 0: every row, as without a sample.
  EXPECT_TRUE(torch::equal(me::neighbourDistance(x, share, 600), me::neighbourDistance(x, share)));
  EXPECT_TRUE(torch::equal(me::neighbourDistance(x, share, 0), me::neighbourDistance(x, share)));
}

TEST(DenseRegion, ASampleOfThePoolFindsTheRegionAllRowsFind) {
  // 3,000 rows (2,700 normal, three kinds of 100 anomalies): neighbourhoods looked for among
  // 400 rows spread over the pool give nearly the region every row gives, with no anomaly.
  const auto x = kindsOfRows({2700, 100, 100, 100}, 8, 0.15, 12);
  const auto exact = me::denseRows(x, {0.2, false, 1.0, 0});
  const auto sampled = me::denseRows(x, {0.2, false, 1.0, 400});
  ASSERT_GE(exact.size(0), 2000);
  ASSERT_LE(exact.max().item<int64_t>(), 2699) << "every row: an anomaly was kept";
  EXPECT_LE(sampled.max().item<int64_t>(), 2699) << "an anomaly was kept";
  const auto both = static_cast<double>(torch::isin(sampled, exact).sum().item<int64_t>());
  const auto either = static_cast<double>(exact.size(0) + sampled.size(0)) - both;
  EXPECT_GE(both / either, 0.95) << exact.size(0) << " exact rows, " << sampled.size(0) << " sampled";
}

TEST(DenseRegion, KeepsTheNormalClassWhenAnomaliesAreRare) {
  // 90 normal rows and three kinds of 4 anomalies: every anomaly's nearest fifth of the
  // pool (20 rows) reaches into other kinds.
  const auto x = kindsOfRows({90, 4, 4, 4}, 8, 0.15, 11);
  const auto rows = me::denseRows(x, kUncapped);
  EXPECT_LE(rows.max().item<int64_t>(), 89) << "an anomaly was kept";
  EXPECT_GE(rows.size(0), 80) << "most normal rows are kept";
}

TEST(DenseRegion, KeepsTheNormalClassWhenHalfThePoolIsAnomalous) {
  // 50 normal rows and five kinds of 10 anomalies, each kind tighter than the normal class:
  // the paper's largest cluster can be such a kind, the neighbourhood of a fifth cannot.
  auto x = torch::cat({kindsOfRows({50}, 8, 0.25, 5), kindsOfRows({0, 10, 10, 10, 10, 10}, 8, 0.1, 6)});
  const auto rows = me::denseRows(x, kUncapped);
  EXPECT_LE(rows.max().item<int64_t>(), 49) << "an anomaly was kept";
  EXPECT_GE(rows.size(0), 40) << "most normal rows are kept";
}

TEST(DenseRegion, TheShareCapKeepsTheDensestRowsOfTheLowMode) {
  // cluster.dense_max_share: the half-anomalous pool above, capped at 30% of its 100 rows:
  // exactly the 30 rows of smallest neighbourhood distance (ranked here by a sort of the
  // distances), all of them inside the uncapped region; a cap above the region's size
  // changes nothing.
  auto x = torch::cat({kindsOfRows({50}, 8, 0.25, 5), kindsOfRows({0, 10, 10, 10, 10, 10}, 8, 0.1, 6)});
  const auto uncapped = me::denseRows(x, kUncapped);
  ASSERT_LT(uncapped.size(0), 90);
  EXPECT_TRUE(torch::equal(me::denseRows(x, {0.2, false, 0.9}), uncapped));
  const auto capped = me::denseRows(x, {0.2, false, 0.3});
  ASSERT_EQ(capped.size(0), 30);
  const auto d = me::neighbourDistance(x, 0.2);
  std::vector<std::pair<double, int64_t>> ranked;
  for (int64_t i = 0; i < d.size(0); ++i) ranked.emplace_back(d[i].item<double>(), i);
  std::sort(ranked.begin(), ranked.end());
  std::vector<int64_t> densest;
  for (size_t i = 0; i < 30; ++i) densest.push_back(ranked[i].second);
  std::sort(densest.begin(), densest.end());
  EXPECT_EQ(std::vector<int64_t>(capped.data_ptr<int64_t>(), capped.data_ptr<int64_t>() + 30), densest);
  EXPECT_TRUE(torch::isin(capped, uncapped).all().item<bool>()) << "a capped row outside the low mode";
}

TEST(DenseRegion, TheDefaultCapIsHalfThePoolAsInTheConfig) {
  // The library's defaults are the config's (DenseRegionParams keeps torch out of Config.h
  // and so repeats them). 90 normal rows of 102: the low mode holds them, the default keeps
  // round(0.5 * 102) = 51, the densest.
  const me::DenseRegionParams params;
  const shiftad::ClusterConfig cfg;
  EXPECT_EQ(params.max_share, cfg.dense_max_share);
  EXPECT_EQ(params.neighbours, cfg.neighbours);
  EXPECT_EQ(params.bic_gate, cfg.dense_bic_gate);
  const auto x = kindsOfRows({90, 4, 4, 4}, 8, 0.15, 11);
  const auto rows = me::denseRows(x);
  ASSERT_GT(me::denseRows(x, kUncapped).size(0), 51);
  EXPECT_EQ(rows.size(0), 51);
  EXPECT_LE(rows.max().item<int64_t>(), 89) << "an anomaly was kept";
}

TEST(DenseRegion, TheBicGateKeepsOnePopulationWholeAndTwoSplit) {
  // Log-normal values, one population: the mixture still cuts them (a skew tail), the
  // gate (cluster.dense_bic_gate) keeps every row. Two well-apart populations: the gate
  // changes nothing.
  std::mt19937 gen(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> one, two;
  for (int i = 0; i < 400; ++i) one.push_back(std::exp(0.3 * normal(gen)));
  for (int i = 0; i < 400; ++i) two.push_back(std::exp(0.2 * normal(gen) + (i < 320 ? 0.0 : 2.0)));
  const auto t1 = torch::tensor(one, torch::kDouble), t2 = torch::tensor(two, torch::kDouble);
  ASSERT_LT(me::lowModeRows(t1).size(0), 400) << "ungated, the mixture leaves rows out";
  EXPECT_EQ(me::lowModeRows(t1, /*bic_gate=*/true).size(0), 400);
  const auto split = me::lowModeRows(t2, /*bic_gate=*/true);
  EXPECT_TRUE(torch::equal(split, me::lowModeRows(t2)));
  EXPECT_TRUE(torch::equal(split, torch::arange(320, torch::kLong))) << "the low population, exactly";
}

TEST(DenseRegion, APoolTheBicGateFindsOnePopulationIsKeptWholePastTheCap) {
  // 100 rows evenly around a circle, all equally dense: gated, the whole pool, not its
  // densest half; ungated, the cap.
  const auto angle = torch::arange(100, torch::kDouble) * (2 * M_PI / 100);
  const auto x = torch::stack({angle.cos(), angle.sin()}, 1);
  ASSERT_EQ(me::lowModeRows(me::neighbourDistance(x, 0.2), /*bic_gate=*/true).size(0), 100)
      << "precondition: gated, the low mode is the whole pool";
  EXPECT_TRUE(torch::equal(me::denseRows(x, {0.2, true, 0.5}), torch::arange(100, torch::kLong)));
  EXPECT_EQ(me::denseRows(x, {0.2, false, 0.5}).size(0), 50);
}

TEST(DenseRegion, TinyPoolsAreKeptWhole) {
  EXPECT_TRUE(torch::equal(me::denseRows(torch::randn({3, 4}), {0.2}), torch::arange(3, torch::kLong)));
  EXPECT_TRUE(torch::equal(me::denseRows(torch::ones({6, 4}), kUncapped), torch::arange(6, torch::kLong)))
      << "identical rows form one mode";
}

TEST(DenseRegion, ByteIdenticalNormalsAreTheRegionNotThePool) {
  // 20 identical normal rows (neighbour distance 0) and 2 anomalies: three distinct
  // distances. Uncapped, the region was the whole pool, anomalies aligned (a mixture needed
  // 4 distinct values); it is the 20 rows.
  auto x = torch::cat(
      {torch::ones({20, 3}, torch::kDouble), torch::tensor({{1.0, -1.0, 0.0}, {-1.0, 0.0, 1.0}}, torch::kDouble)});
  EXPECT_TRUE(torch::equal(me::denseRows(x, kUncapped), torch::arange(20, torch::kLong)));
}

TEST(DenseRegion, RejectsABadShareOrMatrix) {
  EXPECT_THROW(me::neighbourDistance(torch::randn({5, 2}), 0.0), shiftad::Error);
  EXPECT_THROW(me::neighbourDistance(torch::randn({5, 2}), 1.5), shiftad::Error);
  EXPECT_THROW(me::neighbourDistance(torch::randn({1, 2}), 0.2), shiftad::Error);
  EXPECT_THROW(me::neighbourDistance(torch::randn({5}), 0.2), shiftad::Error);
}
