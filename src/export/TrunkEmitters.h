// F's trunk as ONNX nodes, one emitter per architecture (small_cnn, resnet18/50,
// mobilenet_v2), each walking the modules of src/models/ in the order their forward
// runs them.
#pragma once

#include <string>

#include "export/OnnxGraph.h"
#include "export/OnnxLayers.h"

namespace shiftad::models {
class FeatureExtractor;
}

namespace shiftad::exporting {

/// The pooled trunk features (N x net.trunkDim()) of the normalized images `x`. An
/// Error naming the architecture for one that has no emitter (CLIP's towers).
std::string emitTrunk(OnnxGraph& g, const models::FeatureExtractor& net, const FeatureMap& x);

}  // namespace shiftad::exporting
