#include "models/FeatureExtractor.h"

#include "common/Error.h"
#include "models/ResNet.h"
#include "models/SmallCnn.h"

namespace shiftad::models {

std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg) {
  if (cfg.arch == "small_cnn") return std::make_shared<SmallCnn>(cfg.width, cfg.embedding_dim);
  if (cfg.arch == "resnet18") return std::make_shared<ResNet18>(cfg.embedding_dim);
  SHIFTAD_THROW("model.arch '{}' is unknown; available: small_cnn, resnet18", cfg.arch);
}

}  // namespace shiftad::models
