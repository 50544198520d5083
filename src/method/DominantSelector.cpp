#include "method/DominantSelector.h"

#include <torch/torch.h>

#include "clustering/Dominant.h"
#include "clustering/Gmm.h"
#include "clustering/KMeans.h"
#include "clustering/MeanShift.h"
#include "common/Error.h"

namespace shiftad::method {

torch::Tensor DominantSelector::select(const torch::Tensor& features, uint64_t seed) const {
  SHIFTAD_CHECK(features.dim() == 2 && features.size(0) > 0,
                "dominantSet: expected a non-empty n x d matrix, got {} dimensions and {} elements", features.dim(),
                features.numel());
  const auto x = features.to(torch::kFloat).contiguous();
  const auto part = partition(x, seed);
  const auto members = clustering::dominantMembers(part);  // Eq. 6: C* = argmax_j |C_j|
  if (keep_fraction_ >= 1.0) return members;
  return clustering::keepClosest(x, members, part.centers[part.dominant], keep_fraction_);
}

clustering::Partition KMeansSelector::partition(const torch::Tensor& x, uint64_t seed) const {
  auto params = params_;
  params.seed = seed;
  return clustering::toPartition(clustering::kmeans(x, params));
}

clustering::Partition GmmSelector::partition(const torch::Tensor& x, uint64_t seed) const {
  auto params = params_;
  params.seed = seed;
  return clustering::toPartition(clustering::gmm(x, params));
}

clustering::Partition MeanShiftSelector::partition(const torch::Tensor& x, uint64_t seed) const {
  auto params = params_;
  params.seed = seed;
  return clustering::toPartition(clustering::meanShift(x, params));
}

std::unique_ptr<DominantSelector> makeDominantSelector(const ClusterConfig& cfg) {
  switch (cfg.method) {
    case ClusterMethod::kKMeans:
      return std::make_unique<KMeansSelector>(cfg.kmeans, cfg.keep_fraction);
    case ClusterMethod::kGmm:
      return std::make_unique<GmmSelector>(cfg.gmm, cfg.keep_fraction);
    case ClusterMethod::kMeanShift:
      return std::make_unique<MeanShiftSelector>(cfg.meanshift, cfg.keep_fraction);
  }
  // Only an integer cast to ClusterMethod gets here; the config admits no other value.
  SHIFTAD_THROW("makeDominantSelector: cluster method {} is not one of ClusterMethod's values",
                static_cast<int>(cfg.method));
}

torch::Tensor dominantRows(const torch::Tensor& features, const ClusterConfig& cfg, uint64_t seed) {
  const int64_t n = features.size(0);
  if (cfg.space == ClusterSpace::kNone || n == 0) return torch::arange(n, torch::kLong);
  return makeDominantSelector(cfg)->select(features, seed);
}

}  // namespace shiftad::method
