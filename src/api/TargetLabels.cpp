#include "api/TargetLabels.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include <torch/torch.h>

#include "common/Error.h"

namespace shiftad::api {

std::vector<int> labelsOf(const std::vector<std::string>& loaded, const data::LabelledImages& truth) {
  std::unordered_map<std::string, int> by_path;
  for (size_t i = 0; i < truth.paths.size(); ++i) by_path[truth.paths[i]] = truth.is_anomaly[i];
  std::vector<int> out;
  for (const auto& p : loaded) out.push_back(by_path.at(p));
  return out;
}

std::vector<std::string> poolNormals(const data::LabelledImages& pool) {
  std::vector<std::string> normals;
  for (size_t i = 0; i < pool.paths.size(); ++i)
    if (!pool.is_anomaly[i]) normals.push_back(pool.paths[i]);
  return normals;
}

std::vector<std::string> fewShotNormals(const data::LabelledImages& pool, int k, int seed) {
  auto normals = poolNormals(pool);
  SHIFTAD_CHECK(static_cast<int>(normals.size()) >= k, "fewshot.k = {} but the pool holds only {} normal images", k,
                normals.size());
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::shuffle(normals.begin(), normals.end(), rng);
  normals.resize(static_cast<size_t>(k));
  std::sort(normals.begin(), normals.end());
  return normals;
}

double purity(const torch::Tensor& dominant, const std::vector<int>& pool_is_anomaly) {
  if (dominant.numel() == 0) return 0.0;
  const auto idx = dominant.accessor<int64_t, 1>();
  int64_t normal = 0;
  for (int64_t i = 0; i < idx.size(0); ++i) normal += pool_is_anomaly[static_cast<size_t>(idx[i])] == 0;
  return static_cast<double>(normal) / static_cast<double>(idx.size(0));
}

double anomalyShare(const std::vector<int>& pool_is_anomaly) {
  if (pool_is_anomaly.empty()) return 0.0;
  int64_t anomalous = 0;
  for (const int a : pool_is_anomaly) anomalous += a != 0;
  return static_cast<double>(anomalous) / static_cast<double>(pool_is_anomaly.size());
}

}  // namespace shiftad::api
