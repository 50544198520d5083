// A warning for a pretrained architecture used frozen without its weights: Φ as F's
// initial trunk, or frozen trunk stages, then hold random features that nothing trains.
#pragma once

#include "shiftad/Config.h"

namespace shiftad::api {

/// Logs one warning when model.arch has pretrained weights to load (every arch but
/// small_cnn, which has none) and model.weights is empty, while the run uses that trunk
/// frozen: as Φ (encoder.type: backbone) or in its frozen stages (model.freeze != 0,
/// when F is trained). Once per process and message.
void warnAboutRandomTrunk(const Config& cfg);

}  // namespace shiftad::api
