// The alignment factory builds the strategy of each align.method, and each strategy's
// loss is the corresponding losses:: function on the same inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "config/Choices.h"
#include "losses/Adversarial.h"
#include "losses/Losses.h"
#include "losses/Mmd.h"
#include "method/Alignment.h"

namespace me = shiftad::method;
namespace lo = shiftad::losses;

namespace {

shiftad::AlignConfig alignConfig(const char* method) {  // a spelling the config accepts
  shiftad::AlignConfig cfg;
  cfg.method = *shiftad::config::parseChoice<shiftad::AlignMethod>(method);
  cfg.tau = 0.3;
  cfg.disc_hidden = 5;
  return cfg;
}

struct Inputs {
  torch::Tensor zs = torch::randn({6, 4}, at::make_generator<at::CPUGeneratorImpl>(1));
  torch::Tensor zt = torch::randn({6, 4}, at::make_generator<at::CPUGeneratorImpl>(2)) + 1.0;
  torch::Tensor negatives = torch::randn({3, 4}, at::make_generator<at::CPUGeneratorImpl>(3));
  torch::Tensor center = torch::tensor({0.1, -0.2, 0.3, 0.0});
};

double lossOf(me::Alignment& a, const Inputs& in, double progress) {
  return a.loss(in.zs, in.zt, in.negatives, progress, in.center).item<double>();
}

}  // namespace

TEST(Alignment, FactoryBuildsTheStrategyOfEachMethod) {
  EXPECT_NE(dynamic_cast<me::InfoNceAlignment*>(me::makeAlignment(alignConfig("infonce"), 4).get()), nullptr);
  EXPECT_NE(dynamic_cast<me::MmdAlignment*>(me::makeAlignment(alignConfig("mmd"), 4).get()), nullptr);
  EXPECT_NE(dynamic_cast<me::AdversarialAlignment*>(me::makeAlignment(alignConfig("adversarial"), 4).get()), nullptr);
  EXPECT_NE(dynamic_cast<me::PrototypeAlignment*>(me::makeAlignment(alignConfig("prototype"), 4).get()), nullptr);
  EXPECT_EQ(me::makeAlignment(alignConfig("none"), 4), nullptr);
  // Unknown names never reach the factory: the config rejects them (tests/config/ConfigChoicesTest.cpp).
}

TEST(Alignment, AligningNeedsAMethodAndAPositiveWeight) {
  shiftad::Config cfg;
  cfg.align = alignConfig("infonce");
  EXPECT_TRUE(shiftad::aligns(cfg));
  cfg.align.lambda = 0.0;
  EXPECT_FALSE(shiftad::aligns(cfg));
  cfg.align = alignConfig("none");
  EXPECT_FALSE(shiftad::aligns(cfg));
}

TEST(Alignment, EachStrategyIsItsLossFunction) {
  const Inputs in;
  auto infonce = me::makeAlignment(alignConfig("infonce"), 4);
  EXPECT_EQ(lossOf(*infonce, in, 0.5), lo::infoNceLoss(in.zs, in.zt, 0.3, in.negatives).item<double>());
  auto mmd = me::makeAlignment(alignConfig("mmd"), 4);
  EXPECT_EQ(lossOf(*mmd, in, 0.5), lo::mmdLoss(in.zs, in.zt).item<double>());
  auto prototype = me::makeAlignment(alignConfig("prototype"), 4);
  EXPECT_EQ(lossOf(*prototype, in, 0.5), lo::deepSvddLoss(in.zt, in.center).item<double>());
  for (auto* a : {infonce.get(), mmd.get(), prototype.get()}) {
    EXPECT_TRUE(a->parameters().empty());
    EXPECT_EQ(a->module(), nullptr);
  }
}

TEST(Alignment, AdversarialIsTheDiscriminatorLossAtTheScheduledReversal) {
  const Inputs in;
  // The same global-generator state builds the same discriminator weights.
  torch::manual_seed(11);
  auto adversarial = me::makeAlignment(alignConfig("adversarial"), 4);
  torch::manual_seed(11);
  lo::DomainDiscriminator reference(4, lo::DiscriminatorParams{5});
  ASSERT_EQ(adversarial->parameters().size(), reference->parameters().size());
  for (size_t i = 0; i < reference->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(adversarial->parameters()[i], reference->parameters()[i]));
  ASSERT_NE(adversarial->module(), nullptr);
  EXPECT_EQ(adversarial->module()->parameters().size(), reference->parameters().size());
  const double expected = lo::adversarialLoss(reference, in.zs, in.zt, lo::grlCoefficient(0.25)).item<double>();
  EXPECT_EQ(lossOf(*adversarial, in, 0.25), expected);

  // The progress reaches the reversal coefficient: the gradient on zs is -coeff times
  // the discriminator's, whose sign and size the plain loss gives.
  const torch::Tensor zs = in.zs.clone().requires_grad_(true);
  adversarial->loss(zs, in.zt, {}, 0.25, in.center).backward();
  const torch::Tensor plain_zs = in.zs.clone().requires_grad_(true);
  lo::adversarialLoss(reference, plain_zs, in.zt, 1.0).backward();
  EXPECT_TRUE(torch::allclose(zs.grad(), plain_zs.grad() * lo::grlCoefficient(0.25), 1e-6, 1e-9));
}
