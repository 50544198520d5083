#include "api/RandomTrunkCheck.h"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/LogOnce.h"

namespace shiftad::api {

void warnAboutRandomTrunk(const Config& cfg) {
  // small_cnn is trained from scratch by design (the synthetic benchmark's Φ is its random
  // trunk); a ResNet, MobileNet or CLIP tower without its weights is most likely a
  // forgotten model.weights.
  if (cfg.model.arch == Arch::kSmallCnn || !cfg.model.weights.empty()) return;
  std::vector<std::string> frozen;
  if (cfg.encoder.type == EncoderType::kBackbone)
    frozen.push_back("Φ (encoder.type: backbone) clusters the pool in it");
  if (cfg.model.freeze != 0 && cfg.score.method == ScoreMethod::kSvdd)
    frozen.push_back(cfg.model.freeze == -1
                         ? "model.freeze -1 trains only the head on it"
                         : fmt::format("model.freeze {} keeps its first stages as they are", cfg.model.freeze));
  if (frozen.empty()) return;
  logOnce(
      spdlog::level::warn,
      fmt::format("model.weights is empty, so F's {} trunk holds random weights, and {}: these features are never "
                  "trained; set model.weights to the architecture's pretrained weights (docs/models.md), or mean it",
                  toString(cfg.model.arch), fmt::join(frozen, ", and ")));
}

}  // namespace shiftad::api
