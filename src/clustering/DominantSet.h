// The dominant set of the target pool (paper Eq. 6-7): the members of the largest
// cluster, by any of the clustering methods, optionally trimmed to its core.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "shiftad/Config.h"

namespace shiftad::clustering {

struct DominantParams {
  ClusterMethod method = ClusterMethod::kKMeans;  ///< kmeans | gmm | meanshift
  int k = 8;                                      ///< kmeans, gmm: number of clusters
  int restarts = 5;                               ///< kmeans, gmm: restarts (k-means++ seedings)
  int max_iter = 100;                             ///< iterations per restart
  Covariance covariance = Covariance::kDiag;      ///< gmm: diag | full
  double bandwidth = 0.0;                         ///< meanshift: radius (0: estimated at `quantile`)
  double quantile = 0.3;                          ///< meanshift: bandwidth estimate quantile
  double keep_fraction = 1.0;  ///< keep the ceil(fraction * size) members closest to the cluster's center
  uint64_t seed = 0;
};

/// Indices (int64, ascending) of the dominant set of the rows of `x` (n x d float).
torch::Tensor dominantSet(const torch::Tensor& x, const DominantParams& params);

}  // namespace shiftad::clustering
