// Gaussian mixture, MeanShift, the common Partition view and keepClosest: hand cases,
// definitions, degenerate inputs and errors (the sklearn comparisons are in
// ClusteringOracleTest.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "clustering/Dominant.h"
#include "clustering/Gmm.h"
#include "clustering/KMeans.h"
#include "clustering/MeanShift.h"
#include "clustering/Partition.h"
#include "config/Choices.h"
#include "clustering/Blobs.h"
#include "support/MathTestUtil.h"

namespace cl = shiftad::clustering;
using shiftad::test::adjustedRandIndex;
using shiftad::test::Blobs;
using shiftad::test::expectError;
using shiftad::test::makeBlobs;
using shiftad::test::threeBlobs;
using shiftad::test::toVector;

namespace {

/// `covariance` as the config spells it (cluster.covariance).
cl::GmmParams gmmParams(int k, const char* covariance) {
  cl::GmmParams p;
  p.k = k;
  p.covariance = *shiftad::config::parseChoice<shiftad::Covariance>(covariance);
  p.restarts = 1;  // one K-means initialisation, as sklearn's n_init = 1
  return p;
}

bool allFinite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

/// Mean log-likelihood per sample from the definition: explicit inverse and
/// log-determinant of each (full) covariance, log-sum-exp over components.
double directMeanLogLikelihood(const torch::Tensor& x, const cl::GmmResult& r) {
  const torch::Tensor xd = x.to(torch::kDouble);
  const int64_t k = r.weights.size(0), d = xd.size(1);
  std::vector<torch::Tensor> columns;
  for (int64_t j = 0; j < k; ++j) {
    const torch::Tensor cov = r.covariances.dim() == 2 ? torch::diag(r.covariances[j]) : r.covariances[j];
    const torch::Tensor diff = xd - r.means[j];
    const torch::Tensor quad = (diff.mm(torch::inverse(cov)) * diff).sum(1);
    const torch::Tensor log_norm = -0.5 * (d * std::log(2 * std::acos(-1.0)) + torch::logdet(cov));
    columns.push_back(std::log(r.weights[j].item<double>()) + log_norm - 0.5 * quad);
  }
  return torch::logsumexp(torch::stack(columns, 1), 1).mean().item<double>();
}

}  // namespace

TEST(Gmm, RecoversSeparatedBlobs) {
  const Blobs b = threeBlobs();
  for (const char* covariance : {"diag", "full"}) {
    SCOPED_TRACE(covariance);
    const cl::GmmResult r = cl::gmm(b.x, gmmParams(3, covariance));
    EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(r.assignments), b.truth), 1.0);
    EXPECT_TRUE(r.converged);
    EXPECT_EQ(r.sizes[r.dominant], 100);
    for (int64_t j = 0; j < 3; ++j) {
      const torch::Tensor members = b.x.index_select(0, (r.assignments == j).nonzero().flatten());
      EXPECT_NEAR(r.weights[j].item<double>(), members.size(0) / 200.0, 1e-6);
      EXPECT_TRUE(torch::allclose(r.means[j], members.mean(0).to(torch::kDouble), 1e-5, 1e-5));
    }
    const std::vector<int64_t> cov_shape =
        std::string(covariance) == "diag" ? std::vector<int64_t>{3, 5} : std::vector<int64_t>{3, 5, 5};
    EXPECT_EQ(r.covariances.sizes().vec(), cov_shape);
  }
}

