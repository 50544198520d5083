#include "method/AlignedSet.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "method/DenseRegion.h"

namespace shiftad::method {

AlignedSet::AlignedSet(const ClusterConfig& cfg, uint64_t seed, int64_t pool_size, torch::Tensor frozen_features,
                       std::function<torch::Tensor()> self_features, std::function<torch::Tensor()> self_scores)
    : cfg_(cfg),
      seed_(seed),
      pool_size_(pool_size),
      frozen_features_(std::move(frozen_features)),
      self_features_(std::move(self_features)),
      self_scores_(std::move(self_scores)) {}

bool AlignedSet::clustersIn(int epoch, const torch::Tensor& previous) const {
  if (!previous.defined()) return true;
  // frozen, none and dense keep their first set; self, score and a growing dense region
  // re-estimate on schedule.
  const bool grows = cfg_.space == ClusterSpace::kDense && cfg_.dense_grow > 0.0;
  if (cfg_.space != ClusterSpace::kSelf && cfg_.space != ClusterSpace::kScore && !grows) return false;
  const int every = cfg_.recluster_every;
  return every != 0 && (epoch - 1) % every == 0;
}

torch::Tensor AlignedSet::forEpoch(int epoch, const torch::Tensor& previous) const {
  if (!clustersIn(epoch, previous)) return previous;
  if (cfg_.space == ClusterSpace::kFrozen) return dominantRows(frozen_features_, cfg_, seed_);
  if (cfg_.space == ClusterSpace::kNone) return torch::arange(pool_size_, torch::kLong);
  if (cfg_.space == ClusterSpace::kScore) return lowModeRows(self_scores_());
  if (cfg_.space == ClusterSpace::kDense) {
    if (!region_.defined())
      region_ = denseRows(frozen_features_.defined() ? frozen_features_ : self_features_(),
                          {cfg_.neighbours, cfg_.dense_bic_gate, cfg_.dense_max_share, cfg_.dense_reference_rows});
    if (!previous.defined()) return region_;
    // Self-training from the region: F, trained on the region, scores the rest of the pool;
    // the rows it scores as low as most of the region are aligned too. The region must be
    // Φ's (validateConfig): one re-taken in F's space after a resume would be another.
    SHIFTAD_CHECK(frozen_features_.defined(), "cluster.dense_grow needs the frozen encoder's features of the pool");
    const auto scores = self_scores_().to(torch::kDouble);
    const double tau = scores.index_select(0, region_).quantile(cfg_.dense_grow).item<double>();
    return torch::nonzero(scores <= tau).reshape({-1});
  }
  return dominantRows(self_features_(), cfg_, seed_ + static_cast<uint64_t>(epoch));
}

}  // namespace shiftad::method
