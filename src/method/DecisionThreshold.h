// The decision threshold a run sets at the end of fit from what training has without
// target labels: the scores of the source normals, of the unlabeled pool and of the
// pool's dominant set (docs/method.md, "The decision threshold"). Torch-free.
#pragma once

#include <optional>
#include <vector>

#include "shiftad/Config.h"

namespace shiftad::method {

/// The q-quantile of `values` with linear interpolation between order statistics
/// (numpy.quantile's default). Throws shiftad::Error when `values` is empty.
double quantile(std::vector<double> values, double q);

/// A two-component Gaussian mixture on the line; component 0 has the lower mean.
struct Mixture1d {
  double weight[2] = {0.5, 0.5};
  double mean[2] = {0.0, 0.0};
  double var[2] = {1.0, 1.0};
};

/// Maximum-likelihood fit by EM, started deterministically (means at the 20th and
/// 80th percentile, both variances the data's), to convergence, on the values
/// standardized (so that values spread by a tiny fraction of their size fit as well).
/// Needs 2 distinct values.
Mixture1d fitMixture1d(const std::vector<double>& x);

/// The point between the two means where the component densities (without their
/// weights, so free of the mixing share) are equal; nullopt when there is none. With
/// `weighted`, where the weighted densities are: the boundary of the mixture's own
/// (maximum a posteriori) assignment.
std::optional<double> equalDensityPoint(const Mixture1d& m, bool weighted = false);

/// Where a set of scores (mostly normal, some anomalous) splits: the equal-density
/// point (`weighted`: of the weighted densities) of a two-component mixture on their
/// logarithms, back on the score scale; nullopt when they do not form two components
/// (fewer than 4 values, all within a millionth of each other (float32 rounding), a component of less than half a value's
/// weight, or no such point between the means and within the values' range; a block of
/// identical values is a component). `bic_gain`: where given, set to the same fit's
/// mixtureBicGain (left alone when there are fewer than 4 values, or all alike).
std::optional<double> mixtureCut(const std::vector<double>& scores, bool weighted = false, double* bic_gain = nullptr);

/// The BIC gain of a two-component mixture over one Gaussian on the logarithms of
/// positive `scores`: 2 (log L2 - log L1) - 3 ln n (the mixture's 3 extra parameters).
/// Positive: the data support two components. Needs 2 distinct values.
double mixtureBicGain(const std::vector<double>& scores);

/// Scores a run's threshold is set from. `normals`: the calibration normals, the
/// scores of the final dominant set (the whole pool for runs without one).
struct ThresholdInputs {
  std::vector<double> source;
  std::vector<double> pool;
  std::vector<double> normals;
};

/// The threshold of `cfg.rule` (anomalous: score > threshold). The mixture rule falls
/// back to normal_quantile when the pool's log scores do not form two components
/// (mixtureCut finds no cut, or its cut leaves fewer than two scores on a side);
/// `fell_back` says so.
double decisionThreshold(const ThresholdConfig& cfg, const ThresholdInputs& in, bool* fell_back = nullptr);

}  // namespace shiftad::method
