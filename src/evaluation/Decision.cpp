// Precision, recall, F1 and FPR at a threshold, and the best F1 over thresholds.
#include "evaluation/Decision.h"

#include <algorithm>
#include <numeric>

#include "common/Error.h"

namespace shiftad::evaluation {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

double f1Of(double precision, double recall) { return ratio(2 * precision * recall, precision + recall); }

void checkSizes(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  SHIFTAD_CHECK(scores.size() == is_anomaly.size(), "decision metrics: {} scores but {} labels", scores.size(),
                is_anomaly.size());
}

}  // namespace

DecisionMetrics atThreshold(const std::vector<double>& scores, const std::vector<int>& is_anomaly, double threshold) {
  checkSizes(scores, is_anomaly);
  DecisionMetrics m;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool called = scores[i] > threshold;
    if (is_anomaly[i])
      ++(called ? m.true_positives : m.false_negatives);
    else
      ++(called ? m.false_positives : m.true_negatives);
  }
  const auto tp = static_cast<double>(m.true_positives);
  m.precision = ratio(tp, tp + static_cast<double>(m.false_positives));
  m.recall = ratio(tp, tp + static_cast<double>(m.false_negatives));
  m.f1 = f1Of(m.precision, m.recall);
  m.fpr = ratio(static_cast<double>(m.false_positives), static_cast<double>(m.false_positives + m.true_negatives));
  return m;
}

double f1Max(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  checkSizes(scores, is_anomaly);
  const double positives = static_cast<double>(std::count(is_anomaly.begin(), is_anomaly.end(), 1));
  if (positives == 0) return 0.0;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  // Walk thresholds from the highest score down; tied scores are called together.
  double best = 0.0, tp = 0.0, called = 0.0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += is_anomaly[order[i]] ? 1.0 : 0.0;
    called += 1.0;
    if (i + 1 < order.size() && scores[order[i + 1]] == scores[order[i]]) continue;
    best = std::max(best, f1Of(tp / called, tp / positives));
  }
  return best;
}

}  // namespace shiftad::evaluation
