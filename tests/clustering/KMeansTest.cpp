// K-means: recovery of separated blobs, dominant cluster, reproducibility, chunking,
// inertia, degenerate inputs and errors.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "clustering/KMeans.h"
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

cl::KMeansParams params(int k, uint64_t seed = 0) {
  cl::KMeansParams p;
  p.k = k;
  p.seed = seed;
  return p;
}

/// Inertia from its definition, in double: sum of ||x_i - c_{a(i)}||^2.
double directInertia(const torch::Tensor& x, const cl::KMeansResult& r) {
  const torch::Tensor diff = x.to(torch::kDouble) - r.centroids.to(torch::kDouble).index_select(0, r.assignments);
  return diff.pow(2).sum().item<double>();
}

}  // namespace

TEST(KMeans, RecoversSeparatedBlobs) {
  const Blobs b = threeBlobs();
  const cl::KMeansResult r = cl::kmeans(b.x, params(3));
  EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(r.assignments), b.truth), 1.0);
  ASSERT_EQ(r.centroids.sizes(), (std::vector<int64_t>{3, 5}));
  // Each centroid is the mean of its blob's points (exact recovery), hence close to the true center.
  for (int64_t j = 0; j < 3; ++j) {
    const int64_t cluster =
        r.assignments[std::find(b.truth.begin(), b.truth.end(), j) - b.truth.begin()].item<int64_t>();
    const torch::Tensor members = b.x.index_select(0, cl::clusterMembers(r, static_cast<int>(cluster)));
    EXPECT_TRUE(torch::allclose(r.centroids[cluster], members.mean(0), 1e-5, 1e-5)) << "blob " << j;
  }
}

TEST(KMeans, DominantIsLargestCluster) {
  const Blobs b = threeBlobs();
  const cl::KMeansResult r = cl::kmeans(b.x, params(3));
  std::vector<int64_t> sizes = r.sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<int64_t>{40, 60, 100}));
  EXPECT_EQ(r.sizes[r.dominant], 100);
  // Blob 0 (100 points) is the dominant one.
  const torch::Tensor dominant_members = cl::clusterMembers(r, r.dominant);
  for (int64_t i : toVector(dominant_members)) EXPECT_EQ(b.truth[i], 0);
}

TEST(KMeans, DominantTieGoesToLowestIndex) {
  const torch::Tensor centers = torch::tensor({{0.f, 0.f}, {20.f, 20.f}});
  const Blobs b = makeBlobs(centers, {50, 50}, 0.3, 3);
  const cl::KMeansResult r = cl::kmeans(b.x, params(2));
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{50, 50}));
  EXPECT_EQ(r.dominant, 0);
}

TEST(KMeans, SameSeedIsReproducible) {
  const torch::Tensor x = torch::rand({300, 4}, at::make_generator<at::CPUGeneratorImpl>(11));
  cl::KMeansParams p = params(6, 42);
  p.restarts = 2;
  const cl::KMeansResult r1 = cl::kmeans(x, p);
  const cl::KMeansResult r2 = cl::kmeans(x, p);
  EXPECT_TRUE(torch::equal(r1.centroids, r2.centroids));
  EXPECT_TRUE(torch::equal(r1.assignments, r2.assignments));
  EXPECT_EQ(r1.inertia, r2.inertia);
  EXPECT_EQ(r1.sizes, r2.sizes);
}

TEST(KMeans, SeedChangesTheSeeding) {
  // Uniform data has many local optima: one seeding per run, different seeds, different results.
  const torch::Tensor x = torch::rand({300, 2}, at::make_generator<at::CPUGeneratorImpl>(5));
  std::set<double> inertias;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    cl::KMeansParams p = params(7, seed);
    p.restarts = 1;
    p.max_iter = 2;
    inertias.insert(cl::kmeans(x, p).inertia);
  }
  EXPECT_GT(inertias.size(), 1u);
}

TEST(KMeans, RestartsNeverIncreaseInertia) {
  // Restart r of a run with R restarts is the same seeding whatever R (one RNG stream),
  // and the best of several is kept.
  const torch::Tensor x = torch::rand({400, 3}, at::make_generator<at::CPUGeneratorImpl>(9));
  double previous = std::numeric_limits<double>::infinity();
  for (int restarts : {1, 2, 4, 8}) {
    cl::KMeansParams p = params(9, 123);
    p.restarts = restarts;
    const double inertia = cl::kmeans(x, p).inertia;
    EXPECT_LE(inertia, previous) << restarts << " restarts";
    previous = inertia;
  }
}

TEST(KMeans, KLargerThanNIsClamped) {
  const torch::Tensor x = torch::tensor({{0.f, 1.f}, {5.f, 5.f}, {-3.f, 2.f}});
  const cl::KMeansResult r = cl::kmeans(x, params(8));
  EXPECT_EQ(r.centroids.size(0), 3);
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(r.inertia, 0.0);
  std::vector<int64_t> a = toVector(r.assignments);
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, (std::vector<int64_t>{0, 1, 2}));
}

