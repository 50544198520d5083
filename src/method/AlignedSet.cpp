#include "method/AlignedSet.h"

#include <torch/torch.h>

#include "method/DecisionThreshold.h"

namespace shiftad::method {

AlignedSet::AlignedSet(const ClusterConfig& cfg, uint64_t seed, int64_t pool_size, torch::Tensor frozen_features,
                       std::function<torch::Tensor()> self_features, std::function<torch::Tensor()> self_scores)
    : cfg_(cfg),
      seed_(seed),
      pool_size_(pool_size),
      frozen_features_(std::move(frozen_features)),
      self_features_(std::move(self_features)),
      self_scores_(std::move(self_scores)) {}

torch::Tensor rowsScoredNormal(const torch::Tensor& scores) {
  const auto s = scores.to(torch::kDouble).contiguous();
  const std::vector<double> v(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  const auto all = torch::arange(s.numel(), torch::kLong);
  const auto cut = mixtureCut(v, /*weighted=*/true);
  if (!cut) return all;
  const auto rows = torch::nonzero(s <= *cut).reshape({-1});
  return rows.size(0) >= 2 ? rows : all;
}

bool AlignedSet::clustersIn(int epoch, const torch::Tensor& previous) const {
  if (!previous.defined()) return true;
  if (cfg_.space != ClusterSpace::kSelf && cfg_.space != ClusterSpace::kScore) return false;  // frozen, none: fixed
  const int every = cfg_.recluster_every;
  return every != 0 && (epoch - 1) % every == 0;
}

torch::Tensor AlignedSet::forEpoch(int epoch, const torch::Tensor& previous) const {
  if (!clustersIn(epoch, previous)) return previous;
  if (cfg_.space == ClusterSpace::kFrozen) return dominantRows(frozen_features_, cfg_, seed_);
  if (cfg_.space == ClusterSpace::kNone) return torch::arange(pool_size_, torch::kLong);
  if (cfg_.space == ClusterSpace::kScore) return rowsScoredNormal(self_scores_());
  return dominantRows(self_features_(), cfg_, seed_ + static_cast<uint64_t>(epoch));
}

}  // namespace shiftad::method
