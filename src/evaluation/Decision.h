// Metrics of a decision: an image is called anomalous when its score is above a
// threshold. Torch-free: plain vectors in, doubles out.
#pragma once

#include <cstdint>
#include <vector>

namespace shiftad::evaluation {

/// Counts and rates at one threshold, anomalies as the positive class. A rate whose
/// denominator is zero is 0 (sklearn's zero_division=0).
struct DecisionMetrics {
  int64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
  double precision = 0.0;  ///< TP / (TP + FP)
  double recall = 0.0;     ///< TP / (TP + FN)
  double f1 = 0.0;         ///< 2 P R / (P + R)
  double fpr = 0.0;        ///< FP / (FP + TN): the share of normals called anomalous
};

/// Whether a decision called any image anomalous, from its rates alone (results.csv keeps
/// no counts): with recall and FPR both 0 nothing was above the threshold, and its
/// precision is 0/0, undefined, though stored as 0.
inline bool calledAnyAnomalous(double recall, double fpr) { return recall > 0 || fpr > 0; }

/// The metrics of calling `score > threshold` anomalous. `is_anomaly`: 1 anomalous,
/// 0 normal. Throws shiftad::Error if the sizes differ.
DecisionMetrics atThreshold(const std::vector<double>& scores, const std::vector<int>& is_anomaly, double threshold);

/// The best F1 any threshold reaches, chosen with the labels (sklearn's
/// precision_recall_curve, max of 2PR/(P+R)): an upper bound for a threshold set
/// without labels. 0 when there is no anomaly.
double f1Max(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

}  // namespace shiftad::evaluation
