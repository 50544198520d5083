#include "clustering/KMeans.h"

#include <algorithm>
#include <limits>
#include <random>

#include <torch/torch.h>

#include "clustering/Blocks.h"
#include "clustering/Partition.h"
#include "common/Error.h"

namespace shiftad::clustering {
namespace {

/// Uniform double in [0, 1) from the top 53 bits: unlike std::uniform_real_distribution,
/// identical on every standard library, so a seed means the same clustering everywhere.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// The input in the form every step uses: float32 rows plus their squared norms, which
/// the expanded distance needs and which never change across iterations.
struct Points {
  torch::Tensor x;         ///< n x d, float32, contiguous
  torch::Tensor sq_norms;  ///< n, ||x_i||^2
  int64_t chunk = 1;       ///< rows per distance block
  int64_t n() const { return x.size(0); }
};

using detail::forEachBlock;

/// ||a_i||^2 per row, without an n x d temporary: a.pow(2) would allocate one, which
/// costs seconds for 100k x 2048 features.
torch::Tensor rowSqNorms(const torch::Tensor& a) {
  return torch::linalg::vector_norm(a, 2, /*dim=*/torch::IntArrayRef{1}, /*keepdim=*/false, c10::nullopt).square();
}

/// ||a||^2 - 2 a.b + ||b||^2 with ||a||^2 given: one GEMM instead of an n x m x d
/// difference tensor, clamped because cancellation can leave tiny negatives.
torch::Tensor sqDistExpanded(const torch::Tensor& a, const torch::Tensor& a_sq_norms, const torch::Tensor& b) {
  torch::Tensor d2 = a_sq_norms.unsqueeze(1) + rowSqNorms(b).unsqueeze(0);
  d2.addmm_(a, b.t(), /*beta=*/1, /*alpha=*/-2);
  return d2.clamp_min_(0);
}

/// Distances from every row to the rows of b (m x d), `chunk` rows at a time so that a
/// block never exceeds chunk x m; `reduce` maps each block to the per-row result.
template <typename Reduce>
void forEachDistanceBlock(const Points& p, const torch::Tensor& b, Reduce&& reduce) {
  forEachBlock(p.n(), p.chunk, [&](int64_t begin, int64_t end) {
    reduce(begin, end, sqDistExpanded(p.x.slice(0, begin, end), p.sq_norms.slice(0, begin, end), b));
  });
}

/// Nearest centroid of every row, with its squared distance.
struct Assignment {
  torch::Tensor labels;  ///< n, int64
  torch::Tensor min_d2;  ///< n, float32
  double inertia = 0.0;  ///< sum of min_d2, accumulated in float64
};

Assignment assign(const Points& p, const torch::Tensor& centroids) {
  Assignment a;
  a.labels = torch::empty({p.n()}, p.x.options().dtype(torch::kLong));
  a.min_d2 = torch::empty({p.n()}, p.x.options());
  forEachDistanceBlock(p, centroids, [&](int64_t begin, int64_t end, const torch::Tensor& d2) {
    auto [dmin, idx] = d2.min(1);
    a.labels.slice(0, begin, end).copy_(idx);
    a.min_d2.slice(0, begin, end).copy_(dmin);
  });
  a.inertia = a.min_d2.sum(torch::kDouble).item<double>();
  return a;
}

/// Distances of all rows to one point.
torch::Tensor sqDistTo(const Points& p, const torch::Tensor& point) {
  torch::Tensor out = torch::empty({p.n()}, p.x.options());
  forEachDistanceBlock(p, point.unsqueeze(0), [&](int64_t begin, int64_t end, const torch::Tensor& d2) {
    out.slice(0, begin, end).copy_(d2.squeeze(1));
  });
  return out;
}

/// Inertia from the differences x_i - c_{a(i)} themselves. The expanded distances lose
/// about eps32 * ||x||^2 per row to cancellation, which is large next to the spread of
/// data far from the origin; this pass does not. Blocks are sized to keep the d-wide
/// difference within the chunk x k budget of the distance blocks.
double exactInertia(const Points& p, const torch::Tensor& centroids, const torch::Tensor& labels) {
  const int64_t rows = std::clamp<int64_t>(p.chunk * centroids.size(0) / p.x.size(1), 1, p.chunk);
  torch::Tensor total = torch::zeros({}, p.x.options().dtype(torch::kDouble));
  // One buffer for all blocks: a fresh allocation per block costs page faults each time.
  torch::Tensor buffer = torch::empty({rows, p.x.size(1)}, p.x.options());
  forEachBlock(p.n(), rows, [&](int64_t begin, int64_t end) {
    torch::Tensor diff = buffer.narrow(0, 0, end - begin);
    torch::index_select_out(diff, centroids, 0, labels.slice(0, begin, end));
    diff.sub_(p.x.slice(0, begin, end));  // c_a(i) - x_i: the sign does not matter once squared
    total += rowSqNorms(diff).sum(torch::kDouble);
  });
  return total.item<double>();
}

/// k-means++ (Arthur & Vassilvitskii 2007): first centroid uniform, each next one drawn
/// with probability proportional to its squared distance to the nearest chosen one.
torch::Tensor seedPlusPlus(const Points& p, int64_t k, std::mt19937_64& rng) {
  const int64_t n = p.n();
  auto pick = [n](double u) { return std::min<int64_t>(n - 1, static_cast<int64_t>(u * static_cast<double>(n))); };
  std::vector<int64_t> chosen{pick(uniform01(rng))};
  torch::Tensor min_d2 = sqDistTo(p, p.x[chosen[0]]);
  while (static_cast<int64_t>(chosen.size()) < k) {
    // Cumulative weights in float64 so that small distances late in a large pool still count.
    const torch::Tensor cum = min_d2.to(torch::kDouble).cumsum(0);
    const double total = cum[n - 1].item<double>();
    const double u = uniform01(rng);
    int64_t next;
    if (total > 0.0) {
      // First index whose cumulative weight exceeds the draw: zero-weight rows (already
      // chosen, or duplicates of a centroid) can never be picked.
      const auto target = torch::full({1}, u * total, cum.options());
      next = std::min<int64_t>(n - 1, torch::searchsorted(cum, target, false, true).item<int64_t>());
    } else {
      next = pick(u);  // every row coincides with a chosen centroid: any row will do
    }
    chosen.push_back(next);
    min_d2 = torch::minimum(min_d2, sqDistTo(p, p.x[next]));
  }
  const auto idx = torch::tensor(chosen, torch::TensorOptions().dtype(torch::kLong)).to(p.x.device());
  return p.x.index_select(0, idx);
}

/// Lloyd update: each centroid becomes the mean of its members. Sums are formed per chunk
/// in float32 and accumulated across chunks in float64. An empty cluster takes over the
/// row farthest from its own centroid (distinct rows for distinct empty clusters), which
/// then leaves its former cluster; a cluster still empty after that keeps its centroid.
torch::Tensor updateCentroids(const Points& p, const Assignment& a, const torch::Tensor& centroids) {
  const int64_t k = centroids.size(0);
  const int64_t d = p.x.size(1);
  torch::Tensor sums = torch::zeros({k, d}, p.x.options().dtype(torch::kDouble));
  torch::Tensor counts = torch::bincount(a.labels, {}, k).to(torch::kDouble);
  forEachBlock(p.n(), p.chunk, [&](int64_t begin, int64_t end) {
    torch::Tensor part = torch::zeros({k, d}, p.x.options());
    part.index_add_(0, a.labels.slice(0, begin, end), p.x.slice(0, begin, end));
    sums += part.to(torch::kDouble);
  });

  const torch::Tensor empty = (counts == 0).nonzero().flatten().cpu();
  const int64_t n_empty = std::min<int64_t>(empty.size(0), p.n());
  if (n_empty > 0) {
    const torch::Tensor farthest = std::get<1>(a.min_d2.topk(n_empty)).cpu();
    for (int64_t e = 0; e < n_empty; ++e) {
      const int64_t row = farthest[e].item<int64_t>();
      const int64_t from = a.labels[row].item<int64_t>();
      const int64_t to = empty[e].item<int64_t>();
      const torch::Tensor point = p.x[row].to(torch::kDouble);
      sums[from] -= point;
      counts[from] -= 1;
      sums[to] = point;
      counts[to] = 1;
    }
  }
  const torch::Tensor occupied = (counts > 0).unsqueeze(1);
  const torch::Tensor means = (sums / counts.clamp_min(1).unsqueeze(1)).to(torch::kFloat);
  return torch::where(occupied, means, centroids);
}

/// One k-means++ seeding followed by Lloyd iterations.
KMeansResult runOnce(const Points& p, int64_t k, const KMeansParams& params, std::mt19937_64& rng) {
  torch::Tensor centroids = seedPlusPlus(p, k, rng);
  Assignment current = assign(p, centroids);
  for (int iter = 0; iter < params.max_iter; ++iter) {
    centroids = updateCentroids(p, current, centroids);
    Assignment next = assign(p, centroids);
    const bool converged = current.inertia - next.inertia <= params.tol * current.inertia;
    current = std::move(next);
    if (converged) break;
  }
  KMeansResult r;
  r.centroids = centroids;
  r.assignments = current.labels;
  r.inertia = exactInertia(p, centroids, current.labels);
  return r;
}

void fillSizes(KMeansResult& r, int64_t k) {
  r.sizes = clusterSizes(r.assignments, k);
  r.dominant = largestCluster(r.sizes);
}

void checkInput(const torch::Tensor& x, const KMeansParams& p) {
  SHIFTAD_CHECK(x.defined() && x.dim() == 2, "kmeans: expected an n x d matrix, got {} dimensions",
                x.defined() ? x.dim() : 0);
  SHIFTAD_CHECK(x.size(0) > 0, "kmeans: empty input (0 rows)");
  SHIFTAD_CHECK(x.size(1) > 0, "kmeans: rows have 0 features");
  SHIFTAD_CHECK(x.is_floating_point(), "kmeans: expected floating-point features, got {}",
                c10::toString(x.scalar_type()));
  SHIFTAD_CHECK(p.k >= 1, "kmeans: k must be >= 1, got {}", p.k);
  SHIFTAD_CHECK(p.restarts >= 1, "kmeans: restarts must be >= 1, got {}", p.restarts);
  SHIFTAD_CHECK(p.max_iter >= 0, "kmeans: max_iter must be >= 0, got {}", p.max_iter);
  SHIFTAD_CHECK(p.tol >= 0.0, "kmeans: tol must be >= 0, got {}", p.tol);
  SHIFTAD_CHECK(p.chunk >= 1, "kmeans: chunk must be >= 1, got {}", p.chunk);
}

/// Any NaN or infinity in a row makes its squared norm non-finite: checking the n norms
/// avoids an n x d mask. (A float32 square overflows above ~1.8e19, rejected as well.)
void checkFinite(const torch::Tensor& sq_norms) {
  const torch::Tensor bad = (~torch::isfinite(sq_norms)).nonzero();
  SHIFTAD_CHECK(bad.size(0) == 0,
                "kmeans: row {} holds a NaN or infinite feature (or one too large, |x| > 1e19, to square in float32)",
                bad.size(0) ? bad[0][0].item<int64_t>() : -1);
}

}  // namespace

torch::Tensor pairwiseSqDist(const torch::Tensor& a, const torch::Tensor& b) {
  SHIFTAD_CHECK(a.dim() == 2 && b.dim() == 2, "pairwiseSqDist: expected two matrices, got {} and {} dimensions",
                a.dim(), b.dim());
  SHIFTAD_CHECK(a.size(1) == b.size(1), "pairwiseSqDist: {} features vs {}", a.size(1), b.size(1));
  return sqDistExpanded(a, rowSqNorms(a), b);
}

KMeansResult kmeans(const torch::Tensor& x, const KMeansParams& params) {
  checkInput(x, params);
  torch::NoGradGuard no_grad;
  Points p;
  p.x = x.detach().to(torch::kFloat).contiguous();
  p.sq_norms = rowSqNorms(p.x);
  checkFinite(p.sq_norms);
  p.chunk = std::min<int64_t>(params.chunk, x.size(0));  // also keeps chunk * k from overflowing
  const int64_t k = std::min<int64_t>(params.k, p.n());
  std::mt19937_64 rng(params.seed);  // one stream across restarts: each restart seeds differently
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int r = 0; r < params.restarts; ++r) {
    KMeansResult candidate = runOnce(p, k, params, rng);
    if (candidate.inertia < best.inertia) best = std::move(candidate);  // strict: earliest restart wins ties
  }
  fillSizes(best, k);
  return best;
}

torch::Tensor clusterMembers(const KMeansResult& result, int cluster) {
  const int64_t k = result.centroids.defined() ? result.centroids.size(0) : 0;
  SHIFTAD_CHECK(cluster >= 0 && cluster < k, "clusterMembers: cluster {} out of range [0, {})", cluster, k);
  return (result.assignments == cluster).nonzero().flatten();
}

}  // namespace shiftad::clustering
