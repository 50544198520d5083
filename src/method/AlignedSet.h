// Which pool rows are aligned in each epoch: the dominant set (paper Eq. 6-7) on the
// schedule of cluster.space. Φ's space (frozen) does not change during training and is
// clustered once; F's own space (self) moves and is re-clustered every
// cluster.recluster_every epochs; none aligns the whole pool; score aligns the rows F
// scores as normal, on the schedule of self (a self-training loop that estimates how
// much of the pool is anomalous instead of being told); dense aligns the pool's dense
// region (DenseRegion.h) in Φ's space, or in F's initial space without Φ, chosen once
// (with cluster.dense_grow and Φ, re-grown on the schedule of self to the rows F scores
// as low as the region: an experiment, off by default).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <torch/types.h>

#include "method/DominantSelector.h"
#include "shiftad/Config.h"

namespace shiftad::method {

class AlignedSet {
 public:
  /// `pool_size`: rows of the pool. `frozen_features`: Φ's features of them (needed by
  /// cluster.space frozen; used by dense when defined). `self_features`: F's features of
  /// the pool as they are now (called by cluster.space self when it re-clusters, and by
  /// dense before training when there is no Φ). `seed`: train.seed; F's space
  /// is clustered in epoch e with seed + e. `self_scores`: F's anomaly scores of the
  /// pool as they are now (called by cluster.space score).
  AlignedSet(const ClusterConfig& cfg, uint64_t seed, int64_t pool_size, torch::Tensor frozen_features,
             std::function<torch::Tensor()> self_features, std::function<torch::Tensor()> self_scores = {});

  /// The pool rows (int64, ascending) aligned in `epoch` (1-based), given those aligned
  /// before it (`previous`; undefined: none yet, e.g. the first epoch).
  torch::Tensor forEpoch(int epoch, const torch::Tensor& previous) const;

  /// Whether `epoch` clusters anew rather than keeping `previous`.
  bool clustersIn(int epoch, const torch::Tensor& previous) const;

 private:
  ClusterConfig cfg_;
  uint64_t seed_;
  int64_t pool_size_;
  torch::Tensor frozen_features_;
  std::function<torch::Tensor()> self_features_;
  std::function<torch::Tensor()> self_scores_;
  /// dense: the region, taken once (Φ's space is fixed; F's initial space is gone after
  /// the first epoch) and kept for cluster.dense_grow.
  mutable torch::Tensor region_;
};

}  // namespace shiftad::method