TEST(Gmm, ShowsItsProgressInEmIterationsOfEveryRestart) {
  // A full-covariance fit of a large pool runs for minutes: it says how far it is. Each
  // restart counts max_iter iterations, all of them done once it converges, so the count
  // ends at restarts x max_iter whatever the iterations run.
  const Blobs b = threeBlobs();
  auto params = gmmParams(3, "full");
  params.restarts = 2;
  params.max_iter = 50;
  double now = 0;
  std::vector<std::string> lines;
  shiftad::ProgressOptions o;
  o.plain_seconds = 0.5;
  o.clock = [&] { return now += 1; };  // every reading a second later: long work
  o.sink = [&](const std::string& line, bool) { lines.push_back(line); };
  const cl::GmmResult r = cl::gmm(b.x, params, o);
  ASSERT_TRUE(r.converged);
  ASSERT_LT(r.iterations, 50) << "a restart that converged early still fills its share";
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines.front().find("gaussian mixture (200 x 5, k = 3, full; EM iterations of 2 restarts)"),
            std::string::npos)
      << lines.front();
  EXPECT_NE(lines.back().find("restarts): 100 done in "), std::string::npos) << lines.back();
}

TEST(Gmm, LogLikelihoodMatchesDefinition) {
  const torch::Tensor x = torch::randn({300, 4}, at::make_generator<at::CPUGeneratorImpl>(3)) * 2 + 50;
  for (const char* covariance : {"diag", "full"}) {
    SCOPED_TRACE(covariance);
    const cl::GmmResult r = cl::gmm(x, gmmParams(4, covariance));
    EXPECT_NEAR(r.mean_log_likelihood, directMeanLogLikelihood(x, r), 1e-9 * std::abs(r.mean_log_likelihood));
  }
}

TEST(Gmm, CovarianceFloorKeepsDuplicatePointsFinite) {
  // Two distinct points, 10 copies each, k = 3 > 2 distinct points: zero empirical
  // variances (and an empty component) are floored at reg_covar.
  const torch::Tensor x = torch::cat({torch::zeros({10, 3}), torch::ones({10, 3})});
  for (const char* covariance : {"diag", "full"}) {
    SCOPED_TRACE(covariance);
    const cl::GmmResult r = cl::gmm(x, gmmParams(3, covariance));
    EXPECT_TRUE(allFinite(r.weights) && allFinite(r.means) && allFinite(r.covariances));
    EXPECT_TRUE(std::isfinite(r.mean_log_likelihood));
    const torch::Tensor variances = r.covariances.dim() == 2 ? r.covariances : r.covariances.diagonal(0, 1, 2);
    EXPECT_TRUE((variances >= 1e-6 * (1 - 1e-9)).all().item<bool>());
    std::vector<int64_t> sizes = r.sizes;
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes.back() + sizes[sizes.size() - 2], 20);
  }
}

TEST(Gmm, KLargerThanNIsClamped) {
  const torch::Tensor x = torch::tensor({{0.f, 1.f}, {5.f, 5.f}, {-3.f, 2.f}});
  const cl::GmmResult r = cl::gmm(x, gmmParams(8, "full"));
  EXPECT_EQ(r.weights.size(0), 3);
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_TRUE(allFinite(r.covariances));
  EXPECT_TRUE(std::isfinite(r.mean_log_likelihood));
}

TEST(Gmm, ChunkedEqualsUnchunked) {
  const Blobs b = threeBlobs(4);
  for (const char* covariance : {"diag", "full"}) {
    cl::GmmParams whole = gmmParams(4, covariance);
    whole.chunk = 1 << 20;
    const cl::GmmResult ref = cl::gmm(b.x, whole);
    for (int64_t chunk : {1, 35, 320}) {  // entries: blocks of 1, 7 and 64 rows of 5 features
      cl::GmmParams p = whole;
      p.chunk = chunk;
      const cl::GmmResult r = cl::gmm(b.x, p);
      EXPECT_TRUE(torch::equal(r.assignments, ref.assignments)) << covariance << " chunk " << chunk;
      EXPECT_TRUE(torch::allclose(r.means, ref.means, 1e-9, 1e-9)) << covariance << " chunk " << chunk;
      EXPECT_NEAR(r.mean_log_likelihood, ref.mean_log_likelihood, 1e-9) << covariance << " chunk " << chunk;
    }
  }
}

