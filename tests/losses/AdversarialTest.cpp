// Gradient reversal, its schedule, and the domain discriminator's loss (DANN).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "losses/Adversarial.h"
#include "support/MathTestUtil.h"

namespace lo = shiftad::losses;
namespace F = torch::nn::functional;
using shiftad::test::expectError;

namespace {

/// Two Gaussian blobs, n rows each in d dims, centred at +2 and -2 along every axis
/// with standard deviation 0.5: linearly separable in practice.
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t n, int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {torch::randn({n, d}, gen) * 0.5 + 2.0, torch::randn({n, d}, gen) * 0.5 - 2.0};
}

/// The discriminator's loss without the reversal layer (source 1, target 0).
torch::Tensor plainLoss(lo::DomainDiscriminator& disc, const torch::Tensor& zs, const torch::Tensor& zt) {
  const torch::Tensor labels = torch::cat({torch::ones({zs.size(0)}), torch::zeros({zt.size(0)})});
  return F::binary_cross_entropy_with_logits(disc(torch::cat({zs, zt})), labels);
}

}  // namespace

TEST(GradientReversal, IdentityForwardNegatedScaledBackward) {
  const torch::Tensor x = torch::tensor({{1.0, -2.0}, {3.0, 0.5}}, torch::kDouble).requires_grad_(true);
  const torch::Tensor y = lo::gradientReversal(x, 0.7);
  EXPECT_TRUE(torch::equal(y, x.detach()));
  y.backward(torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, torch::kDouble));
  // -0.7 times the upstream gradient, written out by hand.
  EXPECT_TRUE(torch::allclose(x.grad(), torch::tensor({{-0.7, -1.4}, {-2.1, -2.8}}, torch::kDouble), 0, 1e-15))
      << x.grad();

  // Inside a chain: d/dx sum(3 * GRL(x, c)) = -3c; c = 0 blocks the gradient entirely.
  const torch::Tensor a = torch::ones({3}, torch::kDouble).requires_grad_(true);
  (3.0 * lo::gradientReversal(a, 0.25)).sum().backward();
  EXPECT_TRUE(torch::allclose(a.grad(), torch::full({3}, -0.75, torch::kDouble), 0, 1e-15));
  const torch::Tensor b = torch::ones({3}, torch::kDouble).requires_grad_(true);
  lo::gradientReversal(b, 0.0).sum().backward();
  EXPECT_TRUE(torch::equal(b.grad(), torch::zeros({3}, torch::kDouble)));
  expectError([] { lo::gradientReversal(torch::ones({2}), std::nan("")); }, "gradientReversal: coeff must be finite");
}

TEST(GradientReversal, CoefficientSchedule) {
  EXPECT_EQ(lo::grlCoefficient(0.0), 0.0);
  EXPECT_NEAR(lo::grlCoefficient(1.0), 2.0 / (1.0 + std::exp(-10.0)) - 1.0, 1e-15);
  EXPECT_NEAR(lo::grlCoefficient(1.0), 0.999909204, 1e-9);
  // 2 / (1 + e^-x) - 1 = tanh(x / 2): a rising curve.
  double previous = -1.0;
  for (double p = 0.0; p <= 1.0; p += 0.1) {
    EXPECT_NEAR(lo::grlCoefficient(p), std::tanh(5.0 * p), 1e-15) << p;
    EXPECT_GT(lo::grlCoefficient(p), previous) << p;
    previous = lo::grlCoefficient(p);
  }
  expectError([] { lo::grlCoefficient(-0.1); }, "grlCoefficient: progress must be in [0, 1], got -0.1");
  expectError([] { lo::grlCoefficient(1.5); }, "grlCoefficient: progress must be in [0, 1], got 1.5");
}

TEST(DomainDiscriminator, LearnsSeparableBlobs) {
  torch::manual_seed(0);  // weight initialisation draws from the global generator
  lo::DomainDiscriminator disc(8);
  const auto [zs, zt] = blobs(64, 8, 7);
  torch::optim::Adam opt(disc->parameters(), torch::optim::AdamOptions(1e-3));
  const double initial = lo::adversarialLoss(disc, zs, zt, 1.0).item<double>();
  EXPECT_NEAR(initial, std::log(2.0), 0.2);  // untrained: close to chance
  double final_loss = initial;
  for (int step = 0; step < 100; ++step) {
    opt.zero_grad();
    const torch::Tensor loss = lo::adversarialLoss(disc, zs, zt, 1.0);
    loss.backward();
    opt.step();
    final_loss = loss.item<double>();
  }
  EXPECT_LT(final_loss, 0.1 * std::log(2.0)) << "initial " << initial;
}

