#include "losses/Adversarial.h"

#include <cmath>

#include <torch/torch.h>

#include "common/Error.h"
#include "losses/Checks.h"

namespace shiftad::losses {
namespace {
namespace F = torch::nn::functional;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class GradientReversalFunction : public torch::autograd::Function<GradientReversalFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double coeff) {
    ctx->saved_data["coeff"] = coeff;
    // A view, not x itself: autograd needs a distinct output to attach this node to,
    // and a view costs no copy.
    return x.view_as(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_output) {
    const double coeff = ctx->saved_data["coeff"].toDouble();
    return {grad_output[0] * -coeff, torch::Tensor()};  // no gradient for coeff
  }
};

}  // namespace

torch::Tensor gradientReversal(const torch::Tensor& x, double coeff) {
  SHIFTAD_CHECK(x.defined(), "gradientReversal: input tensor is undefined");
  SHIFTAD_CHECK(std::isfinite(coeff), "gradientReversal: coeff must be finite, got {}", coeff);
  return GradientReversalFunction::apply(x, coeff);
}

double grlCoefficient(double progress) {
  SHIFTAD_CHECK(progress >= 0.0 && progress <= 1.0, "grlCoefficient: progress must be in [0, 1], got {}", progress);
  return 2.0 / (1.0 + std::exp(-10.0 * progress)) - 1.0;
}

DomainDiscriminatorImpl::DomainDiscriminatorImpl(int64_t input_dim, const DiscriminatorParams& params)
    : input_dim_(input_dim) {
  SHIFTAD_CHECK(input_dim >= 1, "DomainDiscriminator: input dimension must be >= 1, got {}", input_dim);
  SHIFTAD_CHECK(params.hidden >= 1, "DomainDiscriminator: hidden width must be >= 1, got {}", params.hidden);
  fc1_ = register_module("fc1", torch::nn::Linear(input_dim, params.hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(params.hidden, params.hidden));
  fc3_ = register_module("fc3", torch::nn::Linear(params.hidden, 1));
}

torch::Tensor DomainDiscriminatorImpl::forward(const torch::Tensor& z) {
  SHIFTAD_CHECK(z.dim() == 2 && z.size(1) == input_dim_,
                "DomainDiscriminator: expected an n x {} feature matrix, got shape {}", input_dim_,
                c10::str(z.sizes()));
  return fc3_(torch::relu(fc2_(torch::relu(fc1_(z))))).squeeze(1);
}

torch::Tensor adversarialLoss(DomainDiscriminator& discriminator, const torch::Tensor& zs, const torch::Tensor& zt,
                              double coeff) {
  detail::checkSameWidth("adversarialLoss", "zs", zs, "zt", zt);
  SHIFTAD_CHECK(!discriminator.is_empty(), "adversarialLoss: the discriminator is not constructed");
  SHIFTAD_CHECK(zs.size(1) == discriminator->inputDim(),
                "adversarialLoss: features have {} columns but the discriminator expects {}", zs.size(1),
                discriminator->inputDim());
  SHIFTAD_CHECK(std::isfinite(coeff), "adversarialLoss: coeff must be finite, got {}", coeff);
  const torch::Tensor logits = discriminator(gradientReversal(torch::cat({zs, zt}), coeff));
  const torch::Tensor labels =
      torch::cat({torch::ones({zs.size(0)}, logits.options()), torch::zeros({zt.size(0)}, logits.options())});
  return F::binary_cross_entropy_with_logits(logits, labels);
}

}  // namespace shiftad::losses
