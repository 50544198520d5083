// Training F: Deep SVDD on source normals plus alignment of the target pool's
// dominant cluster (paper Eq. 5-10). Sees images only, never a target label.
#pragma once

#include <functional>
#include <memory>

#include <torch/types.h>

#include "models/FeatureExtractor.h"
#include "shiftad/Config.h"

namespace shiftad::training {

/// What one epoch did (one line of metrics.jsonl).
struct EpochStats {
  int epoch = 0;               ///< 1-based
  double loss = 0.0;           ///< mean total loss over the epoch's steps
  double svdd_loss = 0.0;      ///< mean Deep SVDD term
  double align_loss = 0.0;     ///< mean alignment term (before lambda)
  int64_t dominant_size = 0;   ///< target samples aligned this epoch
  double dominant_share = 0.0; ///< dominant_size / pool size
  double seconds = 0.0;
};

/// Called after each epoch with its stats and the pool indices (int64) aligned in it.
using EpochCallback = std::function<void(const EpochStats&, const torch::Tensor& dominant)>;

/// The dominant set of the pool (paper Eq. 6-7): indices of the members of the largest
/// cluster of `features` (cluster.space = none: every index).
torch::Tensor selectDominant(const torch::Tensor& features, const ClusterConfig& cfg, uint64_t seed);

class Trainer {
 public:
  Trainer(const Config& cfg, std::shared_ptr<models::FeatureExtractor> net);

  /// Deep SVDD center from F's initial features of the (un-augmented) source images.
  void initCenter(const torch::Tensor& source_images);

  /// Train for cfg.train.epochs. Images are uint8 N x 3 x R x R (R = resize side).
  /// `pool` may be empty when alignment is off. `frozen_pool_features` (rows = pool
  /// images): Φ's features, required when cluster.space = frozen; clustered once.
  void fit(const torch::Tensor& source_images, const torch::Tensor& pool_images, const EpochCallback& on_epoch = {},
           const torch::Tensor& frozen_pool_features = {});

  /// F's features of uint8 images (eval mode, center crop, batched, no grad).
  torch::Tensor embed(const torch::Tensor& images);

  /// Anomaly scores ||F(x) - c||^2 of uint8 images.
  torch::Tensor score(const torch::Tensor& images);

  const torch::Tensor& center() const { return center_; }
  void setCenter(const torch::Tensor& c) { center_ = c; }
  models::FeatureExtractor& net() { return *net_; }

 private:
  torch::Tensor trainingView(const torch::Tensor& images);  ///< augmented or center-cropped, normalized
  torch::Tensor evalView(const torch::Tensor& images);      ///< center-cropped, normalized

  Config cfg_;
  std::shared_ptr<models::FeatureExtractor> net_;
  torch::Tensor center_;
  torch::Generator gen_;
};

}  // namespace shiftad::training
