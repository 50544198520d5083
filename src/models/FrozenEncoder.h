// The frozen visual encoder Φ (paper Eq. 6-7): embeds the target pool once, for
// clustering only. Never trained, not needed at inference.
#pragma once

#include <memory>
#include <string>

#include <torch/types.h>

#include "shiftad/Config.h"

namespace shiftad::models {

class FrozenEncoder {
 public:
  virtual ~FrozenEncoder() = default;
  /// Features (float N x D) of uint8 RGB images N x 3 x H x W (any H, W: resized to
  /// the encoder's input size inside).
  virtual torch::Tensor encode(const torch::Tensor& images) = 0;
  /// Identifies the encoder and its preprocessing, for cache keys.
  virtual std::string id() const = 0;
};

/// Build Φ from the config; nullptr for encoder.type = none. Throws shiftad::Error for
/// a missing or unloadable file.
std::unique_ptr<FrozenEncoder> makeFrozenEncoder(const EncoderConfig& cfg);

}  // namespace shiftad::models
