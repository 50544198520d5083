#include "models/FeatureExtractor.h"

#include <spdlog/spdlog.h>

#include "common/Error.h"
#include "io/SafeTensors.h"
#include "models/MobileNetV2.h"
#include "models/ResNet.h"
#include "models/SmallCnn.h"

namespace shiftad::models {

namespace {

std::shared_ptr<FeatureExtractor> makeArchitecture(const ModelConfig& cfg, const io::SafeTensorsFile* weights) {
  if (cfg.arch == "small_cnn") return std::make_shared<SmallCnn>(cfg.width, cfg.embedding_dim);
  if (cfg.arch == "resnet18") return std::make_shared<ResNet18>(cfg.embedding_dim);
  if (cfg.arch == "resnet50") return std::make_shared<ResNet50>(cfg.embedding_dim);
  if (cfg.arch == "mobilenet_v2") {
    // As F, no classifier. TF-trained weights need tf_same padding: taken from the
    // weights file's metadata unless the config says otherwise.
    ConvPadding padding = ConvPadding::Symmetric;
    if (cfg.padding != "auto")
      padding = parseConvPadding(cfg.padding);
    else if (weights)
      padding = paddingFromMetadata(weights->metadata);
    return std::make_shared<MobileNetV2>(cfg.embedding_dim, 0, padding);
  }
  SHIFTAD_THROW("model.arch '{}' is unknown; available: small_cnn, resnet18, resnet50, mobilenet_v2", cfg.arch);
}

/// Copy pretrained backbone weights; only the fresh head (and nothing of the
/// backbone) may be missing. A classifier in the file (fc.*, classifier.*) is ignored.
void loadBackbone(FeatureExtractor& net, const io::SafeTensorsFile& weights, const std::string& path) {
  const auto report = io::loadIntoModule(net, weights, "", /*strict=*/false);
  std::vector<std::string> missing;
  for (const auto& m : report.missing)
    if (m.rfind("head.", 0) != 0) missing.push_back(m);
  SHIFTAD_CHECK(missing.empty() && report.mismatched.empty(),
                "model.weights '{}' does not fit the architecture: {} backbone tensors missing (e.g. '{}'), {} with the "
                "wrong shape (e.g. '{}'); is model.arch right?",
                path, missing.size(), missing.empty() ? "" : missing.front(), report.mismatched.size(),
                report.mismatched.empty() ? "" : report.mismatched.front());
  if (!report.unexpected.empty())
    spdlog::info("model.weights: ignored {} tensors that F does not use (e.g. '{}')", report.unexpected.size(),
                 report.unexpected.front());
}

}  // namespace

std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg) {
  if (cfg.weights.empty()) return makeArchitecture(cfg, nullptr);
  const auto weights = io::readSafeTensors(cfg.weights);
  auto net = makeArchitecture(cfg, &weights);
  loadBackbone(*net, weights, cfg.weights);
  return net;
}

std::shared_ptr<FeatureExtractor> loadFeatureExtractor(const ModelConfig& cfg, const io::SafeTensorsFile& checkpoint) {
  ModelConfig arch = cfg;
  arch.weights.clear();
  if (arch.padding == "auto") arch.padding = "symmetric";
  if (const auto it = checkpoint.metadata.find("padding"); it != checkpoint.metadata.end()) arch.padding = it->second;
  auto net = makeArchitecture(arch, nullptr);
  io::loadIntoModule(*net, checkpoint, "", /*strict=*/true);
  return net;
}

}  // namespace shiftad::models
