// One view of a hard clustering, whatever produced it (K-means, Gaussian mixture,
// MeanShift): callers that only need "who belongs where, and which cluster dominates"
// treat the three methods alike.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace shiftad::clustering {

struct KMeansResult;
struct GmmResult;
struct MeanShiftResult;

struct Partition {
  torch::Tensor assignments;   ///< n, int64 in [0, k)
  std::vector<int64_t> sizes;  ///< members per cluster (k entries; a cluster may be empty)
  int dominant = 0;            ///< index of the largest cluster (lowest index on ties)
  torch::Tensor centers;       ///< k x d float32: centroids, component means or modes
};

Partition toPartition(const KMeansResult& r);
Partition toPartition(const GmmResult& r);
Partition toPartition(const MeanShiftResult& r);

/// Row indices (int64, ascending) of the members of cluster `cluster`.
torch::Tensor clusterMembers(const Partition& p, int cluster);

/// Row indices (int64, ascending) of the members of the dominant cluster.
torch::Tensor dominantMembers(const Partition& p);

/// Members per cluster for labels in [0, k) (k entries, zeros for empty clusters).
std::vector<int64_t> clusterSizes(const torch::Tensor& assignments, int64_t k);

/// Index of the largest size, the lowest one on ties. Throws shiftad::Error on no sizes.
int largestCluster(const std::vector<int64_t>& sizes);

}  // namespace shiftad::clustering
