// Threshold-free detection metrics. Torch-free: plain vectors in, doubles out.
#pragma once

#include <cstdint>
#include <vector>

namespace shiftad::evaluation {

/// Area under the ROC curve. `scores`: higher = more anomalous; `is_anomaly`: 1 for the
/// positive (anomalous) class, 0 for normal. Exact Mann-Whitney statistic: tied scores
/// between a positive and a negative count one half. Throws shiftad::Error if the sizes
/// differ or either class is empty.
double auroc(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// DeLong's standard error of auroc() (DeLong, DeLong & Clarke-Pearson 1988): the
/// square root of S_a / m + S_n / n, where S_a is the sample variance (ddof 1) over the m
/// anomalies of the share of normals each outscores (ties one half), and S_n the same over
/// the n normals of the share of anomalies outscoring each. How far the AUROC of another
/// test sample of the same sizes would typically lie. NaN when either class has fewer
/// than two samples (no variance to estimate). Validates as auroc() does.
double aurocStandardError(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// Area under the precision-recall curve as average precision (sklearn's
/// average_precision_score: sum over thresholds of (R_n - R_{n-1}) * P_n, ties grouped).
double aupr(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// ROC curve points (fpr, tpr), one per distinct threshold, starting at (0,0), ending at (1,1).
struct RocCurve {
  std::vector<double> fpr;
  std::vector<double> tpr;
};
RocCurve rocCurve(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// Vertical average of ROC curves: the mean over curves of the TPR reached at each of
/// `points` evenly spaced FPR values in [0, 1] (the curve's best TPR at or below that
/// FPR, as a step function). Returned as a curve on that grid.
RocCurve meanRoc(const std::vector<RocCurve>& curves, int points = 101);

/// Mean and (population, ddof=0) standard deviation.
struct MeanStd {
  double mean = 0.0;
  double std = 0.0;
};
MeanStd meanStd(const std::vector<double>& values);

}  // namespace shiftad::evaluation
