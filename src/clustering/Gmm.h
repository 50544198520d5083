// Gaussian mixture fitted by EM, initialised from K-means (sklearn's GaussianMixture with
// init_params="kmeans"), for dominant-cluster identification with soft, elliptic
// clusters. Computed in float64, in row blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "common/Progress.h"
#include "shiftad/ClusteringParams.h"  // GmmParams

namespace shiftad::clustering {

/// Initial parameters for gmmFrom (sklearn's weights_init, means_init, precisions_init).
/// Exactly one of precisions and covariances is given, shaped k x d ("diag") or k x d x d
/// ("full", symmetric positive definite).
struct GmmInit {
  torch::Tensor weights;      ///< k, positive, summing to 1
  torch::Tensor means;        ///< k x d
  torch::Tensor precisions;   ///< inverse covariances, or undefined
  torch::Tensor covariances;  ///< or undefined
};

struct GmmResult {
  torch::Tensor weights;             ///< k, float64
  torch::Tensor means;               ///< k x d, float64
  torch::Tensor covariances;         ///< k x d ("diag") or k x d x d ("full"), float64, reg_covar included
  torch::Tensor assignments;         ///< n, int64: component of highest responsibility
  std::vector<int64_t> sizes;        ///< points per component under `assignments`
  int dominant = 0;                  ///< index of the largest component (lowest index on ties)
  double mean_log_likelihood = 0.0;  ///< per sample, under the returned parameters (sklearn's score())
  bool converged = false;            ///< the tolerance was met within max_iter
  int iterations = 0;                ///< EM iterations run (sklearn's n_iter_)
};

/// Fit a k-component mixture to the rows of `x` (n x d, floating point). Throws
/// shiftad::Error on empty or non-finite input, bad parameters, or a covariance that is
/// not positive definite (possible only with reg_covar = 0).
GmmResult gmm(const torch::Tensor& x, const GmmParams& params);

/// gmm, its progress (EM iterations of every restart) shown with `progress` rather than
/// the defaults (a line now and then past 10 s, through the log).
GmmResult gmm(const torch::Tensor& x, const GmmParams& params, const ProgressOptions& progress);

/// EM from the given initial parameters instead of K-means (k comes from `init`; k, seed
/// and restarts of `params` are unused): the same trajectory as sklearn's GaussianMixture
/// given the same weights_init, means_init and precisions_init.
GmmResult gmmFrom(const torch::Tensor& x, const GmmInit& init, const GmmParams& params);

}  // namespace shiftad::clustering
