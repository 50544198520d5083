// ResNet-18/50 and MobileNetV2: torchvision parity on random weights (both padding
// modes), and the real TF-trained ImageNet MobileNetV2 of shared/weights.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/Error.h"
#include "config/Choices.h"
#include "data/ImageTensors.h"
#include "io/SafeTensors.h"
#include "models/FeatureExtractor.h"
#include "models/MobileNetV2.h"
#include "models/ResNet.h"
#include "support/TestSupport.h"

using namespace shiftad;
namespace fs = std::filesystem;

namespace {

double relDiff(const torch::Tensor& y, const torch::Tensor& expected) {
  return ((y - expected).abs().max() / expected.abs().max()).item<double>();
}

void expectOnlyHeadMissing(const io::LoadReport& r) {
  EXPECT_TRUE(r.unexpected.empty()) << r.unexpected.front();
  EXPECT_TRUE(r.mismatched.empty()) << r.mismatched.front();
  // Only our bias-free head is not in torchvision's state dict.
  EXPECT_EQ(r.missing, (std::vector<std::string>{"head.0.weight"}));
}

}  // namespace

/// ResNet `arch` (torchvision layout) against torchvision with random weights.
template <typename Net>
void expectResNetMatchesTorchvision(const std::string& arch, int64_t trunk_dim) {
  test::TempDir tmp;
  test::runPython("models_backbones.py", arch + " " + tmp.path());
  ModelConfig mc;
  mc.arch = *config::parseChoice<Arch>(arch);  // the config spelling, also the Python oracle's argument
  mc.embedding_dim = 16;
  auto net = std::dynamic_pointer_cast<Net>(models::makeFeatureExtractor(mc));
  ASSERT_TRUE(net);
  EXPECT_EQ(net->trunkDim(), trunk_dim);
  expectOnlyHeadMissing(io::loadIntoModule(*net, io::readSafeTensors(tmp / "weights.safetensors"), "", false));
  net->eval();
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  torch::NoGradGuard ng;
  const auto x = io.tensors.at("input_64");
  const auto y = net->trunk(x);
  const auto expected = io.tensors.at("trunk_64");
  ASSERT_EQ(y.sizes(), expected.sizes());
  EXPECT_LT(relDiff(y, expected), 1e-4);
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 16}));
}

TEST(Backbones, ResNet18MatchesTorchvisionOnRandomWeights) {
  expectResNetMatchesTorchvision<models::ResNet18>("resnet18", 512);
}

TEST(Backbones, ResNet50MatchesTorchvisionOnRandomWeights) {
  expectResNetMatchesTorchvision<models::ResNet50>("resnet50", 2048);
}

class MobileNetV2Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(MobileNetV2Parity, MatchesTorchvisionOnRandomWeights) {
  const std::string mode = GetParam();
  test::TempDir tmp;
  test::runPython("models_backbones.py", "mobilenet_v2 " + tmp.path() + " " + mode);
  const auto weights = io::readSafeTensors(tmp / "weights.safetensors");
  const auto padding = models::paddingFromMetadata(weights.metadata);
  EXPECT_EQ(models::toString(padding), mode);
  models::MobileNetV2 net(16, 10, padding);
  expectOnlyHeadMissing(io::loadIntoModule(net, weights, "", false));
  net.eval();
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  torch::NoGradGuard ng;
  // tf_same also has an odd size, where 'SAME' pads stride-2 convs (1,1), not (0,1).
  int sizes = 0;
  for (int s : {64, 67}) {
    const auto in = io.tensors.find("input_" + std::to_string(s));
    if (in == io.tensors.end()) continue;
    ++sizes;
    const auto trunk = net.trunk(in->second);
    const auto expected = io.tensors.at("trunk_" + std::to_string(s));
    ASSERT_EQ(trunk.sizes(), expected.sizes());
    EXPECT_LT(relDiff(trunk, expected), 1e-4) << mode << " " << s;
    const auto logits = net.logits(in->second);
    EXPECT_LT(relDiff(logits, io.tensors.at("logits_" + std::to_string(s))), 1e-4) << mode << " " << s;
  }
  EXPECT_EQ(sizes, mode == "tf_same" ? 2 : 1);
}

// Training mode: batch statistics and the backward pass (the in-place ReLU6 keeps only its
// result, channels-last activations) give torchvision's gradients, in float64 (the
// oracle's too: float32 rounding alone moves these ill-conditioned gradients by ~0.5%).
TEST_P(MobileNetV2Parity, TrainingStepGradientsMatchTorchvision) {
  const std::string mode = GetParam();
  test::TempDir tmp;
  test::runPython("models_backbones.py", "mobilenet_v2 " + tmp.path() + " " + mode);
  const auto weights = io::readSafeTensors(tmp / "weights.safetensors");
  models::MobileNetV2 net(16, 10, models::paddingFromMetadata(weights.metadata));
  io::loadIntoModule(net, weights, "", false);
  net.train();
  net.to(torch::kDouble);
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  const auto trunk = net.trunk(io.tensors.at("input_64").to(torch::kDouble));
  EXPECT_LT(relDiff(trunk.detach(), io.tensors.at("train_trunk_64")), 1e-9) << mode;
  (trunk * io.tensors.at("train_probe_64")).sum().backward();
  const auto params = net.named_parameters();
  int checked = 0;
  for (const auto& [key, expected] : io.tensors) {
    if (key.rfind("grad.", 0) != 0) continue;
    ++checked;
    const auto& grad = params[key.substr(5)].grad();
    ASSERT_TRUE(grad.defined()) << key;
    EXPECT_LT(relDiff(grad, expected), 1e-9) << mode << " " << key;
  }
  EXPECT_EQ(checked, 5);
}

