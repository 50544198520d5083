// The alignment term L_align of the total loss (paper Eq. 8-10): how F's features of
// the source batch are pulled toward those of the aligned target batch (the pool's
// dominant set). One interface, one implementation per align.method, built by one
// factory; align.method none builds no object (source-only Deep SVDD).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "losses/Adversarial.h"
#include "shiftad/Config.h"

namespace shiftad::method {

class Alignment {
 public:
  virtual ~Alignment() = default;

  /// L_align between the source features `zs` and the aligned target features `zt`
  /// (n x d each, row i of one paired with row i of the other). `negatives`: extra
  /// InfoNCE negatives (the few-shot pseudo-anomalies; may be undefined); `progress`
  /// in [0, 1]: share of training done; `center`: the Deep SVDD center c.
  virtual torch::Tensor loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives,
                             double progress, const torch::Tensor& center) = 0;

  /// The strategy's own trainable parameters, optimised with F's (none by default).
  virtual std::vector<torch::Tensor> parameters() const { return {}; }

  /// The module holding them, to checkpoint and to put in training mode (null: none).
  virtual torch::nn::Module* module() { return nullptr; }
};

/// InfoNCE / NT-Xent (paper Eq. 8-9), temperature align.tau.
class InfoNceAlignment : public Alignment {
 public:
  explicit InfoNceAlignment(double tau) : tau_(tau) {}
  torch::Tensor loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives, double progress,
                     const torch::Tensor& center) override;

 private:
  double tau_;
};

/// Multi-kernel Gaussian MMD² between the two batches (the paper's ablation, Table 6).
class MmdAlignment : public Alignment {
 public:
  torch::Tensor loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives, double progress,
                     const torch::Tensor& center) override;
};

/// A domain discriminator behind a gradient reversal layer whose coefficient follows
/// DANN's schedule over `progress` (the paper's ablation, Table 6).
class AdversarialAlignment : public Alignment {
 public:
  /// Builds the discriminator: its initial weights are drawn from torch's global generator.
  AdversarialAlignment(int64_t feature_dim, int hidden);
  torch::Tensor loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives, double progress,
                     const torch::Tensor& center) override;
  std::vector<torch::Tensor> parameters() const override;
  torch::nn::Module* module() override;

 private:
  losses::DomainDiscriminator discriminator_;
};

/// Beyond the paper: Deep SVDD of the aligned target batch, ||F(x_t) - c||², pulling it
/// to c without pushing normals apart.
class PrototypeAlignment : public Alignment {
 public:
  torch::Tensor loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives, double progress,
                     const torch::Tensor& center) override;
};

/// The strategy of align.method for features of `feature_dim` values; null for none
/// (whatever align.lambda: a zero weight still builds the strategy, so that an
/// adversarial run draws its discriminator and checkpoints it). Throws on an unknown method.
std::unique_ptr<Alignment> makeAlignment(const AlignConfig& cfg, int64_t feature_dim);

}  // namespace shiftad::method
