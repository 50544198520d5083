// The training objective of the method, the total loss of one step:
//
//   L = L_DSVDD + λ · L_align + β · Σ||θ − θ0||²
//
// Deep SVDD (paper Eq. 5), the alignment term (Eq. 8-9 or an ablation's alternative,
// weighted as Eq. 10 with λ1 = 1, λ = align.lambda) and the L2-SP anchor (beyond the
// paper, β = train.anchor). Objective::loss is the one place this sum is formed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "method/Alignment.h"
#include "method/L2SpAnchor.h"
#include "shiftad/Config.h"

namespace shiftad::method {

/// F's features of one step's batch, by role. All come from one forward pass over the
/// concatenated inputs [source; target; negatives], so they share BatchNorm statistics.
struct BatchFeatures {
  torch::Tensor source;             ///< zs: the source batch
  torch::Tensor target;             ///< zt: the aligned target batch (undefined when not aligning)
  torch::Tensor source_and_target;  ///< [zs; zt], the leading rows of the forward's output
  torch::Tensor negatives;          ///< extra InfoNCE negatives (undefined: none)
};

/// Split the output `z` of the forward over [source; target; negatives] (any trailing
/// rows past source_rows + target_rows are the negatives).
BatchFeatures splitBatch(const torch::Tensor& z, int64_t source_rows, int64_t target_rows);

/// The terms of one step's loss (0-d tensors; `align` is 0 when not aligning).
struct LossTerms {
  torch::Tensor total;
  torch::Tensor data;   ///< the terms of the batch (total without the anchor, which depends on the weights alone)
  torch::Tensor svdd;   ///< L_DSVDD
  torch::Tensor align;  ///< L_align, before its weight λ
};

/// How the terms are weighed and where Deep SVDD applies (config: align.lambda,
/// align.svdd_on_target, train.anchor).
struct ObjectiveWeights {
  double lambda = 1.0;         ///< λ, weight of L_align
  bool svdd_on_target = true;  ///< Deep SVDD also over the aligned target batch
  double anchor = 0.0;         ///< β, weight of the L2-SP penalty
};

class Objective {
 public:
  /// `alignment` null: source-only Deep SVDD; `anchor` null: no L2-SP term.
  Objective(const ObjectiveWeights& weights, std::unique_ptr<Alignment> alignment, std::unique_ptr<L2SpAnchor> anchor);

  /// The objective of a run: the alignment strategy of align.method (for features of
  /// `feature_dim` values), and, with train.anchor > 0, anchors at `net`'s current weights.
  static Objective fromConfig(const Config& cfg, const torch::nn::Module& net, int64_t feature_dim);

  /// Whether the step's batch holds an aligned target part (an alignment strategy with λ > 0).
  bool aligning() const { return alignment_ && weights_.lambda > 0.0; }

  /// The total loss L of one step: `z` split by splitBatch (only `source` when not
  /// aligning), `center` the Deep SVDD center c, `progress` in [0, 1] the share of
  /// training done.
  LossTerms loss(const BatchFeatures& z, const torch::Tensor& center, double progress);

  /// The alignment strategy's own trainable parameters (the adversarial discriminator).
  std::vector<torch::Tensor> parameters() const;
  /// The module holding them (to checkpoint; null: none).
  torch::nn::Module* module();
  /// Puts that module in training mode.
  void train();

 private:
  ObjectiveWeights weights_;
  std::unique_ptr<Alignment> alignment_;
  std::unique_ptr<L2SpAnchor> anchor_;
};

}  // namespace shiftad::method
