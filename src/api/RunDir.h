// The run directory: what `train` writes and `score` / `eval` read.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/FrozenScorer.h"
#include "shiftad/Config.h"
#include "training/Trainer.h"

namespace shiftad::api {

constexpr const char* kConfigFile = "config.yaml";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kCenterFile = "center.safetensors";
constexpr const char* kReferenceFile = "reference.safetensors";  ///< frozen-encoder baselines
constexpr const char* kMetricsFile = "metrics.jsonl";
constexpr const char* kSummaryFile = "summary.json";
constexpr const char* kDominantFile = "dominant.txt";              ///< pool images of the final dominant set
constexpr const char* kTestScoresFile = "test_scores.csv";         ///< label,score,path of the test split (eval)
constexpr const char* kCheckpointFile = "checkpoint.safetensors";  ///< training state (training/Checkpoint.h)
constexpr const char* kEncoderFile =
    "encoder.pt";  ///< a copy of Φ (encoder.type torchscript) for frozen-encoder baselines

/// Write `text` to PATH.tmp-PID, fsync, rename over PATH, fsync the folder (a reader
/// never sees half a file; after a power loss PATH is the old file or the new one).
void writeTextAtomic(const std::string& path, const std::string& text);

/// What a folder given as a run directory holds.
struct RunDirState {
  int entries = 0;                   ///< 0: missing or empty
  bool has_config = false;           ///< a config.yaml: enough to resume (a run killed before its first epoch)
  bool is_run = false;               ///< a config and something training wrote
  bool finished = false;             ///< holds a trained model (or a frozen baseline's reference)
  std::vector<std::string> foreign;  ///< entries that shiftad does not write there (the user's)
};
RunDirState inspectRunDir(const std::string& dir);

/// Where `train --overwrite` builds the run that replaces RUN_DIR: a hidden sibling,
/// PARENT/.NAME.replacement, on the same file system.
std::string replacementDir(const std::string& run_dir);

/// Put the complete run in `replacement` in place of RUN_DIR and delete the old one.
/// RUN_DIR holds the old run or the new one at every instant (renameat2 RENAME_EXCHANGE).
void replaceRun(const std::string& run_dir, const std::string& replacement);

/// Complete a replaceRun that was killed half-way (only possible on file systems
/// without RENAME_EXCHANGE) and remove what the old run left.
void finishReplacement(const std::string& run_dir);

/// The whole of a text file; an Error naming the path when it cannot be read.
std::string readText(const std::string& path);

/// Write PATHS, one per line, atomically (the dominant set of a run).
void writePathList(const std::string& path, const std::vector<std::string>& paths);

/// Rewrite RUN_DIR/metrics.jsonl keeping the lines of epochs before `epoch` (a resumed
/// run appends from there; lines written after its checkpoint are dropped).
void keepMetricsBefore(const std::string& run_dir, int epoch);

/// Write config, weights and center of a trained detector.
void saveRun(const std::string& run_dir, const Config& cfg, training::Trainer& trainer);

/// Write config and reference features of a frozen-encoder baseline (score.method
/// frozen_*), and Φ: F's initial trunk (model.safetensors) or the TorchScript module
/// (encoder.pt), so that the run scores without the files it was built from.
/// `encoder_trunk`: Φ when encoder.type is backbone (a loaded run's copy); null: F's
/// initial trunk, built from model.*.
void saveFrozenRun(const std::string& run_dir, const Config& cfg, const models::FrozenScorer& scorer,
                   std::shared_ptr<models::FeatureExtractor> encoder_trunk = nullptr);

struct LoadedRun {
  Config cfg;
  std::unique_ptr<training::Trainer> trainer;               ///< F with its weights and center c (score.method svdd)
  std::optional<models::FrozenScorer> frozen;               ///< a frozen-encoder baseline (score.method frozen_*)
  std::shared_ptr<models::FeatureExtractor> encoder_trunk;  ///< its Φ when encoder.type is backbone
};

/// The resolved config of a run directory.
Config loadRunConfig(const std::string& run_dir);

/// Load a run directory; clear errors for a missing or incomplete one.
LoadedRun loadRun(const std::string& run_dir);

}  // namespace shiftad::api
