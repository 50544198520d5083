// Parameters of the clustering algorithms (paper Eq. 6), one struct per algorithm with
// its defaults in this one place (cf. faiss' ClusteringParameters). The run config holds
// them (Config::cluster, YAML keys cluster.*) and the algorithms take them as they are.
// Torch-free: part of the public configuration.
#pragma once

#include <cstdint>
#include <string>

namespace shiftad {

/// cluster.covariance: diag | full (YAML spellings in src/config/Choices.cpp).
enum class Covariance { kDiag, kFull };

}  // namespace shiftad

namespace shiftad::clustering {

/// K-means with k-means++ seeding and restarts. YAML: cluster.k, cluster.restarts,
/// cluster.max_iter; `seed` is set by the caller (the trainer: train.seed, plus the
/// epoch when F's own space is re-clustered).
struct KMeansParams {
  int k = 8;              ///< number of clusters; clamped to the number of points (paper: 8-10)
  int restarts = 5;       ///< independent k-means++ seedings; the lowest inertia wins
  int max_iter = 100;     ///< Lloyd iterations per restart
  double tol = 1e-6;      ///< stop when relative inertia improvement falls below tol
  uint64_t seed = 0;      ///< seeds k-means++ (reproducible for a given seed)
  int64_t chunk = 65536;  ///< rows per distance block (bounds memory to chunk x k)
};

/// Gaussian mixture fit by EM from K-means initialisations (sklearn's GaussianMixture
/// with init_params="kmeans"). YAML: cluster.k, cluster.restarts and cluster.max_iter
/// (shared with K-means), cluster.covariance. Defaults are sklearn's except the
/// covariance type ("diag": full d x d covariances do not scale to d = 2048) and the
/// restarts (sklearn's n_init is 1; the config's cluster.restarts default is 5).
struct GmmParams {
  int k = 8;                         ///< components; clamped to the number of points
  Covariance covariance = Covariance::kDiag;  ///< kDiag (k x d variances) or kFull (k x d x d)
  int max_iter = 100;                ///< EM iterations per restart (0: initial parameters only)
  double tol = 1e-3;                 ///< stop when the mean log-likelihood per sample changes by less
  double reg_covar = 1e-6;           ///< added to every variance: keeps covariances positive definite
  uint64_t seed = 0;                 ///< seeds the K-means initialisation
  int restarts = 5;                  ///< K-means initialisations; the highest final likelihood wins
  int64_t chunk = int64_t{1} << 16;  ///< entries per block: chunk / d rows of float64 buffers (512 KB each)
};

/// MeanShift with a flat kernel (sklearn's MeanShift and estimate_bandwidth defaults).
/// YAML: cluster.bandwidth, cluster.quantile.
struct MeanShiftParams {
  double bandwidth = 0.0;            ///< kernel radius; 0: estimateBandwidth(x, quantile)
  double quantile = 0.3;             ///< neighbour quantile of the bandwidth estimate, in [0, 1]
  int max_iter = 300;                ///< iterations per seed (as sklearn: at most max_iter + 1 mean updates)
  bool bin_seeding = false;          ///< seeds: one per occupied grid cell of side bandwidth, not every point
  int64_t bandwidth_samples = 0;     ///< rows the estimate uses: 0 all (sklearn's n_samples=None), else a random subset
  uint64_t seed = 0;                 ///< seeds that subset (nothing else is random)
  int64_t chunk = int64_t{1} << 20;  ///< entries per distance block (4 MB of float32): tiles of 1024 x 1024
};

}  // namespace shiftad::clustering
