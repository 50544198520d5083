#include "method/Alignment.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "losses/Losses.h"
#include "losses/Mmd.h"

namespace shiftad::method {

torch::Tensor InfoNceAlignment::loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives,
                                     double /*progress*/, const torch::Tensor& /*center*/) {
  return losses::infoNceLoss(zs, zt, tau_, negatives);
}

torch::Tensor MmdAlignment::loss(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& /*negatives*/,
                                 double /*progress*/, const torch::Tensor& /*center*/) {
  return losses::mmdLoss(zs, zt, losses::MmdParams{});
}

AdversarialAlignment::AdversarialAlignment(int64_t feature_dim, int hidden)
    : discriminator_(feature_dim, losses::DiscriminatorParams{hidden}) {}

torch::Tensor AdversarialAlignment::loss(const torch::Tensor& zs, const torch::Tensor& zt,
                                         const torch::Tensor& /*negatives*/, double progress,
                                         const torch::Tensor& /*center*/) {
  return losses::adversarialLoss(discriminator_, zs, zt, losses::grlCoefficient(progress));
}

std::vector<torch::Tensor> AdversarialAlignment::parameters() const { return discriminator_->parameters(); }

torch::nn::Module* AdversarialAlignment::module() { return discriminator_.get(); }

torch::Tensor PrototypeAlignment::loss(const torch::Tensor& /*zs*/, const torch::Tensor& zt,
                                       const torch::Tensor& /*negatives*/, double /*progress*/,
                                       const torch::Tensor& center) {
  return losses::deepSvddLoss(zt, center);
}

std::unique_ptr<Alignment> makeAlignment(const AlignConfig& cfg, int64_t feature_dim) {
  switch (cfg.method) {
    case AlignMethod::kNone:
      return nullptr;
    case AlignMethod::kInfoNce:
      return std::make_unique<InfoNceAlignment>(cfg.tau);
    case AlignMethod::kMmd:
      return std::make_unique<MmdAlignment>();
    case AlignMethod::kAdversarial:
      return std::make_unique<AdversarialAlignment>(feature_dim, cfg.disc_hidden);
    case AlignMethod::kPrototype:
      return std::make_unique<PrototypeAlignment>();
  }
  // Only an integer cast to AlignMethod gets here; the config admits no other value.
  SHIFTAD_THROW("makeAlignment: align method {} is not one of AlignMethod's values", static_cast<int>(cfg.method));
}

}  // namespace shiftad::method
