// The frozen-encoder baselines (score.method frozen_*): no training; an image's score
// is its distance, in Φ's space, to reference features taken from the source normals
// or from the pool's dominant cluster.
#pragma once

#include <string>

#include <torch/types.h>

#include "shiftad/Config.h"

namespace shiftad::models {

struct FrozenScorer {
  torch::Tensor reference;  ///< R x D reference features (a mean: R = 1)
  int k = 1;                ///< neighbours averaged (clamped to R)

  /// Score = mean squared Euclidean distance to the k nearest reference rows (for
  /// L2-normalized features, 2 - 2 cos). Higher = more anomalous.
  torch::Tensor score(const torch::Tensor& features) const;
};

/// The scorer of `method` (frozen_mean | frozen_knn | frozen_dominant) from Φ's
/// features of the source normals and of the pool's dominant set.
FrozenScorer makeFrozenScorer(ScoreMethod method, const torch::Tensor& source, const torch::Tensor& dominant,
                              int knn_k);

}  // namespace shiftad::models
