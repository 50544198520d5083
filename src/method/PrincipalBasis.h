// Principal directions of a set of rows, for the PCA head initialisation (beyond the
// paper, model.head_init: pca), and a memo of them for callers that train several runs
// on the same data (a benchmark trains several variants on the same source and pool,
// and the decomposition dominates a head-only run).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace shiftad::method {

/// Principal directions of the rows of `x` (n x D): a D x D float matrix whose rows are
/// the directions by decreasing variance, completed to an orthonormal basis (also when
/// n < D). Computed in float64.
torch::Tensor principalBasis(const torch::Tensor& x);

/// principalBasis() memoised by content (every byte of the rows in float64, and their
/// shape), for up to `capacity` entries (then emptied). Thread-safe.
class PrincipalBasisCache {
 public:
  explicit PrincipalBasisCache(size_t capacity = 64) : capacity_(capacity) {}
  torch::Tensor basis(const torch::Tensor& x);

 private:
  size_t capacity_;
  std::mutex mutex_;
  std::map<std::pair<uint64_t, std::vector<int64_t>>, torch::Tensor> memo_;
};

/// principalBasis(x) through `cache` (null: computed directly).
torch::Tensor principalBasis(const torch::Tensor& x, PrincipalBasisCache* cache);

}  // namespace shiftad::method
