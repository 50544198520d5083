#include "clustering/Gmm.h"

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <torch/torch.h>

#include "clustering/Blocks.h"
#include "clustering/KMeans.h"
#include "clustering/Partition.h"
#include "common/Error.h"
#include "common/Progress.h"

namespace shiftad::clustering {
namespace {

using detail::forEachBlock;

/// The input as every pass reads it: rows stay in their own dtype (a float64 copy of
/// 100k x 2048 features would take 1.6 GB) and are converted block by block, centred on
/// the column mean. The likelihood does not depend on a translation, and centring keeps
/// the expanded quadratic forms of the E-step and the variances of the M-step from
/// cancelling large squared norms.
///
/// Blocks are written into buffers allocated once: a fresh block-sized allocation per
/// block and operation costs page faults each time, which made EM several times slower.
/// Hence one block at a time: a view returned by block() is valid until the next call.
struct Data {
  torch::Tensor x;                       ///< n x d, floating point, contiguous
  torch::Tensor center;                  ///< d, float64
  int64_t chunk = 1;                     ///< rows per block (at least 1)
  std::array<torch::Tensor, 3> buffers;  ///< chunk x d float64: the block, then two scratch blocks
  int64_t n() const { return x.size(0); }
  int64_t d() const { return x.size(1); }

