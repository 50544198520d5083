// The total loss L = L_DSVDD + λ·L_align + β·Σ||θ − θ0||², checked against the sum of
// its terms written out by hand on small tensors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "method/Objective.h"

namespace me = shiftad::method;
namespace F = torch::nn::functional;

namespace {

/// ||z_i − c||² averaged over rows, from the definition (Eq. 5).
double svddByHand(const torch::Tensor& z, const torch::Tensor& c) {
  double total = 0.0;
  for (int64_t i = 0; i < z.size(0); ++i)
    for (int64_t k = 0; k < z.size(1); ++k) {
      const double d = z[i][k].item<double>() - c[k].item<double>();
      total += d * d;
    }
  return total / static_cast<double>(z.size(0));
}

/// NT-Xent (Eq. 8-9) over 2n rows from the definition, loops and std::exp only.
double infoNceByHand(const torch::Tensor& zs, const torch::Tensor& zt, double tau) {
  const torch::Tensor z = F::normalize(torch::cat({zs, zt}), F::NormalizeFuncOptions().dim(1));
  const int64_t m = z.size(0), n = zs.size(0);
  double total = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t j = (i + n) % m;
    double denominator = 0.0;
    for (int64_t k = 0; k < m; ++k)
      if (k != i) denominator += std::exp(z[i].dot(z[k]).item<double>() / tau);
    total += -std::log(std::exp(z[i].dot(z[j]).item<double>() / tau) / denominator);
  }
  return total / static_cast<double>(m);
}

struct Fixture {
  torch::nn::Linear net{torch::nn::LinearOptions(3, 2).bias(false)};
  torch::Tensor zs = torch::tensor({{1.0, 0.5}, {-0.5, 2.0}, {0.0, 1.0}});
  torch::Tensor zt = torch::tensor({{0.5, 0.5}, {1.5, -1.0}, {2.0, 0.0}});
  torch::Tensor center = torch::tensor({0.25, -0.5});
  me::BatchFeatures z = me::splitBatch(torch::cat({zs, zt}), 3, 3);
};

}  // namespace

TEST(Objective, SplitBatchFollowsTheOneForwardLayout) {
  const torch::Tensor z = torch::arange(14, torch::kFloat).reshape({7, 2});
  const me::BatchFeatures f = me::splitBatch(z, 3, 3);
  EXPECT_TRUE(torch::equal(f.source, z.slice(0, 0, 3)));
  EXPECT_TRUE(torch::equal(f.target, z.slice(0, 3, 6)));
  EXPECT_TRUE(torch::equal(f.source_and_target, z.slice(0, 0, 6)));
  EXPECT_TRUE(torch::equal(f.negatives, z.slice(0, 6)));
  EXPECT_FALSE(me::splitBatch(z.slice(0, 0, 6), 3, 3).negatives.defined());
}

TEST(Objective, TotalIsSvddPlusLambdaAlignPlusBetaAnchor) {
  Fixture fx;
  // The anchors are the weights now; then the weights move by a known step.
  me::Objective objective({0.5, /*svdd_on_target=*/true, /*anchor=*/0.3}, std::make_unique<me::InfoNceAlignment>(0.2),
                          std::make_unique<me::L2SpAnchor>(*fx.net));
  {
    torch::NoGradGuard no_grad;
    fx.net->weight.add_(torch::tensor({{0.1, 0.0, -0.2}, {0.0, 0.3, 0.0}}));
  }
  const double anchor = 0.01 + 0.04 + 0.09;  // Σ (θ − θ0)² of that step
  const me::LossTerms t = objective.loss(fx.z, fx.center, 0.0);
  const double svdd = svddByHand(torch::cat({fx.zs, fx.zt}), fx.center);  // svdd_on_target: source and target
  const double align = infoNceByHand(fx.zs, fx.zt, 0.2);
  EXPECT_NEAR(t.svdd.item<double>(), svdd, 1e-5);
  EXPECT_NEAR(t.align.item<double>(), align, 1e-5);
  EXPECT_NEAR(t.total.item<double>(), svdd + 0.5 * align + 0.3 * anchor, 1e-5);
}

TEST(Objective, PaperLossTakesDeepSvddOnTheSourceOnly) {
  Fixture fx;
  me::Objective objective({2.0, /*svdd_on_target=*/false, 0.0}, std::make_unique<me::InfoNceAlignment>(0.5), nullptr);
  const me::LossTerms t = objective.loss(fx.z, fx.center, 0.0);
  const double svdd = svddByHand(fx.zs, fx.center);
  EXPECT_NEAR(t.svdd.item<double>(), svdd, 1e-5);
  EXPECT_NEAR(t.total.item<double>(), svdd + 2.0 * infoNceByHand(fx.zs, fx.zt, 0.5), 1e-5);
}

TEST(Objective, WithoutAlignmentOrWeightItIsDeepSvddAlone) {
  Fixture fx;
  me::BatchFeatures source_only;
  source_only.source = fx.zs;
  std::vector<me::Objective> objectives;
  objectives.emplace_back(me::ObjectiveWeights{1.0, true, 0.0}, nullptr, nullptr);
  objectives.emplace_back(me::ObjectiveWeights{0.0, true, 0.0}, std::make_unique<me::PrototypeAlignment>(), nullptr);
  for (auto& objective : objectives) {
    EXPECT_FALSE(objective.aligning());
    const me::LossTerms t = objective.loss(source_only, fx.center, 0.0);
    EXPECT_NEAR(t.total.item<double>(), svddByHand(fx.zs, fx.center), 1e-5);
    EXPECT_EQ(t.align.item<double>(), 0.0);
  }
}

TEST(Objective, FromConfigFollowsTheKeys) {
  torch::nn::Linear net(torch::nn::LinearOptions(3, 2).bias(false));
  shiftad::Config cfg;
  cfg.align.method = shiftad::AlignMethod::kAdversarial;
  cfg.align.disc_hidden = 4;
  cfg.align.lambda = 0.0;  // not aligning, but the discriminator exists (and is checkpointed)
  me::Objective adversarial = me::Objective::fromConfig(cfg, *net, 2);
  EXPECT_FALSE(adversarial.aligning());
  ASSERT_NE(adversarial.module(), nullptr);
  EXPECT_EQ(adversarial.parameters().size(), adversarial.module()->parameters().size());

  cfg.align.method = shiftad::AlignMethod::kNone;
  cfg.align.lambda = 1.0;
  cfg.train.anchor = 2.0;
  me::Objective anchored = me::Objective::fromConfig(cfg, *net, 2);
  EXPECT_FALSE(anchored.aligning());
  EXPECT_EQ(anchored.module(), nullptr);
  {
    torch::NoGradGuard no_grad;
    net->weight.add_(0.5);  // 6 weights, each 0.5 from its anchor: Σ = 1.5
  }
  Fixture fx;
  me::BatchFeatures source_only;
  source_only.source = fx.zs;
  EXPECT_NEAR(anchored.loss(source_only, fx.center, 0.0).total.item<double>(), svddByHand(fx.zs, fx.center) + 2.0 * 1.5,
              1e-5);
}
