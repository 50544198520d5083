// The dominant set of the target pool (paper Eq. 6-7): cluster the pool's features,
// take the largest cluster C* (optionally trimmed to its core, cluster.keep_fraction).
// One interface over the clustering algorithms of cluster.method, built by one factory;
// each holds its parameter struct from the config and passes it on unchanged.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/types.h>

#include "clustering/Partition.h"
#include "shiftad/Config.h"

namespace shiftad::method {

class DominantSelector {
 public:
  /// `keep_fraction` in (0, 1]: the share of C* kept, its members closest to the cluster's center.
  explicit DominantSelector(double keep_fraction) : keep_fraction_(keep_fraction) {}
  virtual ~DominantSelector() = default;

  /// Eq. 6-7: indices (int64, ascending) of the members of the largest cluster of the
  /// rows of `features` (n x d, n >= 1), clustered with `seed`.
  torch::Tensor select(const torch::Tensor& features, uint64_t seed) const;

 protected:
  /// Eq. 6: {C_1..C_K} = clustering of the rows of `x` (float32, contiguous).
  virtual clustering::Partition partition(const torch::Tensor& x, uint64_t seed) const = 0;

 private:
  double keep_fraction_;
};

/// K-means (the paper's choice).
class KMeansSelector : public DominantSelector {
 public:
  KMeansSelector(const clustering::KMeansParams& params, double keep_fraction)
      : DominantSelector(keep_fraction), params_(params) {}

 protected:
  clustering::Partition partition(const torch::Tensor& x, uint64_t seed) const override;

 private:
  clustering::KMeansParams params_;
};

/// Gaussian mixture; members are hard assignments by responsibility.
class GmmSelector : public DominantSelector {
 public:
  GmmSelector(const clustering::GmmParams& params, double keep_fraction)
      : DominantSelector(keep_fraction), params_(params) {}

 protected:
  clustering::Partition partition(const torch::Tensor& x, uint64_t seed) const override;

 private:
  clustering::GmmParams params_;
};

/// MeanShift (flat kernel); the number of clusters comes from the data.
class MeanShiftSelector : public DominantSelector {
 public:
  MeanShiftSelector(const clustering::MeanShiftParams& params, double keep_fraction)
      : DominantSelector(keep_fraction), params_(params) {}

 protected:
  clustering::Partition partition(const torch::Tensor& x, uint64_t seed) const override;

 private:
  clustering::MeanShiftParams params_;
};

/// The selector of cluster.method, with cluster.keep_fraction. Throws on an unknown method.
std::unique_ptr<DominantSelector> makeDominantSelector(const ClusterConfig& cfg);

/// The pool rows to align given features of the pool: every row with cluster.space
/// none (the paper's "w/o clustering" ablation) or an empty pool, else the dominant set
/// of `features` under cfg (seeded with `seed`).
torch::Tensor dominantRows(const torch::Tensor& features, const ClusterConfig& cfg, uint64_t seed);

}  // namespace shiftad::method