TEST(Gmm, InitFromPrecisionsOrCovariancesAgree) {
  const Blobs b = threeBlobs(2);
  cl::GmmInit init;
  init.weights = torch::tensor({0.4, 0.3, 0.3}, torch::kDouble);
  init.means = torch::tensor({{1.0, 0.0, 0.0, 0.0, 0.0}, {9.0, -3.0, 2.0, 0.0, 4.0}, {-5.0, 7.0, -2.0, 6.0, 1.0}},
                             torch::kDouble);
  cl::GmmInit by_covariance = init;
  by_covariance.covariances = torch::full({3, 5}, 2.0, torch::kDouble);
  cl::GmmInit by_precision = init;
  by_precision.precisions = torch::full({3, 5}, 0.5, torch::kDouble);
  cl::GmmParams p = gmmParams(3, "diag");
  const cl::GmmResult a = cl::gmmFrom(b.x, by_covariance, p);
  const cl::GmmResult c = cl::gmmFrom(b.x, by_precision, p);
  EXPECT_EQ(a.iterations, c.iterations);
  EXPECT_NEAR(a.mean_log_likelihood, c.mean_log_likelihood, 1e-12 * std::abs(a.mean_log_likelihood));
  EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(a.assignments), b.truth), 1.0);
  // max_iter = 0: the initial parameters themselves, as given.
  p.max_iter = 0;
  const cl::GmmResult z = cl::gmmFrom(b.x, by_precision, p);
  EXPECT_EQ(z.iterations, 0);
  EXPECT_FALSE(z.converged);
  EXPECT_TRUE(torch::allclose(z.means, init.means));
  EXPECT_TRUE(torch::allclose(z.covariances, by_covariance.covariances));
}

TEST(Gmm, Errors) {
  const torch::Tensor x = torch::randn({20, 3});
  cl::GmmParams spherical = gmmParams(2, "diag");
  spherical.covariance = static_cast<shiftad::Covariance>(7);  // no such value: only a cast makes one
  expectError([&] { cl::gmm(x, spherical); }, "gmm: covariance must be diag or full, got the value 7");
  expectError([&] { cl::gmm(torch::zeros({0, 3}), gmmParams(2, "diag")); }, "gmm: empty input (0 rows)");
  expectError([&] { cl::gmm(x, gmmParams(0, "diag")); }, "gmm: k must be >= 1, got 0");
  cl::GmmParams no_floor = gmmParams(2, "full");
  no_floor.reg_covar = 0;
  expectError([&] { cl::gmm(torch::ones({10, 3}), no_floor); }, "gmm: some components have an ill-defined covariance");
  torch::Tensor nan = x.clone();
  nan[7][2] = std::numeric_limits<float>::quiet_NaN();
  expectError([&] { cl::gmm(nan, gmmParams(2, "diag")); }, "gmm: row 7 holds a NaN or infinite feature");
  cl::GmmInit init;
  init.weights = torch::tensor({0.5, 0.5}, torch::kDouble);
  init.means = torch::zeros({2, 3}, torch::kDouble);
  init.precisions = torch::ones({2, 3}, torch::kDouble);
  expectError([&] { cl::gmmFrom(x, init, gmmParams(2, "full")); },
              "gmmFrom: precisions must be 2 x 3 x 3 for covariance \"full\", got 2 x 3");
  init.covariances = torch::ones({2, 3}, torch::kDouble);
  expectError([&] { cl::gmmFrom(x, init, gmmParams(2, "diag")); },
              "gmmFrom: give exactly one of precisions and covariances");
}

