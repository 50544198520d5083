// F's eval-only copy (models/InferenceNet.h): folding BatchNorm into the convolution
// before it, channels-last activations and in-place ReLU6 / residual sums must compute
// what F's own eval-mode forward computes, up to float rounding.
#include "models/InferenceNet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/MobileNetV2.h"

namespace {

using namespace shiftad;

double relDiff(const torch::Tensor& a, const torch::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); }

/// BatchNorm statistics far from the identity (the ImageNet weights' BatchNorms are
/// identities, so random ones are what exercises the fold).
void randomizeBatchNorms(torch::nn::Module& net) {
  torch::NoGradGuard ng;
  for (const auto& m : net.modules(false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.5, 0.5);
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
    }
}

}  // namespace

TEST(InferenceNet, FoldedBatchNormIsTheAffineMapOfEvalModeBatchNorm) {
  torch::manual_seed(0);
  const auto w = torch::randn({8, 4, 3, 3});
  const auto gamma = torch::rand({8}) + 0.5, beta = torch::randn({8});
  const auto mean = torch::randn({8}), var = torch::rand({8}) + 0.1;
  const double eps = 1e-3;
  const auto x = torch::randn({2, 4, 9, 9});
  // The oracle: BatchNorm's formula written out, after the plain convolution.
  const auto y = torch::conv2d(x, w, {}, 1, 1);
  const auto expected =
      (y - mean.view({1, -1, 1, 1})) / (var.view({1, -1, 1, 1}) + eps).sqrt() * gamma.view({1, -1, 1, 1}) +
      beta.view({1, -1, 1, 1});
  auto f = models::foldBatchNorm(w, gamma, beta, mean, var, eps);
  f.padding = 1;
  EXPECT_LT(relDiff(f.forward(x), expected), 1e-6);
  f.relu6 = true;
  EXPECT_LT(relDiff(f.forward(x), expected.clamp(0.0, 6.0)), 1e-6);
  EXPECT_TRUE(f.weight.is_contiguous(torch::MemoryFormat::ChannelsLast));
}

class InferenceNetMobileNetV2 : public ::testing::TestWithParam<models::ConvPadding> {};

TEST_P(InferenceNetMobileNetV2, ComputesFsEvalForwardOnRandomWeights) {
  torch::manual_seed(1);
  models::MobileNetV2 net(32, 0, GetParam());
  randomizeBatchNorms(net);
  net.eval();
  torch::NoGradGuard ng;
  // An even and an odd side: TF 'SAME' pads (0,1) and (1,1) there.
  for (const int64_t side : {64, 67}) {
    const auto x = torch::randn({3, 3, side, side});
    const auto expected = net.forward(x);
    const auto fast = net.inferenceNet()->forward(x);
    ASSERT_EQ(fast.sizes(), expected.sizes());
    EXPECT_LT(relDiff(fast, expected), 1e-5) << "side " << side;
  }
}

INSTANTIATE_TEST_SUITE_P(Paddings, InferenceNetMobileNetV2,
                         ::testing::Values(models::ConvPadding::Symmetric, models::ConvPadding::TfSame));

TEST(InferenceNet, KnowsWhenFsWeightsChanged) {
  torch::manual_seed(2);
  models::MobileNetV2 net(8);
  net.eval();
  const auto copy = net.inferenceNet();
  EXPECT_TRUE(copy->upToDate(net));
  torch::NoGradGuard ng;
  net.parameters().front().mul_(1.5);  // as an optimizer step does: in place
  EXPECT_FALSE(copy->upToDate(net));
  EXPECT_TRUE(net.inferenceNet()->upToDate(net));
}
