// A trained detector as one self-contained ONNX model (shiftad export, Detector::exportOnnx):
//
//   pixels   uint8 N x R x R x 3 (RGB, NHWC; R = data.resize, else data.image_size)
//     -> center crop to data.image_size, x / 255, (x - data.mean) / data.std   (as scoring)
//     -> F's trunk -> [L2 normalisation when model.trunk_l2] -> F's bias-free head
//   embedding  float N x D   F(x)
//   score      float N       ||F(x) - c||^2, with the center c baked in
//
// uint8 NHWC is what image decoders and the C API's RGB8 buffers hold, so a caller
// feeds its pixels as they are (after the resize metadata "preprocessing" names).
#pragma once

#include <string>

#include <torch/types.h>

#include "export/OnnxMetadata.h"
#include "shiftad/Config.h"

namespace shiftad::models {
class FeatureExtractor;
}

namespace shiftad::exporting {

/// The ONNX model file's bytes for F (eval mode: BatchNorm's running statistics) and
/// the center `center` (D), with exportMetadata(cfg) as its metadata. An Error naming
/// the architecture for one that has no emitter.
std::string onnxModel(const Config& cfg, const models::FeatureExtractor& net, const torch::Tensor& center,
                      const DecisionFacts& decision);

/// onnxModel written to `path` atomically (complete or not there at all).
void writeOnnxModel(const Config& cfg, const models::FeatureExtractor& net, const torch::Tensor& center,
                    const DecisionFacts& decision, const std::string& path);

}  // namespace shiftad::exporting
