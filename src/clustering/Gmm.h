// Gaussian mixture fitted by EM, initialised from K-means (sklearn's GaussianMixture with
// init_params="kmeans"), for dominant-cluster identification with soft, elliptic
// clusters. Computed in float64, in row blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "shiftad/Config.h"

namespace shiftad::clustering {

/// Parameters with their defaults (sklearn's GaussianMixture defaults, except the
/// covariance type: "diag" because full d x d covariances do not scale to d = 2048).
struct GmmParams {
  int k = 8;                                  ///< components; clamped to the number of points
  Covariance covariance = Covariance::kDiag;  ///< kDiag (k x d variances) or kFull (k x d x d)
  int max_iter = 100;                         ///< EM iterations per restart (0: initial parameters only)
  double tol = 1e-3;                          ///< stop when the mean log-likelihood per sample changes by less
  double reg_covar = 1e-6;                    ///< added to every variance: keeps covariances positive definite
  uint64_t seed = 0;                          ///< seeds the K-means initialisation
  int restarts = 1;                           ///< K-means initialisations; the highest final likelihood wins
  int64_t chunk = int64_t{1} << 16;           ///< entries per block: chunk / d rows of float64 buffers (512 KB each)
};

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

/// EM from the given initial parameters instead of K-means (k comes from `init`; k, seed
/// and restarts of `params` are unused): the same trajectory as sklearn's GaussianMixture
/// given the same weights_init, means_init and precisions_init.
GmmResult gmmFrom(const torch::Tensor& x, const GmmInit& init, const GmmParams& params);

}  // namespace shiftad::clustering