INSTANTIATE_TEST_SUITE_P(Backbones, MobileNetV2Parity, ::testing::Values("symmetric", "tf_same"));

TEST(Backbones, MobileNetV2AsFeatureExtractorIsBiasFreeWithoutClassifier) {
  ModelConfig mc;
  mc.arch = shiftad::Arch::kMobileNetV2;
  mc.embedding_dim = 8;
  auto net = std::dynamic_pointer_cast<models::MobileNetV2>(models::makeFeatureExtractor(mc));
  ASSERT_TRUE(net);
  EXPECT_EQ(net->numClasses(), 0);
  // Deep SVDD: only BatchNorm shifts may carry a bias; no classifier is built.
  for (const auto& m : net->named_modules()) {
    if (m.value()->as<torch::nn::BatchNorm2d>()) continue;
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) EXPECT_NE(p.key(), "bias") << m.key();
    EXPECT_EQ(m.key().rfind("classifier", 0), std::string::npos) << m.key();
  }
  torch::NoGradGuard ng;
  net->eval();
  const auto x = torch::randn({3, 3, 32, 32});
  EXPECT_EQ(net->trunk(x).sizes(), (std::vector<int64_t>{3, 1280}));
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_THROW(net->logits(x), shiftad::Error);
}

TEST(Backbones, PaddingModeFromMetadata) {
  EXPECT_EQ(models::paddingFromMetadata({}), models::ConvPadding::Symmetric);
  EXPECT_EQ(models::paddingFromMetadata({{"padding", "tf_same"}}), models::ConvPadding::TfSame);
  EXPECT_EQ(models::paddingFromMetadata({{"padding", "symmetric"}}), models::ConvPadding::Symmetric);
  try {
    models::paddingFromMetadata({{"padding", "valid"}});
    FAIL();
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find("valid"), std::string::npos);
  }
}

namespace {

struct ImageNetMobileNet {
  std::string dir;  // shared/weights
  std::shared_ptr<models::MobileNetV2> net;
  std::vector<std::string> labels;
};

/// The TF-trained ImageNet MobileNetV2 of shared/weights, or "" dir when absent.
ImageNetMobileNet loadImageNetMobileNet() {
  ImageNetMobileNet m;
  const std::string shared = test::sharedDir();
  if (shared.empty() || !fs::exists(shared + "/weights/mobilenet_v2_imagenet.safetensors")) return m;
  m.dir = shared + "/weights";
  const auto weights = io::readSafeTensors(m.dir + "/mobilenet_v2_imagenet.safetensors");
  const auto padding = models::paddingFromMetadata(weights.metadata);
  EXPECT_EQ(padding, models::ConvPadding::TfSame);
  m.net = std::make_shared<models::MobileNetV2>(16, 1001, padding);
  expectOnlyHeadMissing(io::loadIntoModule(*m.net, weights, "", false));
  m.net->eval();
  std::ifstream in(m.dir + "/imagenet_labels.txt");
  for (std::string line; std::getline(in, line);) m.labels.push_back(line);
  return m;
}

// The weights' preprocessing: RGB in [0,1], normalized with mean = std = 0.50196.
const std::vector<double> kMeanStd = {0.50196, 0.50196, 0.50196};

}  // namespace

TEST(Backbones, ImageNetMobileNetV2ClassifiesSamplesAndMatchesTorchScript) {
  auto m = loadImageNetMobileNet();
  if (m.dir.empty()) GTEST_SKIP() << "shared/weights/mobilenet_v2_imagenet.safetensors not found (no ../shared)";
  ASSERT_EQ(m.labels.size(), 1001u);
  // Plain resize of the whole image to 224x224 (no crop), as the Coral classifier does.
  const auto batch = data::loadImages({m.dir + "/samples/cat.bmp", m.dir + "/samples/grace_hopper.bmp"}, 224, 1);
  ASSERT_EQ(batch.images.size(0), 2);
  torch::NoGradGuard ng;
  const auto x = data::normalize(batch.images, kMeanStd, kMeanStd);
  const auto probs = torch::softmax(m.net->logits(x), 1);
  const auto top = probs.argmax(1);
  EXPECT_EQ(m.labels.at(top[0].item<int64_t>()), "Egyptian cat");
  EXPECT_EQ(m.labels.at(top[1].item<int64_t>()), "military uniform");
  EXPECT_GT(probs[0].max().item<double>(), 0.5);

  // The TorchScript reference takes [0,255] RGB and normalizes inside.
  auto ref = torch::jit::load(m.dir + "/mobilenet_v2_imagenet_features.torchscript.pt");
  ref.eval();
  const auto expected = ref.forward({batch.images.to(torch::kFloat)}).toTensor();
  const auto features = m.net->trunk(x);
  ASSERT_EQ(features.sizes(), expected.sizes());
  EXPECT_LT(relDiff(features, expected), 1e-4);
}

