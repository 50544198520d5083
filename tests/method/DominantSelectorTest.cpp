// The dominant-set selectors (paper Eq. 6-7) on hand-made features: three well
// separated groups of 10, 6 and 4 rows, shuffled, whose largest group is known.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "config/Choices.h"
#include "method/DominantSelector.h"

namespace me = shiftad::method;

namespace {

/// Rows of three tight groups (10 around (0, 0), 6 around (10, 0), 4 around (0, 10)),
/// in the order `order` (a permutation of 0..19: row i of the result is point order[i]).
struct Groups {
  torch::Tensor x;
  std::vector<int64_t> largest;  ///< result rows of the 10-point group, ascending
};

Groups threeGroups() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const torch::Tensor base = torch::cat(
      {torch::zeros({10, 2}), torch::tensor({10.f, 0.f}).expand({6, 2}), torch::tensor({0.f, 10.f}).expand({4, 2})});
  const torch::Tensor points = base + 0.1 * torch::randn({20, 2}, gen);
  const torch::Tensor order = torch::randperm(20, gen, torch::kLong);
  Groups g;
  g.x = points.index_select(0, order);
  for (int64_t i = 0; i < 20; ++i)
    if (order[i].item<int64_t>() < 10) g.largest.push_back(i);
  return g;
}

std::vector<int64_t> toVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

shiftad::ClusterConfig clusterConfig(const char* method) {
  shiftad::ClusterConfig cfg;
  cfg.method = *shiftad::config::parseChoice<shiftad::ClusterMethod>(method);
  cfg.kmeans.k = cfg.gmm.k = 3;
  cfg.meanshift.bandwidth = 2.0;
  return cfg;
}

}  // namespace

TEST(DominantSelector, FactoryBuildsTheSelectorOfEachMethod) {
  EXPECT_NE(dynamic_cast<me::KMeansSelector*>(me::makeDominantSelector(clusterConfig("kmeans")).get()), nullptr);
  EXPECT_NE(dynamic_cast<me::GmmSelector*>(me::makeDominantSelector(clusterConfig("gmm")).get()), nullptr);
  EXPECT_NE(dynamic_cast<me::MeanShiftSelector*>(me::makeDominantSelector(clusterConfig("meanshift")).get()), nullptr);
  EXPECT_THROW(me::makeDominantSelector(clusterConfig("dbscan")), std::exception);
}

TEST(DominantSelector, EveryMethodFindsTheLargestGroup) {
  const Groups g = threeGroups();
  for (const char* method : {"kmeans", "gmm", "meanshift"}) {
    SCOPED_TRACE(method);
    const auto selector = me::makeDominantSelector(clusterConfig(method));
    EXPECT_EQ(toVector(selector->select(g.x, 0)), g.largest);
    EXPECT_EQ(toVector(me::dominantRows(g.x, clusterConfig(method), 3)), g.largest);
  }
}

TEST(DominantSelector, KeepFractionKeepsTheCoreOfTheLargestGroup) {
  // A line of 10 points at 0..9 (the largest group, mean 4.5) and 3 far away.
  const torch::Tensor x = torch::cat({torch::arange(10, torch::kFloat), torch::full({3}, 100.f)}).unsqueeze(1);
  auto cfg = clusterConfig("kmeans");
  cfg.kmeans.k = 2;
  cfg.keep_fraction = 0.4;  // 4 of 10: the points 3, 4, 5, 6, nearest to 4.5
  EXPECT_EQ(toVector(me::dominantRows(x, cfg, 0)), (std::vector<int64_t>{3, 4, 5, 6}));
}

TEST(DominantSelector, SpaceNoneOrAnEmptyPoolSelectsEveryRow) {
  const Groups g = threeGroups();
  auto cfg = clusterConfig("kmeans");
  cfg.space = shiftad::ClusterSpace::kNone;
  EXPECT_TRUE(torch::equal(me::dominantRows(g.x, cfg, 0), torch::arange(20, torch::kLong)));
  cfg.space = shiftad::ClusterSpace::kFrozen;
  EXPECT_EQ(me::dominantRows(torch::zeros({0, 2}), cfg, 0).numel(), 0);
}

TEST(DominantSelector, TheParameterStructReachesTheAlgorithm) {
  // Two groups of 10 and 6: K = 1 puts everything in one cluster, K = 2 splits them.
  const torch::Tensor x =
      torch::cat({torch::zeros({10, 2}), torch::full({6, 2}, 10.f)}) + 0.01 * torch::arange(32).reshape({16, 2});
  auto cfg = clusterConfig("kmeans");
  cfg.kmeans.k = 1;
  EXPECT_EQ(me::dominantRows(x, cfg, 0).numel(), 16);
  cfg.kmeans.k = 2;
  EXPECT_EQ(me::dominantRows(x, cfg, 0).numel(), 10);
  cfg.method = shiftad::ClusterMethod::kGmm;
  cfg.gmm.k = 1;
  EXPECT_EQ(me::dominantRows(x, cfg, 0).numel(), 16);
  cfg.method = shiftad::ClusterMethod::kMeanShift;
  cfg.meanshift.bandwidth = 100.0;  // one mode for all
  EXPECT_EQ(me::dominantRows(x, cfg, 0).numel(), 16);
}
