// The checks that stop a diverging training run at the step where it diverges, before
// the step changes a weight or a checkpoint holds the damage.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "shiftad/Config.h"

namespace torch::nn {
class Module;
}

namespace shiftad::training {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// What a training step can make non-finite in F, checked by fit() after every step:
/// its trainable parameters (the optimizer step) and its floating-point buffers
/// (BatchNorm statistics, updated by the forward pass even when the loss stays finite,
/// e.g. on inputs scaled to ~1e30).
NamedTensors trainedTensors(const torch::nn::Module& net);

/// The name of the first tensor holding a NaN or Inf ("" if none). Cheap enough for
/// every step: one sum per tensor, in double, where float32 values cannot overflow, so
/// the total is finite exactly when every value is; a single sync. The names are
/// searched only on failure.
std::string firstNonFinite(const NamedTensors& tensors);

/// Both checks of a step, with errors that name epoch, step, the checkpoint left and
/// the keys to change.
class DivergenceGuard {
 public:
  /// `checkpoint`: the run's checkpoint file ("": none).
  DivergenceGuard(const Config& cfg, const torch::nn::Module& net, std::string checkpoint);

  /// Before backward: a non-finite loss must not reach the weights or Adam's moments.
  void checkLoss(double loss, int epoch, int64_t step) const;

  /// After the optimizer step: F's trained tensors must stay finite.
  void checkWeights(int epoch, int64_t step) const;

 private:
  std::string lastCheckpoint() const;

  const Config& cfg_;
  NamedTensors guarded_;
  std::string checkpoint_;
};

}  // namespace shiftad::training
