// The schedule of the aligned pool rows: Φ's space clustered once, F's own space
// re-clustered every cluster.recluster_every epochs, none = the whole pool, dense = the
// dense region chosen once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "config/Choices.h"
#include "method/AlignedSet.h"
#include "method/DenseRegion.h"

namespace me = shiftad::method;

namespace {

/// 12 rows: 8 near a, then 4 near b (rows 0-7 dominate); with `flip` the 4 near b come
/// first (rows 4-11 dominate).
torch::Tensor features(bool flip) {
  const torch::Tensor a = torch::zeros({8, 2}) + 0.01 * torch::arange(16).reshape({8, 2});
  const torch::Tensor b = torch::full({4, 2}, 5.f) + 0.01 * torch::arange(8).reshape({4, 2});
  return flip ? torch::cat({b, a}) : torch::cat({a, b});
}

shiftad::ClusterConfig clusterConfig(const char* space, int every) {
  shiftad::ClusterConfig cfg;
  cfg.space = *shiftad::config::parseChoice<shiftad::ClusterSpace>(space);
  cfg.recluster_every = every;
  cfg.kmeans.k = 2;
  return cfg;
}

/// F's features of the pool, alternating between the two layouts at every call.
struct SelfSpace {
  int calls = 0;
  torch::Tensor operator()() { return features(calls++ % 2 == 1); }
};

}  // namespace

TEST(AlignedSet, FrozenSpaceIsClusteredOnce) {
  int self_calls = 0;
  const me::AlignedSet set(clusterConfig("frozen", 1), 0, 12, features(false), [&] {
    ++self_calls;
    return torch::Tensor();
  });
  const torch::Tensor first = set.forEpoch(1, {});
  EXPECT_TRUE(torch::equal(first, torch::arange(8, torch::kLong)));
  for (int epoch = 2; epoch <= 4; ++epoch) EXPECT_TRUE(set.forEpoch(epoch, first).is_same(first)) << epoch;
  EXPECT_EQ(self_calls, 0);
}

TEST(AlignedSet, NoneIsTheWholePool) {
  const me::AlignedSet set(clusterConfig("none", 1), 0, 12, {}, [] { return torch::Tensor(); });
  const torch::Tensor all = set.forEpoch(1, {});
  EXPECT_TRUE(torch::equal(all, torch::arange(12, torch::kLong)));
  EXPECT_TRUE(set.forEpoch(2, all).is_same(all));
}

TEST(AlignedSet, SelfSpaceIsReclusteredOnSchedule) {
  SelfSpace space;
  const me::AlignedSet every2(clusterConfig("self", 2), 0, 12, {}, std::ref(space));
  const torch::Tensor first_rows = torch::arange(8, torch::kLong);
  const torch::Tensor last_rows = torch::arange(4, 12, torch::kLong);
  torch::Tensor rows = every2.forEpoch(1, {});  // epoch 1 clusters
  EXPECT_TRUE(torch::equal(rows, first_rows));
  rows = every2.forEpoch(2, rows);  // kept
  EXPECT_TRUE(torch::equal(rows, first_rows));
  EXPECT_EQ(space.calls, 1);
  rows = every2.forEpoch(3, rows);  // epoch 3 clusters F's moved features
  EXPECT_TRUE(torch::equal(rows, last_rows));
  EXPECT_EQ(space.calls, 2);
  EXPECT_FALSE(every2.clustersIn(4, rows));
  EXPECT_TRUE(every2.clustersIn(5, rows));
  // A resumed run without the previous set clusters whatever the epoch.
  EXPECT_TRUE(every2.clustersIn(4, {}));

  SelfSpace once_space;
  const me::AlignedSet once(clusterConfig("self", 0), 0, 12, {}, std::ref(once_space));
  rows = once.forEpoch(1, {});
  for (int epoch = 2; epoch <= 5; ++epoch) rows = once.forEpoch(epoch, rows);
  EXPECT_EQ(once_space.calls, 1);
  EXPECT_TRUE(torch::equal(rows, first_rows));
}

TEST(AlignedSet, ScoreSpaceKeepsTheRowsBelowTheSplitOfTwoScoreModes) {
  // 30 normal rows with log-scores around 0 and 10 anomalies around 4 (sd 0.3): the
  // mixture's split lies between the modes, far from both, so exactly the normals stay.
  auto gen = at::detail::createCPUGenerator(3);
  const auto normal = torch::randn({30}, gen, torch::kDouble) * 0.3;
  const auto anomalous = 4.0 + torch::randn({10}, gen, torch::kDouble) * 0.3;
  const auto scores = torch::exp(torch::cat({anomalous.slice(0, 0, 5), normal, anomalous.slice(0, 5)}));
  const auto rows = me::lowModeRows(scores);
  EXPECT_TRUE(torch::equal(rows, torch::arange(5, 35, torch::kLong))) << rows;
}

TEST(AlignedSet, ScoreSpaceKeepsEveryRowWhenTheScoresFormOneMode) {
  EXPECT_EQ(me::lowModeRows(torch::full({9}, 2.0)).size(0), 9);           // one distinct value
  EXPECT_EQ(me::lowModeRows(torch::tensor({1.0, 2.0, 3.0})).size(0), 3);  // too few to split
}

