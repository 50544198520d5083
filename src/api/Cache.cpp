// shiftad::Cache (include/shiftad/Detector.h): the public face of api::InputCache.
#include <torch/torch.h>

#include "api/Features.h"
#include "api/InputCache.h"
#include "shiftad/Detector.h"

namespace shiftad {

Cache::Cache() : inputs_(std::make_unique<api::InputCache>()) {}

Cache::~Cache() = default;

void Cache::warm(const Config& cfg, const std::vector<std::string>& paths) {
  if (cfg.model.freeze == -1) api::trunkFeatures(*inputs_, cfg, paths);
  if (cfg.encoder.type != EncoderType::kNone) api::frozenFeatures(*inputs_, cfg, paths);
}

InputStats Cache::stats() const { return inputs_->stats(); }

void Cache::clear() { inputs_->clear(); }

api::InputCache& Cache::inputs() const { return *inputs_; }

}  // namespace shiftad
