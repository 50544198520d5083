#include "losses/Mmd.h"

#include <cmath>

#include <torch/torch.h>

#include "common/Error.h"
#include "losses/Checks.h"

namespace shiftad::losses {
namespace {

void checkParams(const MmdParams& p, int64_t ns, int64_t nt) {
  SHIFTAD_CHECK(p.n_kernels >= 1, "mmdLoss: n_kernels must be >= 1, got {}", p.n_kernels);
  SHIFTAD_CHECK(std::isfinite(p.mult) && p.mult > 0.0, "mmdLoss: bandwidth multiplier mult must be > 0, got {}",
                p.mult);
  SHIFTAD_CHECK(!p.unbiased || (ns >= 2 && nt >= 2),
                "mmdLoss: the unbiased estimate needs at least 2 rows per domain, got {} source and {} target rows", ns,
                nt);
}

// Squared Euclidean distances between all rows of z (m x m). The matrix-product form
// keeps memory at m x m (not m x m x d); the diagonal is set to exactly 0 so that a
// row's kernel with itself is exactly 1 (its gradient is 0 there, as it should be).
torch::Tensor pairwiseSqDistances(const torch::Tensor& z) {
  const torch::Tensor sq = z.pow(2).sum(1);
  const torch::Tensor d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * z.matmul(z.t())).clamp_min(0.0);
  return d2.masked_fill(torch::eye(z.size(0), z.options().dtype(torch::kBool)), 0.0);
}

// Lower median of the distances between distinct rows (upper triangle), detached.
torch::Tensor medianSqDistance(const torch::Tensor& d2) {
  const int64_t m = d2.size(0);
  const torch::Tensor iu = torch::triu_indices(m, m, 1, d2.options().dtype(torch::kLong));
  const torch::Tensor median = d2.detach().index({iu[0], iu[1]}).median();
  // All rows identical: any bandwidth gives k = 1 everywhere; a tiny floor avoids 0/0.
  return median.clamp_min(1e-12);
}

// Sum over the bandwidth family of exp(-d2 / (2 sigma_j^2)).
torch::Tensor kernelSum(const torch::Tensor& d2, const torch::Tensor& median, const MmdParams& p) {
  torch::Tensor k = torch::zeros_like(d2);
  const int lowest = -(p.n_kernels / 2);
  for (int j = lowest; j < lowest + p.n_kernels; ++j) {
    const torch::Tensor two_sigma2 = 2.0 * median * std::pow(p.mult, j);
    k = k + torch::exp(-d2 / two_sigma2);
  }
  return k;
}

// Mean of a within-domain block, without its diagonal for the unbiased estimate.
torch::Tensor withinMean(const torch::Tensor& block, bool unbiased) {
  if (!unbiased) return block.mean();
  const int64_t n = block.size(0);
  return (block.sum() - block.diagonal().sum()) / static_cast<double>(n * (n - 1));
}

}  // namespace

torch::Tensor mmdLoss(const torch::Tensor& xs, const torch::Tensor& xt, const MmdParams& params) {
  detail::checkSameWidth("mmdLoss", "xs", xs, "xt", xt);
  const int64_t ns = xs.size(0), nt = xt.size(0);
  checkParams(params, ns, nt);
  // One pooled kernel matrix: the bandwidths come from the pooled sample, and the
  // three blocks share one matrix product.
  const torch::Tensor d2 = pairwiseSqDistances(torch::cat({xs, xt}));
  const torch::Tensor k = kernelSum(d2, medianSqDistance(d2), params);
  const torch::Tensor kss = k.slice(0, 0, ns).slice(1, 0, ns);
  const torch::Tensor ktt = k.slice(0, ns).slice(1, ns);
  const torch::Tensor kst = k.slice(0, 0, ns).slice(1, ns);
  return withinMean(kss, params.unbiased) + withinMean(ktt, params.unbiased) - 2.0 * kst.mean();
}

}  // namespace shiftad::losses
