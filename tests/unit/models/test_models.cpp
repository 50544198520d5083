// Feature extractors: Deep SVDD's bias-free rule, factory errors (torchvision
// parity: test_backbones.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/FeatureExtractor.h"
#include "support/TestSupport.h"

using namespace shiftad;

TEST(Models, EmbeddingLayersHaveNoBias) {
  for (const char* arch : {"small_cnn", "resnet18"}) {
    ModelConfig mc;
    mc.arch = arch;
    auto net = models::makeFeatureExtractor(mc);
    for (const auto& p : net->named_parameters(true)) {
      const auto& name = p.key();
      // BatchNorm shifts (ResNet's pretrained-style BN) are allowed; conv/linear biases are not.
      if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos) continue;
      EXPECT_EQ(name.find("bias"), std::string::npos) << arch << ": " << name;
    }
    auto x = torch::randn({4, 3, 32, 32});
    EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{4, mc.embedding_dim})) << arch;
  }
}

TEST(Models, UnknownArchitectureIsAClearError) {
  ModelConfig mc;
  mc.arch = "vgg";
  try {
    models::makeFeatureExtractor(mc);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("vgg"), std::string::npos);
  }
}
