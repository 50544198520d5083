// The files of a run directory (README.md, "Run directory"): what fit writes, load and
// eval read, and the benchmark lab reads back for its figures. Torch-free.
#pragma once

namespace shiftad {

constexpr const char* kConfigFile = "config.yaml";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kCenterFile = "center.safetensors";
constexpr const char* kReferenceFile = "reference.safetensors";  ///< frozen-encoder baselines
constexpr const char* kMetricsFile = "metrics.jsonl";
constexpr const char* kSummaryFile = "summary.json";
constexpr const char* kDominantFile = "dominant.txt";  ///< pool images of the final dominant set
constexpr const char* kPoolFile =
    "pool.txt";  ///< the target pool of the run's split (eval refuses a test split holding any)
constexpr const char* kTestScoresFile = "test_scores.csv";         ///< label,score,path of the test split (eval)
constexpr const char* kCheckpointFile = "checkpoint.safetensors";  ///< training state (training/Checkpoint.h)
constexpr const char* kCalibrationFile =
    "calibration.json";  ///< the decision threshold and the calibration normals' scores (set at the end of fit)
constexpr const char* kInputsFile =
    "inputs.json";  ///< what the run reads besides its settings (images, weights), as it started: resume checks it
constexpr const char* kEncoderFile =
    "encoder.pt";  ///< a copy of Φ (encoder.type torchscript) for frozen-encoder baselines
/// Written first into every run folder shiftad makes: only a folder holding it (or, from
/// versions before it, a config.yaml beside a safetensors file shiftad wrote) is one
/// whose files shiftad may replace or delete; a user's config.yaml is never taken for one.
constexpr const char* kRunMarkerFile = ".shiftad-run";

}  // namespace shiftad
