// CLIP visual towers (ViT, ModifiedResNet) against tests/oracle/models_clip.py, a
// re-implementation of OpenAI's clip/model.py: outputs on random weights (reduced
// sizes, for speed) and, for the full ViT-B/32 and RN50, every name and shape.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "config/Choices.h"
#include "io/SafeTensors.h"
#include "models/ClipVisual.h"
#include "models/FeatureExtractor.h"
#include "support/TestSupport.h"

using namespace shiftad;

namespace {

// Reduced towers: every op of the full ones (ViT: several blocks and heads; RN: a
// stride-1 block with a downsample, strided blocks, a 2x2 attention pool).
const char* kSmallVitArgs = "input_resolution=64 patch_size=16 width=64 layers=2 heads=4 output_dim=32";
models::ClipVitParams smallVit() { return {64, 16, 64, 2, 4, 32}; }

const char* kSmallRnArgs = "layers=1,1,1,1 width=16 heads=4 output_dim=64 input_resolution=64";
models::ClipResNetParams smallRn() { return {{1, 1, 1, 1}, 16, 4, 64, 64}; }

double relDiff(const torch::Tensor& y, const torch::Tensor& expected) {
  return ((y - expected).abs().max() / expected.abs().max()).item<double>();
}

/// Load the oracle's visual.* weights (text-tower tensors must be ignored) and
/// compare the trunk on the oracle's input.
template <typename Net>
void expectMatchesReference(Net& net, const std::string& tower, const std::string& args) {
  test::TempDir tmp;
  test::runPython("models_clip.py", "weights " + tower + " " + tmp.path() + " " + args);
  const auto report = io::loadIntoModule(net, io::readSafeTensors(tmp / "weights.safetensors"), "visual.", false);
  EXPECT_TRUE(report.unexpected.empty()) << report.unexpected.front();
  EXPECT_TRUE(report.mismatched.empty()) << report.mismatched.front();
  EXPECT_EQ(report.missing, (std::vector<std::string>{"head.0.weight"}));
  net.eval();
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  torch::NoGradGuard ng;
  const auto y = net.trunk(io.tensors.at("input"));
  const auto expected = io.tensors.at("trunk");
  ASSERT_EQ(y.sizes(), expected.sizes());
  EXPECT_LT(relDiff(y, expected), 1e-4);
  EXPECT_EQ(net.forward(io.tensors.at("input")).sizes(), (std::vector<int64_t>{2, 8}));
}

/// Names and shapes of `net`'s state dict (without our head) against the oracle's
/// `names_json` for the same tower.
void expectSameNamesAndShapes(const models::FeatureExtractor& net, const std::string& names_json) {
  std::ifstream f(names_json);
  const auto expected = nlohmann::json::parse(f);
  std::map<std::string, std::vector<int64_t>> ours, theirs;
  for (const auto& [name, t] : io::moduleStateDict(net))
    if (name.rfind("head.", 0) != 0) ours[name] = t.sizes().vec();
  for (const auto& [name, shape] : expected.items()) theirs[name] = shape.get<std::vector<int64_t>>();
  EXPECT_EQ(ours.size(), theirs.size()) << names_json;
  for (const auto& [name, shape] : theirs) {
    const auto it = ours.find(name);
    if (it == ours.end()) {
      ADD_FAILURE() << "missing in shiftad: " << name;
      continue;
    }
    EXPECT_EQ(it->second, shape) << name;
  }
  for (const auto& [name, shape] : ours) EXPECT_TRUE(theirs.count(name)) << "not in OpenAI's names: " << name;
}

std::shared_ptr<models::FeatureExtractor> makeArch(const std::string& arch) {
  ModelConfig mc;
  mc.arch = *config::parseChoice<Arch>(arch);  // the config spelling, also the Python oracle's argument
  mc.embedding_dim = 16;
  return models::makeFeatureExtractor(mc);
}

}  // namespace

TEST(Clip, VitMatchesReferenceOnRandomWeights) {
  models::ClipVisionTransformer net(smallVit(), 8);
  EXPECT_EQ(net.trunkDim(), 32);
  expectMatchesReference(net, "vit", kSmallVitArgs);
}

TEST(Clip, ModifiedResNetMatchesReferenceOnRandomWeights) {
  models::ClipModifiedResNet net(smallRn(), 8);
  EXPECT_EQ(net.trunkDim(), 64);
  expectMatchesReference(net, "rn", kSmallRnArgs);
}

// One test for both full towers: one Python start (importing torch dominates).
TEST(Clip, VitB32AndRN50HaveOpenAINamesAndShapes) {
  test::TempDir tmp;
  test::runPython("models_clip.py", "names " + tmp.path());
  const auto vit = std::dynamic_pointer_cast<models::ClipVisionTransformer>(makeArch("clip_vit_b32"));
  ASSERT_TRUE(vit);
  EXPECT_EQ(vit->trunkDim(), 512);
  EXPECT_EQ(vit->embeddingDim(), 16);
  expectSameNamesAndShapes(*vit, tmp / "vit_names.json");
  const auto rn = std::dynamic_pointer_cast<models::ClipModifiedResNet>(makeArch("clip_rn50"));
  ASSERT_TRUE(rn);
  EXPECT_EQ(rn->trunkDim(), 1024);
  expectSameNamesAndShapes(*rn, tmp / "rn_names.json");
}

TEST(Clip, StrictLoadNamesTheMissingVisualTensor) {
  models::ClipModifiedResNet source(smallRn(), 8), target(smallRn(), 8);
  io::SafeTensorsFile file;
  for (const auto& [name, t] : io::moduleStateDict(source))
    if (name != "layer2.0.downsample.0.weight") file.tensors["visual." + name] = t;
  file.tensors["logit_scale"] = torch::ones({});  // outside the prefix: not looked at
  try {
    io::loadIntoModule(target, file, "visual.", /*strict=*/true);
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer2.0.downsample.0.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1 missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("visual."), std::string::npos) << msg;  // the prefix it looked under
  }
}

TEST(Clip, WeightsWithoutVisualPrefixAreRejectedWithAHint) {
  test::TempDir tmp;
  io::writeSafeTensors(tmp / "tv.safetensors", {{"conv1.weight", torch::zeros({64, 3, 7, 7})}});
  ModelConfig mc;
  mc.arch = shiftad::Arch::kClipRn50;
  mc.weights = tmp / "tv.safetensors";
  try {
    models::makeFeatureExtractor(mc);
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("visual."), std::string::npos) << msg;
    EXPECT_NE(msg.find("is model.arch right?"), std::string::npos) << msg;
  }
}

TEST(Clip, WrongInputSizeIsAClearError) {
  models::ClipVisionTransformer net(smallVit(), 8);
  torch::NoGradGuard ng;
  try {
    net.trunk(torch::zeros({1, 3, 32, 32}));
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.image_size"), std::string::npos) << e.what();
  }
}