  /// Rows [begin, end) in float64, centred (in buffers[0]).
  torch::Tensor block(int64_t begin, int64_t end) const {
    torch::Tensor b = buffers[0].narrow(0, 0, end - begin);
    b.copy_(x.slice(0, begin, end));
    return b.sub_(center);
  }
  /// The first `rows` rows of scratch block 1 or 2.
  torch::Tensor scratch(int which, int64_t rows) const { return buffers.at(which).narrow(0, 0, rows); }
};

/// Mixture parameters in centred coordinates, with the Cholesky factors of the precisions
/// that the E-step uses (sklearn's precisions_cholesky_).
struct Model {
  torch::Tensor weights;      ///< k
  torch::Tensor means;        ///< k x d
  torch::Tensor covariances;  ///< k x d or k x d x d
  torch::Tensor prec_chol;    ///< k x d: 1/sqrt(variance); or k x d x d, P with P P^T = precision
};

struct EStep {
  torch::Tensor log_resp;  ///< n x k
  double mean_log_likelihood = 0.0;
};

void checkInput(const torch::Tensor& x) {
  SHIFTAD_CHECK(x.defined() && x.dim() == 2, "gmm: expected an n x d matrix, got {} dimensions",
                x.defined() ? x.dim() : 0);
  SHIFTAD_CHECK(x.size(0) > 0, "gmm: empty input (0 rows)");
  SHIFTAD_CHECK(x.size(1) > 0, "gmm: rows have 0 features");
  SHIFTAD_CHECK(x.is_floating_point(), "gmm: expected floating-point features, got {}", c10::toString(x.scalar_type()));
}

void checkParams(const GmmParams& p) {
  SHIFTAD_CHECK(p.covariance == Covariance::kDiag || p.covariance == Covariance::kFull,
                "gmm: covariance must be diag or full, got the value {}", static_cast<int>(p.covariance));
  SHIFTAD_CHECK(p.k >= 1, "gmm: k must be >= 1, got {}", p.k);
  SHIFTAD_CHECK(p.max_iter >= 0, "gmm: max_iter must be >= 0, got {}", p.max_iter);
  SHIFTAD_CHECK(p.tol >= 0.0, "gmm: tol must be >= 0, got {}", p.tol);
  SHIFTAD_CHECK(p.reg_covar >= 0.0, "gmm: reg_covar must be >= 0, got {}", p.reg_covar);
  SHIFTAD_CHECK(p.restarts >= 1, "gmm: restarts must be >= 1, got {}", p.restarts);
  SHIFTAD_CHECK(p.chunk >= 1, "gmm: chunk must be >= 1, got {}", p.chunk);
}

/// Checks every row for NaN/infinity and forms the column mean, in one pass.
Data prepare(const torch::Tensor& x, int64_t chunk) {
  Data data;
  data.x = x.detach().contiguous();
  // Small blocks (512 KB by default) stay in cache; 20000 x 512 ran fastest with 64K-entry blocks.
  data.chunk = detail::rowsWithin(chunk, x.size(1), x.size(0));
  for (torch::Tensor& b : data.buffers) b = torch::empty({data.chunk, data.d()}, x.options().dtype(torch::kDouble));
  torch::Tensor sum = torch::zeros({x.size(1)}, x.options().dtype(torch::kDouble));
  data.center = torch::zeros({x.size(1)}, x.options().dtype(torch::kDouble));
  forEachBlock(data.n(), data.chunk, [&](int64_t begin, int64_t end) {
    const torch::Tensor b = data.block(begin, end);  // not yet centred: center is 0
    const torch::Tensor bad = (~torch::isfinite(b).all(1)).nonzero();
    SHIFTAD_CHECK(bad.size(0) == 0, "gmm: row {} holds a NaN or infinite feature", begin + bad[0][0].item<int64_t>());
    sum += b.sum(0);
  });
  data.center = sum / static_cast<double>(data.n());
  return data;
}

constexpr const char* kIllDefined =
    "some components have an ill-defined covariance (collapsed or singleton points); increase reg_covar or "
    "decrease k";

/// Cholesky factors of the precisions from covariances (sklearn's _compute_precision_cholesky):
/// diag 1/sqrt(variance); full P = L^-T for the lower Cholesky factor L of the covariance.
torch::Tensor precisionCholesky(const torch::Tensor& covariances, Covariance type) {
  if (type == Covariance::kDiag) {
    SHIFTAD_CHECK((covariances > 0).all().item<bool>(), "gmm: {}", kIllDefined);
    return covariances.rsqrt();
  }
  auto [chol, info] = torch::linalg_cholesky_ex(covariances);
  SHIFTAD_CHECK((info == 0).all().item<bool>(), "gmm: {}", kIllDefined);
  const torch::Tensor eye = torch::eye(covariances.size(1), covariances.options()).expand_as(covariances);
  return torch::linalg_solve_triangular(chol, eye, /*upper=*/false).transpose(1, 2);
}

/// A block of centred rows, with their squares when the diagonal model needs them
/// (E-step and M-step share them: one conversion and one square per block and pass).
struct Block {
  torch::Tensor x;   ///< c x d, float64
  torch::Tensor x2;  ///< x^2 ("diag" only)
};

Block makeBlock(const Data& data, int64_t begin, int64_t end, Covariance type) {
  Block b{data.block(begin, end), {}};
  if (type == Covariance::kDiag) {
    b.x2 = data.scratch(1, end - begin);
    torch::mul_out(b.x2, b.x, b.x);
  }
  return b;
}

/// log(weight_k) + log N(x | mean_k, covariance_k) for the rows of a block (c x k): the
/// expanded quadratic form of sklearn's _estimate_log_gaussian_prob, as GEMMs.
torch::Tensor weightedLogProb(const Data& data, const Block& b, const Model& m, Covariance type) {
  const int64_t d = b.x.size(1);
  torch::Tensor quad;
  torch::Tensor log_det;
  if (type == Covariance::kDiag) {
    const torch::Tensor prec = m.prec_chol.square();
    quad = torch::addmm((m.means.square() * prec).sum(1).unsqueeze(0), b.x2, prec.t());
    quad.addmm_(b.x, (m.means * prec).t(), /*beta=*/1, /*alpha=*/-2);
    log_det = m.prec_chol.log().sum(1);
  } else {
    // One component at a time: a c x k x d product would not fit for large blocks.
    quad = torch::empty({b.x.size(0), m.means.size(0)}, b.x.options());
    torch::Tensor y = data.scratch(2, b.x.size(0));
    for (int64_t j = 0; j < m.means.size(0); ++j) {
      torch::mm_out(y, b.x, m.prec_chol[j]);
      y.sub_(m.means[j].matmul(m.prec_chol[j])).square_();
      quad.select(1, j).copy_(y.sum(1));
    }
    log_det = m.prec_chol.diagonal(0, 1, 2).log().sum(1);
  }
  return -0.5 * (static_cast<double>(d) * std::log(2.0 * std::acos(-1.0)) + quad) + log_det + m.weights.log();
}

/// Sums over the data that the M-step needs, weighted by the responsibilities.
struct Stats {
  torch::Tensor nk;      ///< k: sum of responsibilities
  torch::Tensor sum_x;   ///< k x d
  torch::Tensor sum_x2;  ///< k x d ("diag" only)

