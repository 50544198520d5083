#include "clustering/Dominant.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "clustering/Blocks.h"
#include "common/Error.h"

namespace shiftad::clustering {
namespace {

/// Rows per block of differences: about 16M float64 entries (128 MB).
constexpr int64_t kBlockEntries = int64_t{1} << 24;

/// ceil(fraction * m), without 0.3 * 10 = 3.0000000000000004 rounding up to 4.
int64_t keepCount(double fraction, int64_t m) {
  const double product = fraction * static_cast<double>(m);
  const double nearest = std::round(product);
  const double count = std::abs(product - nearest) <= 1e-9 * std::max(1.0, product) ? nearest : std::ceil(product);
  return std::clamp<int64_t>(static_cast<int64_t>(count), 1, m);  // fraction > 0 keeps at least one
}

void checkArgs(const torch::Tensor& x, const torch::Tensor& members, const torch::Tensor& center, double fraction) {
  SHIFTAD_CHECK(x.defined() && x.dim() == 2, "keepClosest: expected an n x d matrix, got {} dimensions",
                x.defined() ? x.dim() : 0);
  SHIFTAD_CHECK(members.defined() && members.dim() == 1 && !members.is_floating_point(),
                "keepClosest: members must be a 1-D tensor of row indices");
  SHIFTAD_CHECK(center.defined() && center.dim() == 1 && center.size(0) == x.size(1),
                "keepClosest: center must hold {} features, got shape {}", x.size(1),
                center.defined() ? c10::str(center.sizes()) : std::string("undefined"));
  SHIFTAD_CHECK(fraction > 0.0 && fraction <= 1.0, "keepClosest: fraction must be in (0, 1], got {}", fraction);
  if (members.numel() > 0) {
    const int64_t lo = members.min().item<int64_t>();
    const int64_t hi = members.max().item<int64_t>();
    SHIFTAD_CHECK(lo >= 0 && hi < x.size(0), "keepClosest: member index {} out of range [0, {})", lo < 0 ? lo : hi,
                  x.size(0));
  }
}

}  // namespace

torch::Tensor keepClosest(const torch::Tensor& x, const torch::Tensor& members, const torch::Tensor& center,
                          double fraction) {
  checkArgs(x, members, center, fraction);
  torch::NoGradGuard no_grad;
  const torch::Tensor idx = members.to(torch::kLong).contiguous();
  const int64_t m = idx.size(0);
  if (m == 0) return idx;
  const torch::Tensor c = center.detach().to(torch::kDouble);
  torch::Tensor d2 = torch::empty({m}, c.options());
  const int64_t rows = detail::rowsWithin(kBlockEntries, x.size(1), m);
  detail::forEachBlock(m, rows, [&](int64_t begin, int64_t end) {
    const torch::Tensor diff = x.detach().index_select(0, idx.slice(0, begin, end)).to(torch::kDouble) - c;
    d2.slice(0, begin, end).copy_(diff.square().sum(1));
  });
  // A stable sort keeps equal distances in member order: the earlier member wins.
  const torch::Tensor order = std::get<1>(d2.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const torch::Tensor chosen = idx.index_select(0, order.slice(0, 0, keepCount(fraction, m)));
  return std::get<0>(chosen.sort());
}

}  // namespace shiftad::clustering
