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
constexpr const char* kDominantFile = "dominant.txt";        ///< pool images of the final dominant set
constexpr const char* kTestScoresFile = "test_scores.csv";    ///< label,score,path of the test split (eval)
constexpr const char* kCheckpointFile = "checkpoint.safetensors";  ///< training state (training/Checkpoint.h)

/// Write `text` to PATH.tmp, flush, rename over PATH (a reader never sees half a file).
void writeTextAtomic(const std::string& path, const std::string& text);

/// The whole of a text file; an Error naming the path when it cannot be read.
std::string readText(const std::string& path);

/// Write PATHS, one per line, atomically (the dominant set of a run).
void writePathList(const std::string& path, const std::vector<std::string>& paths);

/// Rewrite RUN_DIR/metrics.jsonl keeping the lines of epochs before `epoch` (a resumed
/// run appends from there; lines written after its checkpoint are dropped).
void keepMetricsBefore(const std::string& run_dir, int epoch);

/// Write config, weights and center of a trained detector.
void saveRun(const std::string& run_dir, const Config& cfg, training::Trainer& trainer);

/// Write config and reference features of a frozen-encoder baseline (score.method frozen_*).
void saveFrozenRun(const std::string& run_dir, const Config& cfg, const models::FrozenScorer& scorer);

struct LoadedRun {
  Config cfg;
  std::unique_ptr<training::Trainer> trainer;  ///< F with its weights and center c (score.method svdd)
  std::optional<models::FrozenScorer> frozen;  ///< a frozen-encoder baseline (score.method frozen_*)
};

/// The resolved config of a run directory.
Config loadRunConfig(const std::string& run_dir);

/// Load a run directory; clear errors for a missing or incomplete one.
LoadedRun loadRun(const std::string& run_dir);

}  // namespace shiftad::api
