#include "clustering/DominantSet.h"

#include <torch/torch.h>

#include "clustering/Dominant.h"
#include "clustering/Gmm.h"
#include "clustering/KMeans.h"
#include "clustering/MeanShift.h"
#include "clustering/Partition.h"
#include "common/Error.h"

namespace shiftad::clustering {
namespace {

Partition partition(const torch::Tensor& x, const DominantParams& p) {
  if (p.method == ClusterMethod::kKMeans) {
    KMeansParams kp;
    kp.k = p.k;
    kp.restarts = p.restarts;
    kp.max_iter = p.max_iter;
    kp.seed = p.seed;
    return toPartition(kmeans(x, kp));
  }
  if (p.method == ClusterMethod::kGmm) {
    GmmParams gp;
    gp.k = p.k;
    gp.covariance = p.covariance;
    gp.max_iter = p.max_iter;
    gp.restarts = p.restarts;
    gp.seed = p.seed;
    return toPartition(gmm(x, gp));
  }
  if (p.method == ClusterMethod::kMeanShift) {
    MeanShiftParams mp;
    mp.bandwidth = p.bandwidth;
    mp.quantile = p.quantile;
    mp.seed = p.seed;
    return toPartition(meanShift(x, mp));
  }
  // Only an integer cast to ClusterMethod gets here; the config admits no other value.
  SHIFTAD_THROW("dominantSet: cluster method {} is not one of ClusterMethod's values", static_cast<int>(p.method));
}

}  // namespace

torch::Tensor dominantSet(const torch::Tensor& x, const DominantParams& p) {
  SHIFTAD_CHECK(x.dim() == 2 && x.size(0) > 0,
                "dominantSet: expected a non-empty n x d matrix, got {} dimensions and {} elements", x.dim(),
                x.numel());
  const auto xf = x.to(torch::kFloat).contiguous();
  const auto part = partition(xf, p);
  const auto members = dominantMembers(part);
  if (p.keep_fraction >= 1.0) return members;
  return keepClosest(xf, members, part.centers[part.dominant], p.keep_fraction);
}

}  // namespace shiftad::clustering