TEST(DomainDiscriminator, ReversalFlipsOnlyTheFeatureGradient) {
  torch::manual_seed(1);
  lo::DomainDiscriminator disc(4, lo::DiscriminatorParams{16});
  auto [s, t] = blobs(6, 4, 3);
  const torch::Tensor zs = s.requires_grad_(true), zt = t.requires_grad_(true);
  const double coeff = 0.5;

  const torch::Tensor with_grl = lo::adversarialLoss(disc, zs, zt, coeff);
  with_grl.backward();
  const torch::Tensor gs = zs.grad().clone(), gt = zt.grad().clone();
  std::vector<torch::Tensor> param_grads;
  for (const auto& p : disc->parameters()) param_grads.push_back(p.grad().clone());

  zs.mutable_grad().zero_();
  zt.mutable_grad().zero_();
  disc->zero_grad();
  const torch::Tensor plain = plainLoss(disc, zs, zt);
  plain.backward();

  EXPECT_NEAR(with_grl.item<double>(), plain.item<double>(), 1e-7);  // same forward value
  // Features: -coeff times the direction that would help the discriminator.
  EXPECT_TRUE(torch::allclose(gs, -coeff * zs.grad(), 1e-5, 1e-7)) << gs << zs.grad();
  EXPECT_TRUE(torch::allclose(gt, -coeff * zt.grad(), 1e-5, 1e-7)) << gt << zt.grad();
  EXPECT_LT((gs * zs.grad()).sum().item<double>() + (gt * zt.grad()).sum().item<double>(), 0.0);
  // The discriminator itself is trained as usual.
  const auto params = disc->parameters();
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::allclose(param_grads[i], params[i].grad(), 1e-5, 1e-7)) << i;
}

TEST(DomainDiscriminator, ShapesAndErrors) {
  lo::DomainDiscriminator disc(5);
  EXPECT_EQ(disc->inputDim(), 5);
  const auto named = disc->named_parameters();
  EXPECT_EQ(named["fc1.weight"].sizes(), (std::vector<int64_t>{256, 5}));  // default hidden width
  EXPECT_EQ(named["fc2.weight"].sizes(), (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(named["fc3.weight"].sizes(), (std::vector<int64_t>{1, 256}));
  EXPECT_EQ(disc(torch::zeros({7, 5})).sizes(), (std::vector<int64_t>{7}));
  // Unequal domain sizes: the mean runs over all rows.
  const torch::Tensor zs = torch::randn({3, 5}), zt = torch::randn({5, 5});
  EXPECT_NEAR(lo::adversarialLoss(disc, zs, zt, 1.0).item<double>(), plainLoss(disc, zs, zt).item<double>(), 1e-6);

  expectError(
      [&] {
        lo::adversarialLoss(disc, torch::zeros({2, 4}), torch::zeros({2, 4}), 1.0);
      },
      "adversarialLoss: features have 4 columns but the discriminator expects 5");
  expectError(
      [&] {
        lo::adversarialLoss(disc, torch::zeros({2, 5}), torch::zeros({2, 4}), 1.0);
      },
      "adversarialLoss: zs has 5 columns but zt has 4");
  expectError([&] { lo::adversarialLoss(disc, zs, zt, INFINITY); }, "adversarialLoss: coeff must be finite, got inf");
  expectError(
      [&] {
        disc(torch::zeros({2, 3}));
      },
      "DomainDiscriminator: expected an n x 5 feature matrix, got shape [2, 3]");
  expectError([] { lo::DomainDiscriminator(int64_t{0}); }, "DomainDiscriminator: input dimension must be >= 1, got 0");
  expectError([] { lo::DomainDiscriminator(3, lo::DiscriminatorParams{0}); },
              "DomainDiscriminator: hidden width must be >= 1, got 0");
}