  Stats(int64_t k, int64_t d, Covariance type) {
    const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
    nk = torch::zeros({k}, f64);
    sum_x = torch::zeros({k, d}, f64);
    if (type == Covariance::kDiag) sum_x2 = torch::zeros({k, d}, f64);
  }

  void add(const Block& b, const torch::Tensor& resp) {
    nk += resp.sum(0);
    sum_x.addmm_(resp.t(), b.x);
    if (sum_x2.defined()) sum_x2.addmm_(resp.t(), b.x2);
  }
};

/// Log-responsibilities and the mean log-likelihood per sample (log-sum-exp over
/// components); with `stats`, also the sums of the M-step that follows, in the same pass.
EStep eStep(const Data& data, const Model& m, Covariance type, Stats* stats = nullptr) {
  EStep e;
  e.log_resp = torch::empty({data.n(), m.weights.size(0)}, data.center.options());
  double total = 0.0;
  forEachBlock(data.n(), data.chunk, [&](int64_t begin, int64_t end) {
    const Block b = makeBlock(data, begin, end, type);
    const torch::Tensor lp = weightedLogProb(data, b, m, type);
    const torch::Tensor norm = torch::logsumexp(lp, 1, /*keepdim=*/true);
    const torch::Tensor log_resp = lp - norm;
    e.log_resp.slice(0, begin, end).copy_(log_resp);
    total += norm.sum().item<double>();
    if (stats) stats->add(b, log_resp.exp());
  });
  e.mean_log_likelihood = total / static_cast<double>(data.n());
  return e;
}

/// sklearn's _estimate_gaussian_parameters: weights, means, covariances with reg_covar on
/// the diagonal, then the precision factors. `resp(begin, end)` gives the responsibilities
/// of a block, needed again for full covariances (a second pass, once the means are known).
template <typename Resp>
Model mStep(const Data& data, const Stats& s, Resp&& resp, Covariance type, double reg_covar) {
  const int64_t k = s.nk.size(0);
  const int64_t d = data.d();
  // 10 eps per component, as sklearn: an empty component gets a finite mean, not 0/0.
  const torch::Tensor nk = s.nk + 10.0 * std::numeric_limits<double>::epsilon();
  Model m;
  m.weights = nk / nk.sum();
  m.means = s.sum_x / nk.unsqueeze(1);
  if (type == Covariance::kDiag) {
    // E[x^2] - mean^2 on centred data; rounding can leave a tiny negative for a
    // collapsed component, which is a zero variance.
    m.covariances = (s.sum_x2 / nk.unsqueeze(1) - m.means.square()).clamp_min_(0) + reg_covar;
  } else {
    // Differences from the means themselves (as sklearn): no cancellation at all.
    m.covariances = torch::zeros({k, d, d}, nk.options());
    forEachBlock(data.n(), data.chunk, [&](int64_t begin, int64_t end) {
      const torch::Tensor xb = data.block(begin, end);
      const torch::Tensor r = resp(begin, end);
      torch::Tensor diff = data.scratch(1, end - begin);
      torch::Tensor weighted = data.scratch(2, end - begin);
      for (int64_t j = 0; j < k; ++j) {
        torch::sub_out(diff, xb, m.means[j]);
        torch::mul_out(weighted, diff, r.select(1, j).unsqueeze(1));
        m.covariances[j].addmm_(weighted.t(), diff);
      }
    });
    m.covariances /= nk.view({k, 1, 1});
    m.covariances.diagonal(0, 1, 2).add_(reg_covar);
  }
  m.prec_chol = precisionCholesky(m.covariances, type);
  return m;
}

/// The M-step for explicit responsibilities (n x k), e.g. one-hot from K-means.
Model mStep(const Data& data, const torch::Tensor& resp, Covariance type, double reg_covar) {
  Stats s(resp.size(1), data.d(), type);
  forEachBlock(data.n(), data.chunk, [&](int64_t begin, int64_t end) {
    s.add(makeBlock(data, begin, end, type), resp.slice(0, begin, end));
  });
  return mStep(
      data, s, [&](int64_t begin, int64_t end) { return resp.slice(0, begin, end); }, type, reg_covar);
}

struct Fit {
  Model model;
  EStep final_e;
  bool converged = false;
  int iterations = 0;
};

/// EM as sklearn's fit_predict: E-step, M-step, stop when the log-likelihood of the
/// E-step moved by less than tol; then a final E-step under the returned parameters.
Fit runEm(const Data& data, Model m, Covariance type, const GmmParams& params, Progress* progress = nullptr) {
  Fit fit;
  double lower_bound = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= params.max_iter; ++it) {
    const double previous = lower_bound;
    Stats stats(m.weights.size(0), data.d(), type);
    const EStep e = eStep(data, m, type, &stats);
    m = mStep(
        data, stats, [&](int64_t begin, int64_t end) { return e.log_resp.slice(0, begin, end).exp(); }, type,
        params.reg_covar);
    lower_bound = e.mean_log_likelihood;
    fit.iterations = it;
    if (progress) progress->advance();
    if (std::abs(lower_bound - previous) < params.tol) {
      fit.converged = true;
      if (progress) progress->advance(params.max_iter - it);  // a restart's share of the total is done
      break;
    }
  }
  fit.final_e = eStep(data, m, type);
  fit.model = std::move(m);
  return fit;
}

GmmResult toResult(const Data& data, Fit fit) {
  GmmResult r;
  const int64_t k = fit.model.weights.size(0);
  r.weights = fit.model.weights;
  r.means = fit.model.means + data.center;
  r.covariances = fit.model.covariances;
  r.assignments = fit.final_e.log_resp.argmax(1);
  r.sizes = clusterSizes(r.assignments, k);
  r.dominant = largestCluster(r.sizes);
  r.mean_log_likelihood = fit.final_e.mean_log_likelihood;
  r.converged = fit.converged;
  r.iterations = fit.iterations;
  return r;
}

/// sklearn's init_params="kmeans": one-hot responsibilities from a K-means partition,
/// then an M-step.
Model kmeansInit(const Data& data, int64_t k, uint64_t seed, Covariance type, double reg_covar) {
  KMeansParams kp;
  kp.k = static_cast<int>(k);
  kp.restarts = 1;  // as sklearn (n_init=1); GMM restarts draw fresh seedings
  kp.seed = seed;
  const KMeansResult km = kmeans(data.x, kp);
  return mStep(data, torch::one_hot(km.assignments, k).to(torch::kDouble), type, reg_covar);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? " x " : "") + std::to_string(shape[i]);
  return text;
}