TEST(MeanShift, TwoBlobsWithGivenBandwidth) {
  const torch::Tensor centers = torch::tensor({{0.f, 0.f, 0.f}, {8.f, 8.f, 0.f}});
  const Blobs b = makeBlobs(centers, {70, 40}, 0.5, 5);
  cl::MeanShiftParams p;
  p.bandwidth = 3.0;
  const cl::MeanShiftResult r = cl::meanShift(b.x, p);
  ASSERT_EQ(r.centers.size(0), 2);
  EXPECT_EQ(r.bandwidth, 3.0);
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{70, 40}));  // most populated mode first
  EXPECT_EQ(r.dominant, 0);
  EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(r.assignments), b.truth), 1.0);
  // With the whole blob within bandwidth, each mode is its blob's mean.
  for (int64_t j = 0; j < 2; ++j) {
    const torch::Tensor members = b.x.index_select(0, (r.assignments == j).nonzero().flatten());
    EXPECT_TRUE(torch::allclose(r.centers[j], members.mean(0), 1e-4, 1e-4)) << r.centers[j];
  }
  // Bin seeding (a few grid cells instead of 110 seeds) finds the same modes.
  p.bin_seeding = true;
  const cl::MeanShiftResult binned = cl::meanShift(b.x, p);
  EXPECT_TRUE(torch::equal(binned.assignments, r.assignments));
  EXPECT_TRUE(torch::allclose(binned.centers, r.centers, 1e-4, 1e-4));
}

TEST(MeanShift, EstimateBandwidthHandCase) {
  // Points 0, 1, 3 on a line; quantile 0.7 of 3 points: the 2nd nearest, the point
  // itself first. Distances 1, 1, 2: mean 4/3.
  const torch::Tensor x = torch::tensor({{0.0}, {1.0}, {3.0}}, torch::kDouble);
  EXPECT_NEAR(cl::estimateBandwidth(x, 0.7), 4.0 / 3.0, 1e-15);
  EXPECT_NEAR(cl::estimateBandwidth(x.to(torch::kFloat), 0.7), 4.0 / 3.0, 1e-15);
  EXPECT_EQ(cl::estimateBandwidth(x, 0.1), 0.0);                 // int(0.3) = 0 -> 1 neighbour: the point itself
  EXPECT_NEAR(cl::estimateBandwidth(x, 1.0), 8.0 / 3.0, 1e-15);  // the farthest: 3, 2, 3
}

TEST(MeanShift, ChunkedEqualsUnchunked) {
  const Blobs b = threeBlobs(6);
  cl::MeanShiftParams whole;
  const cl::MeanShiftResult ref = cl::meanShift(b.x, whole);
  EXPECT_EQ(ref.centers.size(0), 3);
  EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(ref.assignments), b.truth), 1.0);
  for (int64_t chunk : {169, 4096}) {  // 13 x 13 and 64 x 64 blocks: neither divides 200 points
    cl::MeanShiftParams p = whole;
    p.chunk = chunk;
    const cl::MeanShiftResult r = cl::meanShift(b.x, p);
    EXPECT_NEAR(r.bandwidth, ref.bandwidth, 1e-9 * ref.bandwidth) << "chunk " << chunk;
    EXPECT_TRUE(torch::equal(r.assignments, ref.assignments)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(r.centers, ref.centers, 1e-4, 1e-4)) << "chunk " << chunk;
  }
}

TEST(MeanShift, Errors) {
  expectError([] { cl::meanShift(torch::ones({5, 2}), {}); }, "meanShift: the estimated bandwidth is 0");
  expectError(
      [] {
        cl::estimateBandwidth(torch::ones({5, 2}), 1.5);
      },
      "estimateBandwidth: quantile must be in [0, 1], got 1.5");
  cl::MeanShiftParams negative;
  negative.bandwidth = -1;
  expectError([&] { cl::meanShift(torch::ones({5, 2}), negative); }, "meanShift: bandwidth must be > 0");
  torch::Tensor nan = torch::zeros({5, 2});
  nan[3][0] = std::numeric_limits<float>::infinity();
  expectError([&] { cl::meanShift(nan, {}); }, "meanShift: row 3 holds a NaN or infinite feature");
  expectError([] { cl::meanShift(torch::zeros({4}), {}); }, "meanShift: expected an n x d matrix, got 1 dimensions");
}

