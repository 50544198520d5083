#include "evaluation/Metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

#include "common/Error.h"

namespace shiftad::evaluation {
namespace {

/// Cumulative counts at one threshold: the samples scoring >= that threshold.
struct ThresholdPoint {
  int64_t tp = 0;  ///< anomalous samples at or above the threshold
  int64_t fp = 0;  ///< normal samples at or above the threshold
};

/// The binary classification curve behind every metric here (sklearn's
/// _binary_clf_curve): one point per distinct score, in decreasing score order, so
/// tied scores always enter together. Also validates the inputs for `metric`.
struct ClfCurve {
  std::vector<ThresholdPoint> points;
  int64_t positives = 0;
  int64_t negatives = 0;
};

ClfCurve binaryClfCurve(const char* metric, const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  SHIFTAD_CHECK(scores.size() == is_anomaly.size(), "{}: {} scores but {} labels", metric, scores.size(),
                is_anomaly.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    // A NaN would break the strict weak ordering std::sort relies on.
    SHIFTAD_CHECK(std::isfinite(scores[i]), "{}: score {} is {} (scores must be finite)", metric, i, scores[i]);
    SHIFTAD_CHECK(is_anomaly[i] == 0 || is_anomaly[i] == 1, "{}: label {} is {} (labels must be 0 or 1)", metric, i,
                  is_anomaly[i]);
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });

  ClfCurve curve;
  ThresholdPoint running;
  for (size_t r = 0; r < order.size(); ++r) {
    (is_anomaly[order[r]] == 1 ? running.tp : running.fp) += 1;
    const bool last_of_tie_group = r + 1 == order.size() || scores[order[r + 1]] != scores[order[r]];
    if (last_of_tie_group) curve.points.push_back(running);
  }
  curve.positives = running.tp;
  curve.negatives = running.fp;
  return curve;
}

void requireBothClasses(const char* metric, const ClfCurve& curve) {
  SHIFTAD_CHECK(curve.positives > 0 && curve.negatives > 0,
                "{} needs both normal and anomalous samples; got {} anomalous of {}", metric, curve.positives,
                curve.positives + curve.negatives);
}

}  // namespace

double auroc(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  const ClfCurve curve = binaryClfCurve("auroc", scores, is_anomaly);
  requireBothClasses("auroc", curve);
  // Mann-Whitney U with mid-ranks, counted per tie group: every normal sample of a group
  // is beaten by the anomalies of earlier (higher) groups and ties with half of its own.
  // Kept in integers (twice U) so the only rounding is the final division.
  int64_t twice_u = 0;
  ThresholdPoint prev;
  for (const ThresholdPoint& p : curve.points) {
    const int64_t group_tp = p.tp - prev.tp;
    const int64_t group_fp = p.fp - prev.fp;
    twice_u += group_fp * (2 * prev.tp + group_tp);
    prev = p;
  }
  return static_cast<double>(twice_u) /
         (2.0 * static_cast<double>(curve.positives) * static_cast<double>(curve.negatives));
}

namespace {

/// For each of `values`, the share of `sorted_others` below it, ties counting one half
/// (`above`: the share above it instead).
std::vector<double> sharesBeaten(const std::vector<double>& values, const std::vector<double>& sorted_others,
                                 bool above) {
  std::vector<double> out;
  out.reserve(values.size());
  const double n = static_cast<double>(sorted_others.size());
  for (double v : values) {
    const auto lo = std::lower_bound(sorted_others.begin(), sorted_others.end(), v);
    const auto hi = std::upper_bound(lo, sorted_others.end(), v);
    const double below = static_cast<double>(lo - sorted_others.begin());
    const double equal = static_cast<double>(hi - lo);
    const double beaten = above ? n - below - equal : below;
    out.push_back((beaten + 0.5 * equal) / n);
  }
  return out;
}

/// Sample variance (ddof 1), two passes.
double sampleVariance(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double sq = 0.0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return sq / static_cast<double>(v.size() - 1);
}

}  // namespace

