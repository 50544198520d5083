#include "method/Alignment.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "losses/Losses.h"
#include "losses/Mmd.h"

namespace shiftad::method {

bool aligning(const AlignConfig& cfg) { return cfg.method != "none" && cfg.lambda > 0.0; }

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
  const auto& m = cfg.method;
  if (m == "none") return nullptr;
  if (m == "infonce") return std::make_unique<InfoNceAlignment>(cfg.tau);
  if (m == "mmd") return std::make_unique<MmdAlignment>();
  if (m == "adversarial") return std::make_unique<AdversarialAlignment>(feature_dim, cfg.disc_hidden);
  if (m == "prototype") return std::make_unique<PrototypeAlignment>();
  SHIFTAD_THROW("align.method '{}' is unknown; available: infonce, mmd, adversarial, prototype, none", m);
}

}  // namespace shiftad::method