TEST(Partition, SameViewOfEveryMethod) {
  const Blobs b = threeBlobs(7);
  cl::KMeansParams kp;
  kp.k = 3;
  const std::vector<cl::Partition> partitions = {cl::toPartition(cl::kmeans(b.x, kp)),
                                                 cl::toPartition(cl::gmm(b.x, gmmParams(3, "diag"))),
                                                 cl::toPartition(cl::meanShift(b.x, {}))};
  for (const cl::Partition& p : partitions) {
    ASSERT_EQ(p.sizes.size(), 3u);
    EXPECT_EQ(p.centers.sizes().vec(), (std::vector<int64_t>{3, 5}));
    EXPECT_EQ(p.centers.scalar_type(), torch::kFloat);
    const std::vector<int64_t> dominant = toVector(cl::dominantMembers(p));
    EXPECT_EQ(static_cast<int64_t>(dominant.size()), 100);
    EXPECT_TRUE(std::is_sorted(dominant.begin(), dominant.end()));
    for (int64_t i : dominant) EXPECT_EQ(b.truth[i], 0);
    EXPECT_EQ(toVector(cl::clusterMembers(p, p.dominant)), dominant);
  }
  expectError([&] { cl::clusterMembers(partitions[0], 3); }, "clusterMembers: cluster 3 out of range [0, 3)");
  EXPECT_EQ(cl::largestCluster({4, 7, 7, 1}), 1);  // ties: lowest index
  EXPECT_EQ(cl::clusterSizes(torch::tensor({2, 0, 2}, torch::kLong), 4), (std::vector<int64_t>{1, 0, 2, 0}));
}

TEST(KeepClosest, HandCase) {
  // Row i sits at distance dist[i] from the center (2, 1).
  const std::vector<float> dist = {0.f, 5.f, 1.f, 3.f, 2.f, 4.f, 1.f};
  torch::Tensor x = torch::zeros({7, 2});
  for (int64_t i = 0; i < 7; ++i) {
    x[i][0] = 2.f + dist[i];
    x[i][1] = 1.f;
  }
  const torch::Tensor center = torch::tensor({2.f, 1.f});
  const torch::Tensor members = torch::tensor({1, 2, 3, 4, 5}, torch::kLong);
  // ceil(0.5 * 5) = 3 nearest of rows 1..5 (distances 5, 1, 3, 2, 4): rows 2, 4, 3.
  EXPECT_EQ(toVector(cl::keepClosest(x, members, center, 0.5)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(toVector(cl::keepClosest(x, members, center, 1.0)), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(toVector(cl::keepClosest(x, members, center, 0.01)), (std::vector<int64_t>{2}));  // at least one
  // Equal distances (rows 2 and 6): the earlier member wins.
  EXPECT_EQ(toVector(cl::keepClosest(x, torch::tensor({6, 2, 3}, torch::kLong), center, 0.3)),
            (std::vector<int64_t>{6}));
  // 0.3 x 10 is 3 (not ceil(3.0000000000000004) = 4).
  const torch::Tensor ten = torch::arange(10, torch::kLong);
  const torch::Tensor line = torch::arange(10, torch::kFloat).unsqueeze(1);
  EXPECT_EQ(toVector(cl::keepClosest(line, ten, torch::tensor({0.f}), 0.3)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(cl::keepClosest(x, torch::zeros({0}, torch::kLong), center, 0.5).numel(), 0);
  expectError([&] { cl::keepClosest(x, members, center, 0.0); }, "keepClosest: fraction must be in (0, 1], got 0");
  expectError(
      [&] {
        cl::keepClosest(x, torch::tensor({1, 9}, torch::kLong), center, 0.5);
      },
      "keepClosest: member index 9 out of range [0, 7)");
  expectError([&] { cl::keepClosest(x, members, torch::zeros({3}), 0.5); }, "keepClosest: center must hold 2 features");
}
