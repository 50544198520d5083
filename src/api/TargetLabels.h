// Every use of target labels, in one place: the oracle's and the few-shot variant's
// training sets, the purity diagnostic of a dominant set, and evaluation. Training of
// the method itself never sees them.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "data/Protocol.h"

namespace shiftad::api {

/// Labels of the loaded rows: the loader drops unreadable files, so labels are
/// re-indexed by path.
std::vector<int> labelsOf(const std::vector<std::string>& loaded, const data::LabelledImages& truth);

/// The target normals of the pool (the oracle's training set; reads labels).
std::vector<std::string> poolNormals(const data::LabelledImages& pool);

/// The k labeled target normals of the few-shot variant: drawn (seeded) from the
/// pool's normals. Reads pool labels: only reachable with data.target_labels.
std::vector<std::string> fewShotNormals(const data::LabelledImages& pool, int k, int seed);

/// Share of true normals among the aligned pool samples. Diagnostic only: computed
/// after the epoch from the pool's labels, which never reach the trainer.
double purity(const torch::Tensor& dominant, const std::vector<int>& pool_is_anomaly);

/// The share of anomalies among `pool_is_anomaly` (0 for an empty pool): the pool's true
/// contamination, a diagnostic.
double anomalyShare(const std::vector<int>& pool_is_anomaly);

}  // namespace shiftad::api