TEST(Backbones, ImageNetMobileNetV2MatchesTorchScriptAtOddSize) {
  // PACS images are 227x227: odd sizes exercise 'SAME' padding's (1,1) case.
  auto m = loadImageNetMobileNet();
  if (m.dir.empty()) GTEST_SKIP() << "shared/weights/mobilenet_v2_imagenet.safetensors not found (no ../shared)";
  const auto batch = data::loadImages({m.dir + "/samples/cat.bmp"}, 227, 1);
  torch::NoGradGuard ng;
  auto ref = torch::jit::load(m.dir + "/mobilenet_v2_imagenet_features.torchscript.pt");
  ref.eval();
  const auto expected = ref.forward({batch.images.to(torch::kFloat)}).toTensor();
  const auto features = m.net->trunk(data::normalize(batch.images, kMeanStd, kMeanStd));
  EXPECT_LT(relDiff(features, expected), 1e-4);
}

namespace {

/// The error of building F from `tensors` (with `metadata`) as model.weights.
std::string loadError(const test::TempDir& tmp, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {}) {
  io::writeSafeTensors(tmp / "w.safetensors", tensors, metadata);
  ModelConfig mc;
  mc.weights = tmp / "w.safetensors";
  return test::errorOf([&] { models::makeFeatureExtractor(mc); });
}

}  // namespace

TEST(Backbones, WeightsThatDoNotFitSayWhyAndRenamedOnesSaySo) {
  test::TempDir tmp;
  const auto own = io::moduleStateDict(*models::makeFeatureExtractor(ModelConfig{}));
  // Every name under DataParallel's "module.": it read as another architecture.
  std::map<std::string, torch::Tensor> wrapped;
  for (const auto& [name, t] : own) wrapped["module." + name] = t;
  auto msg = loadError(tmp, wrapped, {{"architecture", "small_cnn"}});
  EXPECT_NE(msg.find("the file's names carry the prefix 'module.'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("of the file's unused (e.g. 'module."), std::string::npos) << msg;
  EXPECT_NE(msg.find("(the file says architecture 'small_cnn')"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("e.g. ''"), std::string::npos) << msg;
  // A tensor of another shape: both shapes.
  auto reshaped = own;
  const auto name = reshaped.begin()->first;
  reshaped[name] = torch::zeros({3});
  msg = loadError(tmp, reshaped);
  EXPECT_NE(msg.find(fmt::format("1 of another shape (e.g. '{}': F has [{}], the file [3])", name,
                                 fmt::join(own.at(name).sizes(), ", "))),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("is model.arch right?"), std::string::npos) << msg;
}

TEST(Backbones, AnUnknownPaddingInTheWeightsMetadataNamesTheFileAndTheKeyThatOverridesIt) {
  test::TempDir tmp;
  ModelConfig mnv2;
  mnv2.arch = Arch::kMobileNetV2;
  const auto own = io::moduleStateDict(*models::makeFeatureExtractor(mnv2));
  io::writeSafeTensors(tmp / "w.safetensors", own, {{"padding", "TF_SAME"}});
  mnv2.weights = tmp / "w.safetensors";
  const auto msg = test::errorOf([&] { models::makeFeatureExtractor(mnv2); });
  EXPECT_NE(msg.find("model.weights '" + mnv2.weights + "': its metadata's padding:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'TF_SAME'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("set model.padding"), std::string::npos) << msg;
  mnv2.padding = Padding::kTfSame;  // the config's choice wins over the metadata
  EXPECT_NO_THROW(models::makeFeatureExtractor(mnv2));
}

TEST(Backbones, ARunsTrainedHeadInTheWeightsIsNotLoaded) {
  // A run's model.safetensors as model.weights: its head was copied in (or, of another
  // size, refused as another architecture), where F's head starts fresh.
  test::TempDir tmp;
  auto own = io::moduleStateDict(*models::makeFeatureExtractor(ModelConfig{}));
  int heads = 0;
  for (auto& [name, t] : own)
    if (name.rfind("head.", 0) == 0) t = torch::full_like(t, 7.0f), ++heads;
  ASSERT_GT(heads, 0);
  io::writeSafeTensors(tmp / "run.safetensors", own);
  ModelConfig mc;
  mc.weights = tmp / "run.safetensors";
  const auto loaded = io::moduleStateDict(*models::makeFeatureExtractor(mc));
  for (const auto& [name, t] : loaded) {
    if (name.rfind("head.", 0) == 0)
      EXPECT_FALSE(torch::equal(t, own.at(name))) << name << " came from the file";
    else
      EXPECT_TRUE(torch::equal(t, own.at(name))) << name;
  }
  mc.embedding_dim = ModelConfig{}.embedding_dim + 3;  // another head size: loads all the same
  EXPECT_NO_THROW(models::makeFeatureExtractor(mc));
}
