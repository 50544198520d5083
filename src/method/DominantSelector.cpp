#include "method/DominantSelector.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "clustering/Dominant.h"
#include "clustering/Gmm.h"
#include "clustering/KMeans.h"
#include "clustering/MeanShift.h"
#include "common/Error.h"
#include "common/LogOnce.h"

namespace shiftad::method {

namespace {

/// K clusters of n rows with K >= n: each distinct row is its own cluster, so the
/// "dominant" set is one image, or the copies of one. Allowed (the clustering clamps K),
/// but said once.
void warnIfKFillsThePool(int k, int64_t n) {
  if (k < n) return;
  logOnce(spdlog::level::warn,
          fmt::format("cluster.k = {} is not below the {} rows clustered: each distinct row is its own "
                      "cluster and the dominant set is a single image (or its copies, if rows repeat); use a K well "
                      "below the pool size (the paper: 8-10)",
                      k, n));
}

}  // namespace

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
  warnIfKFillsThePool(params_.k, x.size(0));
  auto params = params_;
  params.seed = seed;
  return clustering::toPartition(clustering::kmeans(x, params));
}

clustering::Partition GmmSelector::partition(const torch::Tensor& x, uint64_t seed) const {
  warnIfKFillsThePool(params_.k, x.size(0));
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
