#include "method/DenseRegion.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "common/Error.h"
#include "common/Progress.h"
#include "method/DecisionThreshold.h"

namespace shiftad::method {

namespace {

/// Rows of the pool compared at once: a block x n similarity matrix, so memory stays
/// linear in the pool (a 100,000-row pool needs 100 MB a block, not 40 GB at once).
constexpr int64_t kBlockRows = 256;

}  // namespace

namespace {

/// The rows a pool's rows are compared with: every row, or `m` rows spread evenly over the
/// pool (deterministic, no seed: every rank and every resume takes the same ones).
torch::Tensor referenceRows(int64_t n, int64_t m) {
  if (m <= 0 || m >= n) return torch::arange(n, torch::kLong);
  return torch::floor(torch::arange(m, torch::kDouble) * (static_cast<double>(n) / static_cast<double>(m)))
      .to(torch::kLong);
}

}  // namespace

torch::Tensor neighbourDistance(const torch::Tensor& features, double share, int64_t reference_rows) {
  SHIFTAD_CHECK(features.dim() == 2 && features.size(0) >= 2,
                "neighbourDistance: expected an n x d matrix with n >= 2, got {} dimensions and {} rows",
                features.dim(), features.dim() > 0 ? features.size(0) : 0);
  SHIFTAD_CHECK(share > 0.0 && share <= 1.0, "neighbourDistance: share must lie in (0, 1], got {}", share);
  SHIFTAD_CHECK(reference_rows != 1, "neighbourDistance: reference_rows must be 0 (every row) or at least 2, got 1");
  const int64_t n = features.size(0);
  // Row by row in float64: the pool is never copied whole (a million 1280-d rows: 10 GB).
  const auto unit = [](const torch::Tensor& rows) {
    return torch::nn::functional::normalize(rows.to(torch::kDouble),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  };
  const auto ref = referenceRows(n, reference_rows);
  const int64_t m = ref.size(0);
  const auto k = std::max<int64_t>(1, std::llround(share * static_cast<double>(m - 1)));
  const auto reference_t = unit(features.index_select(0, ref)).t();  // a view, as before: the same BLAS call
  // Where reference row j is row i of the pool: the column a row must not count as its own neighbour.
  auto self_column = torch::full({n}, int64_t{-1}, torch::kLong);
  self_column.index_put_({ref}, torch::arange(m, torch::kLong));
  auto out = torch::empty({n}, torch::kDouble);
  Progress progress("dense region: neighbour distances of the pool's rows", n);
  for (int64_t b = 0; b < n; b += kBlockRows) {
    const int64_t e = std::min(n, b + kBlockRows);
    auto sim = torch::mm(unit(features.slice(0, b, e)), reference_t);
    const auto own = self_column.slice(0, b, e);
    const auto in_reference = torch::nonzero(own >= 0).reshape({-1});
    // A row is not its own neighbour: below any cosine similarity.
    sim.index_put_({in_reference, own.index_select(0, in_reference)}, -2.0);
    const auto nearest = std::get<0>(sim.topk(k, /*dim=*/1));
    out.slice(0, b, e).copy_(1.0 - nearest.mean(1));
    progress.advance(e - b);
  }
  return out;
}

torch::Tensor lowModeRows(const torch::Tensor& values, bool bic_gate) {
  const auto s = values.to(torch::kDouble).contiguous();
  const std::vector<double> v(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  const auto all = torch::arange(s.numel(), torch::kLong);
  double bic_gain = 0;
  const auto cut = mixtureCut(v, /*weighted=*/true, bic_gate ? &bic_gain : nullptr);
  // No cut, or (gated) one component explains the data as well as two: the whole pool.
  if (!cut || (bic_gate && bic_gain <= 0)) return all;
  const auto rows = torch::nonzero(s <= *cut).reshape({-1});
  return rows.size(0) >= 2 ? rows : all;
}

torch::Tensor denseRows(const torch::Tensor& features, const DenseRegionParams& params) {
  SHIFTAD_CHECK(params.max_share > 0.0 && params.max_share <= 1.0, "denseRows: max_share must lie in (0, 1], got {}",
                params.max_share);
  const int64_t n = features.size(0);
  if (n < 4) return torch::arange(n, torch::kLong);
  // Distances of exact duplicates are 0, whose logarithm the mixture cannot take.
  const auto distance = neighbourDistance(features, params.neighbours, params.reference_rows).clamp_min(1e-12);
  const auto rows = lowModeRows(distance, params.bic_gate);
  // The gate found one population: the whole pool, as cluster.dense_bic_gate says. Uncapped,
  // since the cap is for a pool the mixture could not split although it holds two.
  if (params.bic_gate && rows.size(0) == n) return rows;
  const auto cap = std::max<int64_t>(2, std::llround(params.max_share * static_cast<double>(n)));
  if (rows.size(0) <= cap) return rows;
  // The low mode is every row below a cut, so its `cap` densest rows are the pool's.
  return std::get<0>(std::get<1>(distance.topk(cap, /*dim=*/0, /*largest=*/false)).sort());
}

}  // namespace shiftad::method
