// K-means with k-means++ seeding and restarts, on torch tensors (dominant-cluster
// identification, paper Eq. 6).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "shiftad/ClusteringParams.h"  // KMeansParams

namespace shiftad::clustering {

struct KMeansResult {
  torch::Tensor centroids;     ///< k x d float
  torch::Tensor assignments;   ///< n, int64 in [0, k)
  std::vector<int64_t> sizes;  ///< members per cluster
  double inertia = 0.0;        ///< sum of squared distances to the assigned centroid
  int dominant = 0;            ///< index of the largest cluster (lowest index on ties)
};

/// Cluster the rows of `x` (n x d, float). Throws shiftad::Error on empty input or k < 1.
KMeansResult kmeans(const torch::Tensor& x, const KMeansParams& params);

/// Row indices (int64, ascending) of the members of cluster `cluster`.
torch::Tensor clusterMembers(const KMeansResult& result, int cluster);

/// Squared Euclidean distances between rows of a (n x d) and b (m x d), via matrix
/// products, clamped at 0.
torch::Tensor pairwiseSqDist(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace shiftad::clustering