/// Shape k x d or k x d x d of a per-component covariance or precision.
void checkPerComponent(const torch::Tensor& t, const char* name, Covariance type, int64_t k, int64_t d) {
  const bool diag = type == Covariance::kDiag;
  const std::vector<int64_t> expected = diag ? std::vector<int64_t>{k, d} : std::vector<int64_t>{k, d, d};
  SHIFTAD_CHECK(t.defined() && t.sizes().vec() == expected, "gmmFrom: {} must be {} for covariance \"{}\", got {}",
                name, shapeText(expected), diag ? "diag" : "full",
                t.defined() ? shapeText(t.sizes().vec()) : std::string("undefined"));
}

/// The user's initial parameters in internal form (sklearn's _initialize with weights_init,
/// means_init and precisions_init: precision factors from a Cholesky of the precisions).
Model modelFromInit(const Data& data, const GmmInit& init, Covariance type) {
  SHIFTAD_CHECK(init.means.defined() && init.means.dim() == 2 && init.means.size(0) >= 1,
                "gmmFrom: means must be a k x d matrix with k >= 1");
  const int64_t k = init.means.size(0);
  SHIFTAD_CHECK(init.means.size(1) == data.d(), "gmmFrom: means have {} features, the data {}", init.means.size(1),
                data.d());
  SHIFTAD_CHECK(init.weights.defined() && init.weights.dim() == 1 && init.weights.size(0) == k,
                "gmmFrom: weights must hold k = {} entries", k);
  SHIFTAD_CHECK((init.weights > 0).all().item<bool>(), "gmmFrom: weights must be positive");
  SHIFTAD_CHECK(init.precisions.defined() != init.covariances.defined(),
                "gmmFrom: give exactly one of precisions and covariances");
  Model m;
  m.weights = init.weights.to(torch::kDouble);
  SHIFTAD_CHECK(std::abs(m.weights.sum().item<double>() - 1.0) < 1e-6, "gmmFrom: weights sum to {}, not 1",
                m.weights.sum().item<double>());
  m.means = init.means.to(torch::kDouble) - data.center;
  if (init.covariances.defined()) {
    checkPerComponent(init.covariances, "covariances", type, k, data.d());
    m.covariances = init.covariances.to(torch::kDouble);
    m.prec_chol = precisionCholesky(m.covariances, type);
    return m;
  }
  checkPerComponent(init.precisions, "precisions", type, k, data.d());
  const torch::Tensor prec = init.precisions.to(torch::kDouble);
  if (type == Covariance::kDiag) {
    SHIFTAD_CHECK((prec > 0).all().item<bool>(), "gmmFrom: precisions must be positive");
    m.prec_chol = prec.sqrt();
    m.covariances = prec.reciprocal();
  } else {
    auto [chol, info] = torch::linalg_cholesky_ex(prec);
    SHIFTAD_CHECK((info == 0).all().item<bool>(), "gmmFrom: precisions must be symmetric positive definite");
    m.prec_chol = chol;
    m.covariances = torch::linalg_inv(prec);
  }
  return m;
}

}  // namespace

