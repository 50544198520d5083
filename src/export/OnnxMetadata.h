// What an exported detector records about itself (ONNX metadata_props): how a caller
// prepares its input, what its outputs mean, and the run it came from.
#pragma once

#include <map>
#include <string>

#include "shiftad/Config.h"

namespace shiftad::exporting {

/// The input side of the exported graph: the side scoring resizes decoded images to
/// (data.resize, else data.image_size); the center crop to data.image_size is inside.
int exportInputSide(const Config& cfg);

/// The run's label-free decision (Detector::thresholdInfo), recorded with the model.
struct DecisionFacts {
  double threshold = 0.0;  ///< an image is anomalous when its score is above it; NaN: none
  std::string rule;        ///< threshold.rule, as configured (docs/method.md)
  bool fell_back = false;  ///< mixture found no two components: the normals' quantile set it
  double quantile = 0.95;  ///< threshold.quantile: of the quantile rules, and of a fallback
  /// Which center the score measures from: score.center, or source where a run with
  /// score.center dominant aligned nothing (api::LoadedRun::center_used).
  ScoreCenter center_used = ScoreCenter::kSource;
};

/// The one place the export's metadata is made (keys listed in docs/deploy.md): every
/// fact a program needs to use the model without shiftad, its decision threshold included.
std::map<std::string, std::string> exportMetadata(const Config& cfg, const DecisionFacts& decision);

}  // namespace shiftad::exporting
