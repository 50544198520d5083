#include "models/FeatureExtractor.h"

#include <spdlog/spdlog.h>

#include "common/Error.h"
#include "io/SafeTensors.h"
#include "models/ClipVisual.h"
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
  if (cfg.arch == "clip_vit_b32") return std::make_shared<ClipVisionTransformer>(ClipVitParams{}, cfg.embedding_dim);
  if (cfg.arch == "clip_rn50") return std::make_shared<ClipModifiedResNet>(ClipResNetParams{}, cfg.embedding_dim);
  SHIFTAD_THROW(
      "model.arch '{}' is unknown; available: small_cnn, resnet18, resnet50, mobilenet_v2, clip_vit_b32, clip_rn50",
      cfg.arch);
}

/// CLIP checkpoints hold both towers; F is the visual one, under OpenAI's "visual.".
std::string weightsPrefix(const std::string& arch) { return arch.rfind("clip_", 0) == 0 ? "visual." : ""; }

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// Copy pretrained backbone weights; only the fresh head (and nothing of the
/// backbone) may be missing. A classifier in the file (fc.*, classifier.*) is ignored,
/// and so is, for CLIP, everything outside "visual." (the text tower).
void loadBackbone(FeatureExtractor& net, const io::SafeTensorsFile& weights, const std::string& path,
                  const std::string& prefix) {
  const auto report = io::loadIntoModule(net, weights, prefix, /*strict=*/false);
  std::vector<std::string> missing;
  // BatchNorm's num_batches_tracked only counts training steps (unused with a fixed
  // momentum), and some exports drop it.
  for (const auto& m : report.missing)
    if (m.rfind("head.", 0) != 0 && !endsWith(m, ".num_batches_tracked")) missing.push_back(m);
  SHIFTAD_CHECK(missing.empty() && report.mismatched.empty(),
                "model.weights '{}' does not fit the architecture: {} backbone tensors missing (e.g. '{}{}'), {} with "
                "the wrong shape (e.g. '{}'); is model.arch right?{}",
                path, missing.size(), missing.empty() ? "" : prefix, missing.empty() ? "" : missing.front(),
                report.mismatched.size(), report.mismatched.empty() ? "" : report.mismatched.front(),
                prefix.empty() ? "" : " (CLIP weights are read under OpenAI's '" + prefix + "' names)");
  if (!report.unexpected.empty())
    spdlog::info("model.weights: ignored {} tensors that F does not use (e.g. '{}')", report.unexpected.size(),
                 report.unexpected.front());
}

}  // namespace

std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg) {
  if (cfg.weights.empty()) return makeArchitecture(cfg, nullptr);
  const auto weights = io::readSafeTensors(cfg.weights);
  auto net = makeArchitecture(cfg, &weights);
  loadBackbone(*net, weights, cfg.weights, weightsPrefix(cfg.arch));
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
