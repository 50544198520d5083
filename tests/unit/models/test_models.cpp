// Feature extractors: torchvision parity of ResNet-18, Deep SVDD's bias-free rule.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/SafeTensors.h"
#include "models/FeatureExtractor.h"
#include "models/ResNet.h"
#include "support/TestSupport.h"

using namespace shiftad;

TEST(Models, ResNet18MatchesTorchvisionOnRandomWeights) {
  test::TempDir tmp;
  test::runPython("models_resnet.py", tmp.path());
  ModelConfig mc;
  mc.arch = "resnet18";
  mc.embedding_dim = 16;
  auto net = std::dynamic_pointer_cast<models::ResNet18>(models::makeFeatureExtractor(mc));
  ASSERT_TRUE(net);
  const auto weights = io::readSafeTensors(tmp / "weights.safetensors");
  const auto report = io::loadIntoModule(*net, weights, "", /*strict=*/false);
  EXPECT_TRUE(report.unexpected.empty());
  EXPECT_TRUE(report.mismatched.empty());
  // Only our bias-free head is not in torchvision's state dict.
  EXPECT_EQ(report.missing, (std::vector<std::string>{"head.weight"}));
  net->eval();
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  torch::NoGradGuard ng;
  const auto y = net->trunk(io.tensors.at("input"));
  const auto expected = io.tensors.at("output");
  ASSERT_EQ(y.sizes(), expected.sizes());
  const double rel = ((y - expected).abs().max() / expected.abs().max()).item<double>();
  EXPECT_LT(rel, 1e-4);
}

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
