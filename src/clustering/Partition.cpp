#include "clustering/Partition.h"

#include <algorithm>

#include <torch/torch.h>

#include "clustering/Gmm.h"
#include "clustering/KMeans.h"
#include "clustering/MeanShift.h"
#include "common/Error.h"

namespace shiftad::clustering {
namespace {

Partition makePartition(const torch::Tensor& assignments, const std::vector<int64_t>& sizes, int dominant,
                        const torch::Tensor& centers) {
  Partition p;
  p.assignments = assignments;
  p.sizes = sizes;
  p.dominant = dominant;
  p.centers = centers.defined() ? centers.to(torch::kFloat) : centers;
  return p;
}

}  // namespace

Partition toPartition(const KMeansResult& r) { return makePartition(r.assignments, r.sizes, r.dominant, r.centroids); }
Partition toPartition(const GmmResult& r) { return makePartition(r.assignments, r.sizes, r.dominant, r.means); }
Partition toPartition(const MeanShiftResult& r) { return makePartition(r.assignments, r.sizes, r.dominant, r.centers); }

torch::Tensor clusterMembers(const Partition& p, int cluster) {
  const auto k = static_cast<int64_t>(p.sizes.size());
  SHIFTAD_CHECK(cluster >= 0 && cluster < k, "clusterMembers: cluster {} out of range [0, {})", cluster, k);
  return (p.assignments == cluster).nonzero().flatten();
}

torch::Tensor dominantMembers(const Partition& p) { return clusterMembers(p, p.dominant); }

std::vector<int64_t> clusterSizes(const torch::Tensor& assignments, int64_t k) {
  const torch::Tensor counts = torch::bincount(assignments.flatten().to(torch::kLong), {}, k).cpu().contiguous();
  return {counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + k};
}

int largestCluster(const std::vector<int64_t>& sizes) {
  SHIFTAD_CHECK(!sizes.empty(), "largestCluster: no clusters");
  // max_element returns the first maximum: the lowest index wins ties.
  return static_cast<int>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
}

}  // namespace shiftad::clustering