GmmResult gmm(const torch::Tensor& x, const GmmParams& params) { return gmm(x, params, defaultProgressOptions()); }

GmmResult gmm(const torch::Tensor& x, const GmmParams& params, const ProgressOptions& progress_options) {
  checkInput(x);
  checkParams(params);
  torch::NoGradGuard no_grad;
  const Covariance type = params.covariance;
  const Data data = prepare(x, params.chunk);
  const int64_t k = std::min<int64_t>(params.k, data.n());
  std::mt19937_64 rng(params.seed);  // one stream: each restart seeds K-means differently
  // EM iterations over every restart (each counts max_iter, done once it converges): a
  // full-covariance fit of a large pool in high dimension runs for minutes (O(n k d^2)
  // per iteration). Quick fits print nothing.
  Progress progress(fmt::format("gaussian mixture ({} x {}, k = {}, {}; EM iterations of {} restarts)", data.n(),
                                data.d(), k, type == Covariance::kFull ? "full" : "diag", params.restarts),
                    int64_t{params.restarts} * params.max_iter, progress_options);
  Fit best;
  for (int r = 0; r < params.restarts; ++r) {
    Fit candidate = runEm(data, kmeansInit(data, k, rng(), type, params.reg_covar), type, params, &progress);
    // Strict: the earliest restart wins ties.
    if (r == 0 || candidate.final_e.mean_log_likelihood > best.final_e.mean_log_likelihood) best = std::move(candidate);
  }
  return toResult(data, std::move(best));
}

GmmResult gmmFrom(const torch::Tensor& x, const GmmInit& init, const GmmParams& params) {
  checkInput(x);
  checkParams(params);
  torch::NoGradGuard no_grad;
  const Covariance type = params.covariance;
  const Data data = prepare(x, params.chunk);
  return toResult(data, runEm(data, modelFromInit(data, init, type), type, params));
}

}  // namespace shiftad::clustering
