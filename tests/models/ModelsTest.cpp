// Feature extractors: Deep SVDD's bias-free rule, factory errors (torchvision
// parity: BackbonesTest.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/FeatureExtractor.h"
#include "support/TestSupport.h"

using namespace shiftad;

TEST(Models, EmbeddingLayersHaveNoBias) {
  for (const Arch arch : {Arch::kSmallCnn, Arch::kResNet18}) {
    ModelConfig mc;
    mc.arch = arch;
    auto net = models::makeFeatureExtractor(mc);
    for (const auto& p : net->named_parameters(true)) {
      const auto& name = p.key();
      // BatchNorm shifts (ResNet's pretrained-style BN) are allowed; conv/linear biases are not.
      if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos) continue;
      EXPECT_EQ(name.find("bias"), std::string::npos) << toString(arch) << ": " << name;
    }
    auto x = torch::randn({4, 3, 32, 32});
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{4, mc.embedding_dim})) << toString(arch);
  }
}

namespace {
std::shared_ptr<models::FeatureExtractor> resnet18(int freeze) {
  ModelConfig mc;
  mc.arch = shiftad::Arch::kResNet18;
  mc.freeze = freeze;
  torch::manual_seed(0);
  return models::makeFeatureExtractor(mc);
}
}  // namespace

TEST(Models, FreezeStopsGradientsAndKeepsBatchNormStatistics) {
  auto net = resnet18(2);  // stem + layer1
  EXPECT_EQ(net->frozenStages(), 2);
  EXPECT_FALSE(net->trunkFrozen());
  for (const auto& p : net->named_parameters(true)) {
    const auto& name = p.key();
    const bool frozen = name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 || name.rfind("layer1.", 0) == 0;
    EXPECT_EQ(p.value().requires_grad(), !frozen) << name;
  }
  net->train();
  const auto stem_mean = net->named_buffers()["bn1.running_mean"].clone();
  const auto l2_mean = net->named_buffers()["layer2.0.bn1.running_mean"].clone();
  net->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  // Frozen stages use (and keep) their running statistics; trainable ones update them.
  EXPECT_TRUE(torch::equal(net->named_buffers()["bn1.running_mean"], stem_mean));
  EXPECT_FALSE(torch::equal(net->named_buffers()["layer2.0.bn1.running_mean"], l2_mean));
}

TEST(Models, FreezeAllLeavesOnlyTheHead) {
  auto net = resnet18(-1);
  EXPECT_TRUE(net->trunkFrozen());
  for (const auto& p : net->named_parameters(true))
    EXPECT_EQ(p.value().requires_grad(), p.key().rfind("head.", 0) == 0) << p.key();
  // The head alone on trunk features equals the whole network.
  net->eval();
  torch::NoGradGuard ng;
  const auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::allclose(net->head(net->trunk(x)), net->forward(x)));
}

TEST(Models, FreezeOutOfRangeIsAClearError) {
  try {
    resnet18(6);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("5 stages"), std::string::npos) << e.what();
  }
}

TEST(Models, MlpHeadIsBiasFreeWithTwoLayers) {
  ModelConfig mc;
  mc.head = shiftad::Head::kMlp;
  mc.head_hidden = 24;
  auto net = models::makeFeatureExtractor(mc);
  const auto params = net->named_parameters(true);
  ASSERT_NE(params.find("head.0.weight"), nullptr);
  ASSERT_NE(params.find("head.2.weight"), nullptr);
  EXPECT_EQ(params["head.0.weight"].sizes(), (std::vector<int64_t>{24, net->trunkDim()}));
  EXPECT_EQ(params["head.2.weight"].sizes(), (std::vector<int64_t>{mc.embedding_dim, 24}));
  for (const auto& p : params) EXPECT_EQ(p.key().find("head.1"), std::string::npos);
}