TEST(KMeans, DuplicatePointsGiveNoEmptyOrNanCentroids) {
  // Two distinct points, 10 copies each, k = 3: k-means++ must fall back to a uniform pick
  // and the empty cluster that follows is re-seeded instead of dividing by zero.
  const torch::Tensor x = torch::cat({torch::zeros({10, 3}), torch::ones({10, 3})});
  const cl::KMeansResult r = cl::kmeans(x, params(3));
  EXPECT_TRUE(torch::isfinite(r.centroids).all().item<bool>());
  EXPECT_EQ(r.inertia, 0.0);
  EXPECT_EQ(directInertia(x, r), 0.0);
}

TEST(KMeans, InertiaMatchesDirectComputation) {
  const torch::Tensor x = torch::randn({500, 8}, at::make_generator<at::CPUGeneratorImpl>(2));
  const cl::KMeansResult r = cl::kmeans(x, params(5));
  EXPECT_NEAR(r.inertia, directInertia(x, r), 1e-5 * r.inertia);
  // Every row sits at its nearest centroid (distances from their definition).
  const torch::Tensor d2 = (x.unsqueeze(1) - r.centroids.unsqueeze(0)).pow(2).sum(2);
  const torch::Tensor own = d2.gather(1, r.assignments.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE((own <= std::get<0>(d2.min(1)) + 1e-4).all().item<bool>());
}

TEST(KMeans, InertiaExactFarFromOrigin) {
  // Blobs 1000 units out with unit spread: the expanded distance ||x||^2 - 2xc + ||c||^2
  // cancels ~1e6 down to ~1 in float32; the reported inertia must not inherit that error.
  const torch::Tensor centers = torch::tensor({{1000.f, 1000.f, 0.f}, {1000.f, 1010.f, 0.f}});
  const Blobs b = makeBlobs(centers, {80, 50}, 1.0, 12);
  const cl::KMeansResult r = cl::kmeans(b.x, params(2));
  EXPECT_DOUBLE_EQ(adjustedRandIndex(toVector(r.assignments), b.truth), 1.0);
  EXPECT_NEAR(r.inertia, directInertia(b.x, r), 1e-6 * r.inertia);
}

TEST(KMeans, ChunkedEqualsUnchunked) {
  const Blobs b = threeBlobs(4);
  cl::KMeansParams whole = params(4, 8);
  whole.chunk = 1 << 20;
  const cl::KMeansResult ref = cl::kmeans(b.x, whole);
  for (int64_t chunk : {1, 7, 64}) {
    cl::KMeansParams p = whole;
    p.chunk = chunk;
    const cl::KMeansResult r = cl::kmeans(b.x, p);
    EXPECT_TRUE(torch::equal(r.assignments, ref.assignments)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(r.centroids, ref.centroids, 1e-5, 1e-5)) << "chunk " << chunk;
    EXPECT_NEAR(r.inertia, ref.inertia, 1e-6 * ref.inertia) << "chunk " << chunk;
  }
}

TEST(KMeans, PairwiseSqDistMatchesDefinition) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  const torch::Tensor a = torch::randn({13, 6}, gen, torch::kDouble);
  const torch::Tensor b = torch::randn({5, 6}, gen, torch::kDouble);
  const torch::Tensor expected = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(2);
  EXPECT_TRUE(torch::allclose(cl::pairwiseSqDist(a, b), expected, 1e-12, 1e-12));
  // Identical rows: exactly zero, never a negative round-off.
  EXPECT_TRUE((cl::pairwiseSqDist(a, a).diagonal() >= 0).all().item<bool>());
  expectError([&] { cl::pairwiseSqDist(a, b.slice(1, 0, 4)); }, "pairwiseSqDist: 6 features vs 4");
}

TEST(KMeans, ClusterMembersAscendingAndComplete) {
  const Blobs b = threeBlobs();
  const cl::KMeansResult r = cl::kmeans(b.x, params(3));
  int64_t total = 0;
  for (int j = 0; j < 3; ++j) {
    const std::vector<int64_t> m = toVector(cl::clusterMembers(r, j));
    EXPECT_TRUE(std::is_sorted(m.begin(), m.end()));
    EXPECT_EQ(static_cast<int64_t>(m.size()), r.sizes[j]);
    total += static_cast<int64_t>(m.size());
  }
  EXPECT_EQ(total, b.x.size(0));
  expectError([&] { cl::clusterMembers(r, 3); }, "clusterMembers: cluster 3 out of range [0, 3)");
}

TEST(KMeans, Errors) {
  expectError([] { cl::kmeans(torch::zeros({0, 4}), params(2)); }, "kmeans: empty input (0 rows)");
  expectError([] { cl::kmeans(torch::zeros({5}), params(2)); }, "kmeans: expected an n x d matrix, got 1 dimensions");
  expectError([] { cl::kmeans(torch::zeros({5, 2}), params(0)); }, "kmeans: k must be >= 1, got 0");
  expectError(
      [] {
        cl::kmeans(torch::zeros({5, 2}, torch::kLong), params(2));
      },
      "kmeans: expected floating-point features");
  torch::Tensor nan = torch::zeros({5, 2});
  nan[3][1] = std::numeric_limits<float>::quiet_NaN();
  expectError([&] { cl::kmeans(nan, params(2)); }, "kmeans: row 3 holds a NaN or infinite feature");
}
