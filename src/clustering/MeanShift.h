// MeanShift with a flat kernel (sklearn.cluster.MeanShift): modes of the point density,
// their number found from the data, for dominant-cluster identification without a k.
// All seeds climb together as one batch of tensor operations, in distance blocks.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "shiftad/ClusteringParams.h"  // MeanShiftParams

namespace shiftad::clustering {

struct MeanShiftResult {
  torch::Tensor centers;       ///< m x d modes, most populated first (sklearn's cluster_centers_ order)
  torch::Tensor assignments;   ///< n, int64: nearest center of every point
  std::vector<int64_t> sizes;  ///< points per center
  int dominant = 0;            ///< index of the largest cluster (lowest index on ties)
  double bandwidth = 0.0;      ///< the bandwidth used (given or estimated)
  int iterations = 0;          ///< most iterations any seed ran (sklearn's n_iter_)
};

/// sklearn.cluster.estimate_bandwidth(x, quantile=quantile) with n_samples=None: the mean
/// over points of the distance to their max(1, int(n * quantile))-th nearest neighbour,
/// the point itself counting as the first. O(n^2 d), in blocks of at most `chunk`
/// distances (whole rows: chunk / n rows, at least one).
double estimateBandwidth(const torch::Tensor& x, double quantile = 0.3, int64_t chunk = int64_t{1} << 20);

/// Cluster the rows of `x` (n x d, floating point; float64 input is processed in float64,
/// anything else in float32). Every seed moves to the mean of the points within bandwidth
/// until it moves by less than 1e-3 bandwidth; modes within bandwidth of a more populated
/// one are dropped; each point joins its nearest mode. Throws shiftad::Error on empty or
/// non-finite input, bad parameters, a zero bandwidth, or seeds with no point in reach.
MeanShiftResult meanShift(const torch::Tensor& x, const MeanShiftParams& params);

}  // namespace shiftad::clustering
