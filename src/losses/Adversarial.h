// Domain-adversarial alignment (DANN, Ganin & Lempitsky 2015): a discriminator learns
// to tell source from target features while a gradient reversal layer makes the
// feature extractor learn to confuse it.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace shiftad::losses {

/// Gradient reversal layer: the identity in the forward pass; the backward pass
/// multiplies the incoming gradient by -coeff (coeff finite, usually in [0, 1]).
/// Nothing flows to `coeff`. The result is a view of `x`: do not modify it in place.
torch::Tensor gradientReversal(const torch::Tensor& x, double coeff);

/// DANN's schedule for the reversal coefficient: 2 / (1 + exp(-10 p)) - 1, rising
/// from 0 at progress p = 0 (start of training) towards 1 at p = 1, so that the noisy
/// early discriminator does not disturb the features. p in [0, 1].
double grlCoefficient(double progress);

/// Domain discriminator settings, with their defaults.
struct DiscriminatorParams {
  int64_t hidden = 256;  ///< width of both hidden layers (>= 1)
};

/// MLP d -> hidden -> hidden -> 1 with ReLUs (submodules fc1, fc2, fc3): one logit
/// per row, positive for "source".
class DomainDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DomainDiscriminatorImpl(int64_t input_dim, const DiscriminatorParams& params = {});
  /// z: n x input_dim -> n logits (1-D, so that they line up with n labels).
  torch::Tensor forward(const torch::Tensor& z);
  int64_t inputDim() const { return input_dim_; }

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
  int64_t input_dim_;
};
TORCH_MODULE(DomainDiscriminator);

/// DANN loss: binary cross-entropy with logits of discriminator(GRL(z, coeff)) with
/// label 1 for the rows of zs and 0 for the rows of zt, averaged over all n_s + n_t
/// rows. Minimising it trains the discriminator normally, while the features zs, zt
/// receive -coeff times the discriminator's gradient, i.e. are pushed to make the
/// domains indistinguishable.
torch::Tensor adversarialLoss(DomainDiscriminator& discriminator, const torch::Tensor& zs, const torch::Tensor& zt,
                              double coeff);

}  // namespace shiftad::losses
