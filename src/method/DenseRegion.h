// The pool's dense region: the rows to align when the share of anomalies in the target
// pool is unknown (cluster.space: dense, the `default` variant; docs/method.md).
//
// Anomaly scarcity, restated without a cluster count: however many anomalies the pool
// holds, each kind of them is a small share of it, while the normal class is the one
// large population. A row's neighbourhood at the scale of a fifth of the pool therefore
// stays inside its own kind only for normal rows; an anomaly's reaches out to other
// kinds and lies farther away. The rows whose neighbourhood distance falls in the low
// mode of its distribution are the dense region. No K to choose (the paper's dominant
// cluster holds a K-dependent share of the pool and, with half the pool anomalous, can
// be one kind of anomaly), no contamination to know.
#pragma once

#include <torch/types.h>

namespace shiftad::method {

/// Mean cosine distance (1 - cosine similarity) of each row of `features` (n x d, n >= 2)
/// to its k nearest other rows, k = max(1, round(share * (n - 1))), share in (0, 1].
/// float64, n entries. Rows are compared after L2 normalization; a zero row is at
/// distance 1 from every row.
///
/// `reference_rows` = m with 0 < m < n: each row is compared with m rows spread evenly over
/// the pool instead of all n, k = max(1, round(share * (m - 1))): the distance to the nearest
/// share of a sample estimates the distance to the nearest share of the pool, and the time
/// grows as n m instead of n^2 (a 44,000-row pool of 1280-d features: 141 s -> docs/scale.md).
/// 0 or m >= n: every row (exact).
torch::Tensor neighbourDistance(const torch::Tensor& features, double share, int64_t reference_rows = 0);

/// How the dense region is taken (the cluster.* keys; defaults are the library's).
struct DenseRegionParams {
  double neighbours = 0.2;  ///< cluster.neighbours: a row's neighbourhood, a share of the pool in (0, 1]
  /// cluster.dense_bic_gate: every row when the BIC does not support two components in the
  /// distances' logarithms (mixtureBicGain <= 0): a pool that looks like one population
  /// is aligned whole, whatever max_share.
  bool bic_gate = false;
  /// cluster.dense_max_share: when the low mode holds more than this share of the rows,
  /// only that many rows of smallest neighbourhood distance (round(max_share * n), at
  /// least 2); 1: no cap. Half the pool by default: a pool whose low mode holds more is one
  /// where the mixture found no split (docs/method.md, issue 17).
  double max_share = 0.5;
  /// cluster.dense_reference_rows: each row's neighbourhood is looked for among this many
  /// rows spread evenly over the pool when the pool is larger (neighbourDistance); 0: all.
  int64_t reference_rows = 4096;
};

/// The dense region of the rows of `features` (int64, ascending): those whose
/// neighbourDistance lies in the low mode (lowModeRows), within `params`. Every row for
/// fewer than 4.
torch::Tensor denseRows(const torch::Tensor& features, const DenseRegionParams& params = {});

/// The rows (int64, ascending) of `values` (positive) below the weighted mixtureCut of
/// their logarithms (DecisionThreshold.h), i.e. those the two-component mixture assigns to
/// its low component; every row when the values form one component or fewer than 2 rows
/// fall below.
torch::Tensor lowModeRows(const torch::Tensor& values, bool bic_gate = false);

}  // namespace shiftad::method
