// How many images one no-grad forward pass takes: scoring (Detector::score, eval), the
// trunk and Φ features of training's caches, and F's embedding of image rows.
#pragma once

#include <cstdint>

namespace shiftad::models {

/// Images per inference batch. A pass's activations grow with the batch, and its speed
/// does not: MobileNetV2 at 224 px on 2 cores (`shiftad_bench score --mode forward
/// --batch B`, 958 images) ran 95-100 images/s at 8, 105-115 at 16 and 90-113 at 64,
/// in 357, 555 and 1720 MiB; at 256, 17-71 images/s in 4-7 GB (docs/performance.md).
/// In eval mode an image's features do not depend on the others in its batch, so the
/// batch size changes no score (test Detector.AnImagesScoreDoesNotDependOnTheImagesIn-
/// ItsInferenceBatch; 64 and 16 gave the same 958 scores bit for bit).
inline constexpr int64_t kInferenceImages = 16;

}  // namespace shiftad::models