TEST(AlignedSet, ScoreSpaceIsReestimatedOnTheScheduleOfSelf) {
  int calls = 0;
  const me::AlignedSet set(clusterConfig("score", 2), 0, 12, {}, {}, [&] {
    ++calls;
    return torch::exp(torch::cat({torch::zeros({8}), torch::full({4}, 5.0)}) +
                      0.01 * torch::arange(12, torch::kDouble));
  });
  const auto e1 = set.forEpoch(1, {});
  EXPECT_TRUE(torch::equal(e1, torch::arange(8, torch::kLong))) << e1;
  EXPECT_TRUE(torch::equal(set.forEpoch(2, e1), e1));
  set.forEpoch(3, e1);
  EXPECT_EQ(calls, 2);  // epochs 1 and 3
}

TEST(AlignedSet, DenseSpaceIsChosenOnceInPhiOrElseInFsInitialSpace) {
  // 16 rows near one direction and two pairs far from it and from each other: the dense
  // region is the 16 (a neighbourhood of 4 rows, a fifth of the 19 others, reaches from a
  // pair into the rest), or the cap's share of the pool, the 16's densest rows.
  const auto near = torch::ones({16, 3}) + 0.02 * torch::arange(48, torch::kFloat).reshape({16, 3}).cos();
  const auto far = torch::tensor({{1.f, -1.f, 0.f}, {1.f, -1.1f, 0.f}, {-1.f, 0.f, 1.f}, {-1.1f, 0.f, 1.f}});
  const auto pool = torch::cat({near, far});
  auto cfg = clusterConfig("dense", 1);
  cfg.neighbours = 0.2;
  const auto capped = me::AlignedSet(cfg, 0, 20, pool, {}).forEpoch(1, {});  // the default cap: half
  EXPECT_EQ(capped.size(0), 10);
  EXPECT_LT(capped.max().item<int64_t>(), 16) << capped;
  cfg.dense_max_share = 1.0;
  int self_calls = 0;
  const auto self = [&] {
    ++self_calls;
    return pool;
  };
  const me::AlignedSet with_phi(cfg, 0, 20, pool, self);
  const auto rows = with_phi.forEpoch(1, {});
  EXPECT_TRUE(torch::equal(rows, torch::arange(16, torch::kLong))) << rows;
  for (int epoch = 2; epoch <= 4; ++epoch) EXPECT_TRUE(with_phi.forEpoch(epoch, rows).is_same(rows)) << epoch;
  EXPECT_EQ(self_calls, 0) << "Φ given: F's features are not needed";
  const me::AlignedSet without_phi(cfg, 0, 20, {}, self);
  EXPECT_TRUE(torch::equal(without_phi.forEpoch(1, {}), rows));
  EXPECT_EQ(self_calls, 1);
}

TEST(AlignedSet, AGrowingDenseRegionAlignsTheRowsFScoresAsLowAsTheRegion) {
  // cluster.dense_grow q: the region first, then on the schedule of self the pool rows
  // whose F score is at most the q-quantile of the region's scores. Scores rise with the
  // row (1..16 for the 16 near rows, 100 for the 4 far ones), so q = 1 keeps every row up
  // to the region's last and q = 1e-6 (just above its smallest score) every row up to its first.
  const auto near = torch::ones({16, 3}) + 0.02 * torch::arange(48, torch::kFloat).reshape({16, 3}).cos();
  const auto far = torch::tensor({{1.f, -1.f, 0.f}, {1.f, -1.1f, 0.f}, {-1.f, 0.f, 1.f}, {-1.1f, 0.f, 1.f}});
  const auto pool = torch::cat({near, far});
  const auto scores = torch::cat({torch::arange(1, 17, torch::kDouble), torch::full({4}, 100.0)});
  auto cfg = clusterConfig("dense", 2);
  cfg.neighbours = 0.2;
  const auto region = me::denseRows(pool, {cfg.neighbours, false, cfg.dense_max_share});
  ASSERT_EQ(region.size(0), 10);
  for (const double q : {1.0, 1e-6}) {
    cfg.dense_grow = q;
    int calls = 0;
    const me::AlignedSet set(cfg, 0, 20, pool, {}, [&] {
      ++calls;
      return scores;
    });
    const auto first = set.forEpoch(1, {});
    EXPECT_TRUE(torch::equal(first, region)) << first;
    EXPECT_TRUE(set.forEpoch(2, first).is_same(first));
    const auto last = (q == 1.0 ? region.max() : region.min()).item<int64_t>();
    EXPECT_TRUE(torch::equal(set.forEpoch(3, first), torch::arange(last + 1, torch::kLong))) << q;
    EXPECT_EQ(calls, 1) << "F's scores are read in epoch 3 only";
  }
  cfg.dense_grow = 0.0;  // off: the region is kept
  const me::AlignedSet kept(cfg, 0, 20, pool, {}, {});
  const auto rows = kept.forEpoch(1, {});
  EXPECT_TRUE(kept.forEpoch(3, rows).is_same(rows));
}
