#include "clustering/MeanShift.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "clustering/Blocks.h"
#include "clustering/Partition.h"
#include "common/Error.h"
#include "common/Progress.h"

namespace shiftad::clustering {
namespace {

using detail::forEachBlock;
using detail::rowsWithin;

/// The input as every step uses it: centred on the column mean (distances do not change,
/// but the expanded ||a||^2 - 2ab + ||b||^2 cancels far less), in the working dtype,
/// with the squared row norms that the expanded distances reuse.
struct Points {
  torch::Tensor x;         ///< n x d, float32 or float64, centred, contiguous
  torch::Tensor sq_norms;  ///< n
  torch::Tensor center;    ///< d, the column mean that was subtracted (working dtype)
  int64_t chunk = 1;       ///< entries per distance block
  int64_t side = 1;        ///< side of a square distance block (seeds x points)
  int64_t n() const { return x.size(0); }
};

torch::Tensor rowSqNorms(const torch::Tensor& a) {
  return torch::linalg::vector_norm(a, 2, torch::IntArrayRef{1}, false, c10::nullopt).square();
}

/// Squared distances with both squared norms given, clamped at 0 (cancellation).
torch::Tensor sqDist(const torch::Tensor& a, const torch::Tensor& a_sq, const torch::Tensor& b,
                     const torch::Tensor& b_sq) {
  torch::Tensor d2 = a_sq.unsqueeze(1) + b_sq.unsqueeze(0);
  d2.addmm_(a, b.t(), /*beta=*/1, /*alpha=*/-2);
  return d2.clamp_min_(0);
}

void checkInput(const torch::Tensor& x, const char* fn) {
  SHIFTAD_CHECK(x.defined() && x.dim() == 2, "{}: expected an n x d matrix, got {} dimensions", fn,
                x.defined() ? x.dim() : 0);
  SHIFTAD_CHECK(x.size(0) > 0, "{}: empty input (0 rows)", fn);
  SHIFTAD_CHECK(x.size(1) > 0, "{}: rows have 0 features", fn);
  SHIFTAD_CHECK(x.is_floating_point(), "{}: expected floating-point features, got {}", fn,
                c10::toString(x.scalar_type()));
}

torch::ScalarType workingType(const torch::Tensor& x) {
  return x.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
}

/// Checks rows for NaN/infinity (before centring, which would spread one bad row to all)
/// and builds the centred working copy.
Points prepare(const torch::Tensor& x, int64_t chunk, const char* fn) {
  const torch::Tensor in = x.detach().contiguous();
  const int64_t rows = rowsWithin(chunk, in.size(1), in.size(0));
  torch::Tensor sum = torch::zeros({in.size(1)}, in.options().dtype(torch::kDouble));
  forEachBlock(in.size(0), rows, [&](int64_t begin, int64_t end) {
    const torch::Tensor b = in.slice(0, begin, end).to(torch::kDouble);
    const torch::Tensor bad = (~torch::isfinite(b).all(1)).nonzero();
    SHIFTAD_CHECK(bad.size(0) == 0, "{}: row {} holds a NaN or infinite feature", fn,
                  begin + bad[0][0].item<int64_t>());
    sum += b.sum(0);
  });
  Points p;
  const torch::ScalarType type = workingType(in);
  p.center = (sum / static_cast<double>(in.size(0))).to(type);
  p.x = (in.to(type) - p.center).contiguous();
  p.sq_norms = rowSqNorms(p.x);
  p.chunk = chunk;
  p.side = std::clamp<int64_t>(static_cast<int64_t>(std::sqrt(static_cast<double>(chunk))), 1, p.n());
  return p;
}

/// Distance from every row of `x` to its k-th nearest row (itself first). The neighbour is
/// chosen on ||b||^2 - 2ab (the row's own ||a||^2 does not change its ranking: one fused
/// GEMM per block, and topk, several times faster than kthvalue here), and the distance is
/// then recomputed from the difference in float64, so that it carries no cancellation error.
double meanKthDistance(const torch::Tensor& x, const Points& p, int64_t k) {
  const int64_t rows = rowsWithin(p.chunk, p.n(), p.n());
  const torch::Tensor sq_row = p.sq_norms.unsqueeze(0);
  double total = 0.0;
  Progress progress("mean shift: estimating the bandwidth (each row's k-th nearest row)", p.n());
  forEachBlock(p.n(), rows, [&](int64_t begin, int64_t end) {
    const torch::Tensor score = torch::addmm(sq_row, p.x.slice(0, begin, end), p.x.t(), /*beta=*/1, /*alpha=*/-2);
    auto [values, indices] = score.topk(k, 1, /*largest=*/false, /*sorted=*/false);
    const torch::Tensor neighbour = indices.gather(1, values.argmax(1, /*keepdim=*/true)).squeeze(1);
    const torch::Tensor diff =
        x.slice(0, begin, end).to(torch::kDouble) - x.index_select(0, neighbour).to(torch::kDouble);
    total += torch::linalg::vector_norm(diff, 2, torch::IntArrayRef{1}, false, c10::nullopt).sum().item<double>();
    progress.advance(end - begin);
  });
  return total / static_cast<double>(p.n());
}

/// sklearn's get_bin_seeds with min_bin_freq = 1: the occupied cells of a grid of side
/// `bandwidth` (on the original coordinates, as sklearn), as centred seeds; every point
/// when binning does not reduce their number.
torch::Tensor binSeeds(const torch::Tensor& x, const Points& p, double bandwidth) {
  const torch::Tensor cells = std::get<0>(torch::unique_dim(torch::round(x.to(p.x.scalar_type()) / bandwidth), 0));
  if (cells.size(0) == p.n()) return p.x.clone();
  return cells * bandwidth - p.center;
}

/// One flat-kernel step for a batch of positions: the mean of the points within
/// bandwidth of each, and how many there are. Square blocks of seeds x points.
std::pair<torch::Tensor, torch::Tensor> shiftOnce(const Points& p, const torch::Tensor& pos, double bw2) {
  torch::Tensor sums = torch::zeros({pos.size(0), p.x.size(1)}, pos.options().dtype(torch::kDouble));
  torch::Tensor counts = torch::zeros({pos.size(0)}, pos.options().dtype(torch::kLong));
  forEachBlock(pos.size(0), p.side, [&](int64_t sb, int64_t se) {
    const torch::Tensor seeds = pos.slice(0, sb, se);
    const torch::Tensor seeds_sq = rowSqNorms(seeds);
    forEachBlock(p.n(), p.side, [&](int64_t pb, int64_t pe) {
      const torch::Tensor pts = p.x.slice(0, pb, pe);
      // sklearn's radius_neighbors keeps distances <= radius.
      const torch::Tensor d2 = sqDist(seeds, seeds_sq, pts, p.sq_norms.slice(0, pb, pe));
      const torch::Tensor within = (d2 <= bw2).to(pts.scalar_type());
      counts.slice(0, sb, se) += within.sum(1).to(torch::kLong);
      sums.slice(0, sb, se) += within.mm(pts).to(torch::kDouble);  // per-block sums, accumulated in float64
    });
  });
  return {(sums / counts.clamp_min(1).unsqueeze(1).to(torch::kDouble)).to(pos.scalar_type()), counts};
}

/// Where the seeds end up (sklearn's _mean_shift_single_seed, all seeds at once).
struct Climb {
  torch::Tensor modes;      ///< m x d final positions
  torch::Tensor intensity;  ///< m: points within bandwidth at the last step
  torch::Tensor reached;    ///< m bool: false for a seed that never had a point within bandwidth
  int iterations = 0;
};

Climb climb(const Points& p, const torch::Tensor& seeds, double bandwidth, int max_iter) {
  const double bw2 = bandwidth * bandwidth;
  const double stop = 1e-3 * bandwidth;
  Climb c;
  c.modes = seeds.clone();
  c.intensity = torch::zeros({seeds.size(0)}, torch::kLong);
  c.reached = torch::ones({seeds.size(0)}, torch::kBool);
  torch::Tensor active = torch::arange(seeds.size(0), torch::kLong);
  // The first steps, with every seed still moving, cost the most: the ETA is pessimistic.
  Progress progress("mean shift: seeds settled", seeds.size(0));
  for (int it = 0; active.size(0) > 0; ++it) {
    const torch::Tensor pos = c.modes.index_select(0, active);
    auto [next, counts] = shiftOnce(p, pos, bw2);
    const torch::Tensor empty = counts == 0;  // nothing in reach: sklearn drops the seed
    const torch::Tensor moved = torch::linalg::vector_norm(next - pos, 2, torch::IntArrayRef{1}, false, c10::nullopt);
    const torch::Tensor done = empty | (moved < stop) | (it == max_iter);
    const torch::Tensor kept = ~empty;
    c.reached.index_fill_(0, active.masked_select(empty), false);
    c.modes.index_copy_(0, active.masked_select(kept), next.index_select(0, kept.nonzero().flatten()));
    c.intensity.index_copy_(0, active, counts);
    c.iterations = it;
    active = active.masked_select(~done);
    progress.advance(pos.size(0) - active.size(0));
  }
  return c;
}

/// The distinct modes, most populated first; ties in order of decreasing coordinates
/// (sklearn sorts (center tuple, intensity) pairs in reverse, after a dict has merged
/// identical centers, the last seed's intensity winning).
std::pair<torch::Tensor, torch::Tensor> sortedModes(const Climb& c) {
  const torch::Tensor idx = c.reached.nonzero().flatten();
  const torch::Tensor modes = c.modes.index_select(0, idx);
  const torch::Tensor intensity = c.intensity.index_select(0, idx);
  auto [unique, inverse, counts] = torch::unique_dim(modes, 0, /*sorted=*/true, /*return_inverse=*/true,
                                                     /*return_counts=*/true);
  // The last seed of each group: the final entry of the group in a stable sort by group.
  const torch::Tensor by_group = std::get<1>(inverse.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const torch::Tensor last = by_group.index_select(0, counts.cumsum(0) - 1);
  // unique_dim sorts rows in increasing lexicographic order: reversed, decreasing.
  const torch::Tensor reversed = torch::arange(unique.size(0) - 1, -1, -1, torch::kLong);
  const torch::Tensor u = unique.index_select(0, reversed);
  const torch::Tensor ui = intensity.index_select(0, last.index_select(0, reversed));
  const torch::Tensor order = std::get<1>(ui.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  return {u.index_select(0, order), ui.index_select(0, order)};
}

/// Greedy suppression in the sorted order: a mode within bandwidth of a kept one is a
/// duplicate. Candidates go in blocks: first against every mode kept so far, then
/// against the earlier ones of their own block (sequential by nature, on a c x c mask).
torch::Tensor suppressDuplicates(const torch::Tensor& sorted, double bandwidth, int64_t side) {
  const double bw2 = bandwidth * bandwidth;
  torch::Tensor kept = sorted.slice(0, 0, 0);
  forEachBlock(sorted.size(0), side, [&](int64_t begin, int64_t end) {
    const torch::Tensor cand = sorted.slice(0, begin, end);
    const torch::Tensor cand_sq = rowSqNorms(cand);
    torch::Tensor alive = torch::ones({end - begin}, torch::kBool);
    if (kept.size(0) > 0) {
      forEachBlock(kept.size(0), side, [&](int64_t kb, int64_t ke) {
        const torch::Tensor k = kept.slice(0, kb, ke);
        alive &= (sqDist(cand, cand_sq, k, rowSqNorms(k)) > bw2).all(1);
      });
    }
    const torch::Tensor near = (sqDist(cand, cand_sq, cand, cand_sq) <= bw2).contiguous();
    auto a = alive.accessor<bool, 1>();
    auto nr = near.accessor<bool, 2>();
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < end - begin; ++i) {
      if (!a[i]) continue;
      keep.push_back(i);
      for (int64_t j = i + 1; j < end - begin; ++j) a[j] = a[j] && !nr[i][j];
    }
    kept = torch::cat({kept, cand.index_select(0, torch::tensor(keep, torch::kLong))});
  });
  return kept;
}

/// Nearest center of every point (sklearn's cluster_all=True).
torch::Tensor nearest(const Points& p, const torch::Tensor& centers) {
  torch::Tensor labels = torch::empty({p.n()}, torch::kLong);
  const torch::Tensor centers_sq = rowSqNorms(centers);
  const int64_t rows = rowsWithin(p.chunk, centers.size(0), p.n());
  forEachBlock(p.n(), rows, [&](int64_t begin, int64_t end) {
    const torch::Tensor d2 = sqDist(p.x.slice(0, begin, end), p.sq_norms.slice(0, begin, end), centers, centers_sq);
    labels.slice(0, begin, end).copy_(d2.argmin(1));
  });
  return labels;
}

void checkParams(const MeanShiftParams& p) {
  SHIFTAD_CHECK(std::isfinite(p.bandwidth) && p.bandwidth >= 0.0,
                "meanShift: bandwidth must be > 0, or 0 to estimate it; got {}", p.bandwidth);
  SHIFTAD_CHECK(p.quantile >= 0.0 && p.quantile <= 1.0, "meanShift: quantile must be in [0, 1], got {}", p.quantile);
  SHIFTAD_CHECK(p.max_iter >= 0, "meanShift: max_iter must be >= 0, got {}", p.max_iter);
  SHIFTAD_CHECK(p.bandwidth_samples >= 0, "meanShift: bandwidth_samples must be >= 0, got {}", p.bandwidth_samples);
  SHIFTAD_CHECK(p.chunk >= 1, "meanShift: chunk must be >= 1, got {}", p.chunk);
}

/// The bandwidth to use: given, or estimated on all rows or on a seeded random subset.
double chooseBandwidth(const torch::Tensor& x, const MeanShiftParams& params) {
  if (params.bandwidth > 0.0) return params.bandwidth;
  torch::Tensor sample = x;
  if (params.bandwidth_samples > 0 && params.bandwidth_samples < x.size(0)) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(params.seed);
    const torch::Tensor perm = torch::randperm(x.size(0), gen, torch::kLong);
    sample = x.index_select(0, perm.slice(0, 0, params.bandwidth_samples));
  }
  const double bandwidth = estimateBandwidth(sample, params.quantile, params.chunk);
  SHIFTAD_CHECK(bandwidth > 0.0,
                "meanShift: the estimated bandwidth is 0 on {} rows (each row's nearest neighbours at quantile {} "
                "coincide with it, or the rows are too few for that quantile to reach another row); raise quantile "
                "(config: cluster.quantile) or set bandwidth > 0 (cluster.bandwidth)",
                x.size(0), params.quantile);
  return bandwidth;
}

}  // namespace

double estimateBandwidth(const torch::Tensor& x, double quantile, int64_t chunk) {
  checkInput(x, "estimateBandwidth");
  SHIFTAD_CHECK(quantile >= 0.0 && quantile <= 1.0, "estimateBandwidth: quantile must be in [0, 1], got {}", quantile);
  SHIFTAD_CHECK(chunk >= 1, "estimateBandwidth: chunk must be >= 1, got {}", chunk);
  torch::NoGradGuard no_grad;
  const Points p = prepare(x, chunk, "estimateBandwidth");
  // int() truncation of the same double product as sklearn; at least one neighbour (the point itself).
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(p.n()) * quantile));
  return meanKthDistance(x.detach().contiguous(), p, k);
}

MeanShiftResult meanShift(const torch::Tensor& x, const MeanShiftParams& params) {
  checkInput(x, "meanShift");
  checkParams(params);
  torch::NoGradGuard no_grad;
  const Points p = prepare(x, params.chunk, "meanShift");
  MeanShiftResult r;
  r.bandwidth = chooseBandwidth(x, params);
  const torch::Tensor seeds = params.bin_seeding ? binSeeds(x.detach(), p, r.bandwidth) : p.x.clone();
  const Climb c = climb(p, seeds, r.bandwidth, params.max_iter);
  SHIFTAD_CHECK(c.reached.any().item<bool>(),
                "meanShift: no point lies within bandwidth {} of any seed; increase the bandwidth or disable "
                "bin_seeding",
                r.bandwidth);
  const torch::Tensor centers = suppressDuplicates(sortedModes(c).first, r.bandwidth, p.side);
  r.assignments = nearest(p, centers);
  r.centers = centers + p.center;
  r.sizes = clusterSizes(r.assignments, centers.size(0));
  r.dominant = largestCluster(r.sizes);
  r.iterations = c.iterations;
  return r;
}

}  // namespace shiftad::clustering
