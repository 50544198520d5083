// The label-free decision threshold: quantiles and the two-component mixture rule.
#include "method/DecisionThreshold.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/Error.h"

namespace shiftad::method {
namespace {

constexpr double kPi = 3.14159265358979323846;
/// Log values closer than this are one value to the mixture cut (mixtureCut).
constexpr double kRoundingSpread = 1e-6;

/// log N(x; mean, var), `log_2pi_var` = log(2 pi var) given: computed once per component,
/// not per value (std::log may set errno, so the compiler cannot hoist it out of a loop).
double logDensity(double x, double mean, double var, double log_2pi_var) {
  return -0.5 * (log_2pi_var + (x - mean) * (x - mean) / var);
}

double logDensity(double x, double mean, double var) { return logDensity(x, mean, var, std::log(2 * kPi * var)); }

double meanOf(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double varianceOf(const std::vector<double>& x) {
  const double mu = meanOf(x);
  double s = 0;
  for (double v : x) s += (v - mu) * (v - mu);
  return s / static_cast<double>(x.size());
}

/// log(exp(a) + exp(b)) without overflow.
double logSumExp(double a, double b) {
  const double top = std::max(a, b);
  return top + std::log(std::exp(a - top) + std::exp(b - top));
}

/// One EM step; returns the log-likelihood of the parameters it started from.
double emStep(const std::vector<double>& x, Mixture1d& m, double var_floor) {
  double n[2] = {0, 0}, sx[2] = {0, 0}, sxx[2] = {0, 0}, loglik = 0;
  // One exponential and one logarithm per value, the per-component logarithms taken once
  // (std::log may set errno, so the compiler cannot hoist them): a 44,000-row pool that is
  // one population runs all 5000 steps.
  const double log_w[2] = {std::log(m.weight[0]), std::log(m.weight[1])};
  const double log_2pi_var[2] = {std::log(2 * kPi * m.var[0]), std::log(2 * kPi * m.var[1])};
  for (double v : x) {
    const double l[2] = {log_w[0] + logDensity(v, m.mean[0], m.var[0], log_2pi_var[0]),
                         log_w[1] + logDensity(v, m.mean[1], m.var[1], log_2pi_var[1])};
    // With t the likelier component and e = exp(l_other - l_t) in (0, 1]: log(sum) =
    // l_t + log1p(e), r_t = 1 / (1 + e), r_other = e r_t.
    const int t = l[0] >= l[1] ? 0 : 1;
    const double e = std::exp(l[1 - t] - l[t]);
    loglik += l[t] + std::log1p(e);
    double r[2];
    r[t] = 1.0 / (1.0 + e);
    r[1 - t] = e * r[t];
    for (int k = 0; k < 2; ++k) n[k] += r[k], sx[k] += r[k] * v, sxx[k] += r[k] * v * v;
  }
  for (int k = 0; k < 2; ++k) {
    const double nk = std::max(n[k], 1e-12);
    m.weight[k] = nk / static_cast<double>(x.size());
    m.mean[k] = sx[k] / nk;
    m.var[k] = std::max(sxx[k] / nk - m.mean[k] * m.mean[k], var_floor);
  }
  return loglik;
}

double logScore(double s) { return std::log(std::max(s, 1e-30)); }

std::vector<double> logsOf(const std::vector<double>& scores) {
  std::vector<double> logs;
  for (double s : scores) logs.push_back(logScore(s));
  return logs;
}

/// mixtureBicGain of the mixture `m` fitted to `logs`.
double bicGain(const std::vector<double>& logs, const Mixture1d& m) {
  double two = 0;
  for (double v : logs)
    two += logSumExp(std::log(m.weight[0]) + logDensity(v, m.mean[0], m.var[0]),
                     std::log(m.weight[1]) + logDensity(v, m.mean[1], m.var[1]));
  // One Gaussian at its maximum likelihood: mean and (biased) variance of the data.
  const double n = static_cast<double>(logs.size());
  const double one = -0.5 * n * (std::log(2 * kPi * varianceOf(logs)) + 1);
  return 2 * (two - one) - 3 * std::log(n);
}

/// `x` as (x - mean) / sd, and the mean and sd that undo it. EM's variance step,
/// E[x^2] - mean^2, cancels to nothing on values whose spread is a tiny fraction of
/// their size (log scores near 26.5 spread by 1e-7: a component then emptied, its mean
/// fell to 0 and the threshold to the square root of every score); on standardized
/// values it cannot. EM is affine-equivariant, so the fit is the same otherwise.
struct Standardized {
  std::vector<double> z;
  double mean = 0.0, sd = 1.0;
};

Standardized standardized(const std::vector<double>& x) {
  SHIFTAD_CHECK(std::set<double>(x.begin(), x.end()).size() >= 2, "a two-component mixture needs 2 distinct values");
  Standardized s;
  s.mean = meanOf(x);
  s.sd = std::sqrt(varianceOf(x));
  for (double v : x) s.z.push_back((v - s.mean) / s.sd);
  return s;
}

/// fitMixture1d on standardized values (unit variance).
Mixture1d fitStandardized(const std::vector<double>& z) {
  Mixture1d m;
  m.mean[0] = quantile(z, 0.2);
  m.mean[1] = quantile(z, 0.8);
  if (m.mean[0] == m.mean[1]) {  // over 80 % of the values alike: equal starts would never part
    m.mean[0] = *std::min_element(z.begin(), z.end());
    m.mean[1] = *std::max_element(z.begin(), z.end());
  }
  m.var[0] = m.var[1] = 1.0;
  // The floor keeps a component from collapsing onto one repeated value.
  constexpr double kVarFloor = 1e-6;
  double previous = -INFINITY;
  for (int it = 0; it < 5000; ++it) {
    const double loglik = emStep(z, m, kVarFloor);
    if (std::abs(loglik - previous) <= 1e-13 * std::abs(loglik)) break;
    previous = loglik;
  }
  if (m.mean[0] > m.mean[1]) {
    std::swap(m.weight[0], m.weight[1]);
    std::swap(m.mean[0], m.mean[1]);
    std::swap(m.var[0], m.var[1]);
  }
  return m;
}

}  // namespace

double quantile(std::vector<double> values, double q) {
  SHIFTAD_CHECK(!values.empty(), "a quantile of no scores: the threshold needs at least one calibration image");
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

Mixture1d fitMixture1d(const std::vector<double>& x) {
  const auto s = standardized(x);
  auto m = fitStandardized(s.z);
  for (int k = 0; k < 2; ++k) m.mean[k] = s.mean + s.sd * m.mean[k], m.var[k] *= s.sd * s.sd;
  return m;
}

std::optional<double> equalDensityPoint(const Mixture1d& m, bool weighted) {
  // log w0 N(x; m0, v0) = log w1 N(x; m1, v1)  <=>  a x^2 + b x + c = 0 (w0 = w1 unweighted).
  const double v0 = m.var[0], v1 = m.var[1], m0 = m.mean[0], m1 = m.mean[1];
  const double a = 1 / v0 - 1 / v1;
  const double b = -2 * (m0 / v0 - m1 / v1);
  const double c =
      m0 * m0 / v0 - m1 * m1 / v1 + std::log(v0 / v1) - (weighted ? 2 * std::log(m.weight[0] / m.weight[1]) : 0.0);
  std::vector<double> roots;
  if (std::abs(a) < 1e-12 * (1 / v0 + 1 / v1)) {
    if (b != 0) roots.push_back(-c / b);
  } else if (const double d = b * b - 4 * a * c; d >= 0) {
    roots.push_back((-b + std::sqrt(d)) / (2 * a));
    roots.push_back((-b - std::sqrt(d)) / (2 * a));
  }
  for (double r : roots)
    if (r >= m0 && r <= m1) return r;
  return std::nullopt;
}

std::optional<double> mixtureCut(const std::vector<double>& scores, bool weighted, double* bic_gain) {
  const auto logs = logsOf(scores);
  if (logs.size() < 4) return std::nullopt;
  // Scores are float32: values within a millionth of each other (8 of its roundings) are
  // alike, whatever pattern their rounding draws.
  const auto [lo, hi] = std::minmax_element(logs.begin(), logs.end());
  if (*hi - *lo < kRoundingSpread) return std::nullopt;
  const auto s = standardized(logs);
  const auto m = fitStandardized(s.z);
  if (bic_gain) *bic_gain = bicGain(s.z, m);
  // A component holding less than half a row is no population: the values form one.
  const double n = static_cast<double>(logs.size());
  if (std::min(m.weight[0], m.weight[1]) * n < 0.5) return std::nullopt;
  const auto z = equalDensityPoint(m, weighted);
  if (!z || *z < *std::min_element(s.z.begin(), s.z.end()) || *z > *std::max_element(s.z.begin(), s.z.end()))
    return std::nullopt;
  return std::exp(s.mean + s.sd * *z);
}

double mixtureBicGain(const std::vector<double>& scores) {
  const auto s = standardized(logsOf(scores));
  return bicGain(s.z, fitStandardized(s.z));
}

namespace {

/// Whether a cut leaves at least two of `scores` on each side: one score alone is an
/// image, not a population (a 16-image pool whose highest score made a component by
/// itself set a threshold that passed 130 of 131 test anomalies).
bool populationsOnBothSides(const std::vector<double>& scores, double cut) {
  const auto above = std::count_if(scores.begin(), scores.end(), [&](double s) { return s > cut; });
  return above >= 2 && static_cast<std::ptrdiff_t>(scores.size()) - above >= 2;
}

}  // namespace

double decisionThreshold(const ThresholdConfig& cfg, const ThresholdInputs& in, bool* fell_back) {
  if (fell_back) *fell_back = false;
  if (cfg.rule == ThresholdRule::kSourceQuantile) return quantile(in.source, cfg.quantile);
  if (cfg.rule == ThresholdRule::kPoolQuantile) return quantile(in.pool, cfg.quantile);
  if (cfg.rule == ThresholdRule::kMixture) {
    if (const auto x = mixtureCut(in.pool); x && populationsOnBothSides(in.pool, *x)) return *x;
    if (fell_back) *fell_back = true;
  }
  return quantile(in.normals, cfg.quantile);
}

}  // namespace shiftad::method