double aurocStandardError(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  const ClfCurve curve = binaryClfCurve("aurocStandardError", scores, is_anomaly);
  requireBothClasses("aurocStandardError", curve);
  if (curve.positives < 2 || curve.negatives < 2) return std::nan("");
  std::vector<double> anomalous, normal;
  for (size_t i = 0; i < scores.size(); ++i) (is_anomaly[i] ? anomalous : normal).push_back(scores[i]);
  std::sort(anomalous.begin(), anomalous.end());
  std::sort(normal.begin(), normal.end());
  // The structural components: each anomaly's share of normals below it, each normal's
  // share of anomalies above it (their means are both the AUROC).
  const auto per_anomaly = sharesBeaten(anomalous, normal, /*above=*/false);
  const auto per_normal = sharesBeaten(normal, anomalous, /*above=*/true);
  return std::sqrt(sampleVariance(per_anomaly) / static_cast<double>(anomalous.size()) +
                   sampleVariance(per_normal) / static_cast<double>(normal.size()));
}

double aupr(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  const ClfCurve curve = binaryClfCurve("aupr", scores, is_anomaly);
  // Precision and recall are defined without normal samples (AP = 1), not without anomalies.
  SHIFTAD_CHECK(curve.positives > 0, "aupr needs anomalous samples; got 0 anomalous of {}", curve.negatives);
  // Σ Δtp · precision, divided by the positives once at the end: each term is at most its
  // Δtp (an integer), so the rounded sum is at most their exact sum, the positives, and
  // AP at most 1. Summing Δtp / positives instead gave 1.0000000000000002 for a perfect
  // ranking of 9 anomalies (results.csv held aupr 1.0000000000000013).
  double weighted = 0.0;
  int64_t prev_tp = 0;
  for (const ThresholdPoint& p : curve.points) {
    const double precision = static_cast<double>(p.tp) / static_cast<double>(p.tp + p.fp);
    weighted += static_cast<double>(p.tp - prev_tp) * precision;
    prev_tp = p.tp;
  }
  return weighted / static_cast<double>(curve.positives);
}

RocCurve rocCurve(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  const ClfCurve curve = binaryClfCurve("rocCurve", scores, is_anomaly);
  requireBothClasses("rocCurve", curve);
  RocCurve roc;
  roc.fpr.reserve(curve.points.size() + 1);
  roc.tpr.reserve(curve.points.size() + 1);
  roc.fpr.push_back(0.0);  // threshold +inf: nothing flagged
  roc.tpr.push_back(0.0);
  for (const ThresholdPoint& p : curve.points) {
    roc.fpr.push_back(static_cast<double>(p.fp) / static_cast<double>(curve.negatives));
    roc.tpr.push_back(static_cast<double>(p.tp) / static_cast<double>(curve.positives));
  }
  return roc;
}

RocCurve meanRoc(const std::vector<RocCurve>& curves, int points) {
  SHIFTAD_CHECK(points >= 2, "meanRoc: points must be >= 2, got {}", points);
  RocCurve mean;
  for (int k = 0; k < points; ++k) {
    const double fpr = static_cast<double>(k) / (points - 1);
    double sum = 0.0;
    for (const auto& c : curves) {
      double tpr = 0.0;  // points are in increasing fpr and tpr: the last one at or below fpr
      for (size_t i = 0; i < c.fpr.size() && c.fpr[i] <= fpr + 1e-12; ++i) tpr = c.tpr[i];
      sum += tpr;
    }
    mean.fpr.push_back(fpr);
    mean.tpr.push_back(curves.empty() ? 0.0 : sum / static_cast<double>(curves.size()));
  }
  return mean;
}

MeanStd meanStd(const std::vector<double>& values) {
  SHIFTAD_CHECK(!values.empty(), "meanStd: no values");
  const double n = static_cast<double>(values.size());
  MeanStd out;
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  // Two passes: summing squared deviations avoids the cancellation of E[x^2] - E[x]^2.
  double sq = 0.0;
  for (double v : values) sq += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(sq / n);
  return out;
}

}  // namespace shiftad::evaluation
