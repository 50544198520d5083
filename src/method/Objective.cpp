#include "method/Objective.h"

#include <torch/torch.h>

#include "losses/Losses.h"

namespace shiftad::method {

BatchFeatures splitBatch(const torch::Tensor& z, int64_t source_rows, int64_t target_rows) {
  BatchFeatures f;
  f.source = z.slice(0, 0, source_rows);
  f.target = z.slice(0, source_rows, source_rows + target_rows);
  f.source_and_target = z.slice(0, 0, source_rows + target_rows);
  if (z.size(0) > source_rows + target_rows) f.negatives = z.slice(0, source_rows + target_rows);
  return f;
}

Objective::Objective(const ObjectiveWeights& weights, std::unique_ptr<Alignment> alignment,
                     std::unique_ptr<L2SpAnchor> anchor)
    : weights_(weights), alignment_(std::move(alignment)), anchor_(std::move(anchor)) {}

Objective Objective::fromConfig(const Config& cfg, const torch::nn::Module& net, int64_t feature_dim) {
  const ObjectiveWeights weights{cfg.align.lambda, cfg.align.svdd_on_target, cfg.train.anchor};
  auto alignment = makeAlignment(cfg.align, feature_dim);
  // The anchors are F's weights as training starts; the discriminator, a fresh network, is not anchored.
  auto anchor = weights.anchor > 0.0 ? std::make_unique<L2SpAnchor>(net) : nullptr;
  return Objective(weights, std::move(alignment), std::move(anchor));
}

LossTerms Objective::loss(const BatchFeatures& z, const torch::Tensor& center, double progress) {
  LossTerms t;
  if (aligning()) {
    // Eq. 5, L_DSVDD = mean ||F(x) − c||², over the source batch; with align.svdd_on_target
    // (docs/method.md, "Deviation") also over the aligned target batch: the dominant set is
    // taken as target-normal, and cosine-only alignment would leave its feature norms free to grow.
    t.svdd = losses::deepSvddLoss(weights_.svdd_on_target ? z.source_and_target : z.source, center);
    // Eq. 8-9 (InfoNCE) or the ablation's alternative.
    t.align = alignment_->loss(z.source, z.target, z.negatives, progress, center);
    // Eq. 10 with λ1 = 1.
    t.total = t.svdd + weights_.lambda * t.align;
  } else {
    t.svdd = losses::deepSvddLoss(z.source, center);  // Eq. 5 alone (source only)
    t.align = torch::zeros({});
    t.total = t.svdd;
  }
  t.data = t.total;
  // Beyond the paper: L2-SP, β · Σ||θ − θ0||² (docs/method.md, train.anchor).
  if (anchor_) t.total = t.total + weights_.anchor * anchor_->penalty();
  return t;
}

std::vector<torch::Tensor> Objective::parameters() const {
  return alignment_ ? alignment_->parameters() : std::vector<torch::Tensor>{};
}

torch::nn::Module* Objective::module() { return alignment_ ? alignment_->module() : nullptr; }

void Objective::train() {
  if (auto* m = module()) m->train();
}

}  // namespace shiftad::method
