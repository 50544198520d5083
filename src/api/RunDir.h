// The run directory: what `train` writes and `score` / `eval` read.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/TextFile.h"
#include "models/FrozenScorer.h"
#include "shiftad/Config.h"
#include "shiftad/RunFiles.h"
#include "shiftad/shiftad.h"
#include "training/Trainer.h"

namespace shiftad::api {

// The run directory's file names are public (shiftad/RunFiles.h); atomic text files
// are common (common/TextFile.h).
using shiftad::kCalibrationFile;
using shiftad::kCenterFile;
using shiftad::kCheckpointFile;
using shiftad::kConfigFile;
using shiftad::kDominantFile;
using shiftad::kEncoderFile;
using shiftad::kMetricsFile;
using shiftad::kModelFile;
using shiftad::kPoolFile;
using shiftad::kReferenceFile;
using shiftad::kRunMarkerFile;
using shiftad::kSummaryFile;
using shiftad::kTestScoresFile;
using shiftad::readText;
using shiftad::writeTextAtomic;

/// Whether shiftad made `dir` a run folder: it holds kRunMarkerFile, or (a run of a
/// version before the marker) a config.yaml beside a safetensors file whose metadata
/// says shiftad wrote it. Only such a folder's run files are shiftad's to replace.
bool isShiftadRunFolder(const std::string& dir);

/// Write kRunMarkerFile into `dir` (created if missing): the folder is a run from now on.
void markRunFolder(const std::string& dir);

/// `dir` made absolute and lexically normal, without a trailing separator ("a/b/" and
/// "a/./b" are "CWD/a/b").
std::string absoluteFolder(const std::string& dir);

/// The nearest folder at or above `path` that is a shiftad run folder
/// (isShiftadRunFolder), "" if none.
std::string runFolderAtOrAbove(const std::string& path);

/// An Error when `run_dir` lies inside a shiftad run folder: a run holds only its own
/// files, and replacing or deleting it would take a nested run along.
void checkNotInsideARun(const std::string& run_dir);

/// Delete `dir`, a folder shiftad builds beside a run (a replacement, or an old run moved
/// aside), if it exists: only when it is empty or isShiftadRunFolder; else an Error
/// naming it (a user's folder of that name is never deleted).
void removeOwnFolder(const std::string& dir);

/// What a folder given as a run directory holds.
struct RunDirState {
  int entries = 0;          ///< 0: missing or empty
  bool has_config = false;  ///< a config.yaml: enough to resume (a run killed before its first epoch)
  bool is_run = false;      ///< a config and something training wrote
  bool finished = false;    ///< holds a trained model (or a frozen baseline's reference)
  /// entries that shiftad does not write there (the user's): every entry but the lock
  /// when the folder is not isShiftadRunFolder
  std::vector<std::string> foreign;
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

/// Rewrite RUN_DIR/metrics.jsonl keeping the lines of epochs before `epoch` (a resumed
/// run appends from there; lines written after its checkpoint are dropped).
void keepMetricsBefore(const std::string& run_dir, int epoch);

/// The last epoch's pool diagnostics of RUN_DIR/metrics.jsonl (shiftad::poolDiagnostics).
/// A line cut by a kill is skipped; no metrics file or no aligned set: `present` false.
PoolDiagnostics readPoolDiagnostics(const std::string& run_dir);

/// Write config, weights and center of a trained detector. `center_used`: which center the
/// trainer's c is (score.center, or source where a run with score.center dominant aligned
/// nothing), recorded in center.safetensors for the export's metadata.
void saveRun(const std::string& run_dir, const Config& cfg, training::Trainer& trainer, ScoreCenter center_used);

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
  /// data.root as the run was trained (its pool.txt and dominant.txt name images below
  /// it): cfg's unless the data moved and config.yaml's data.root was edited since.
  std::string trained_root;
  /// The run's id, which its files carry (api/RunIdentity.h; "": a run of an earlier version).
  std::string run_id;
  /// Which center the trainer's c is: score.center, or source where a run with score.center
  /// dominant aligned nothing and scores from c (a run of an earlier version: score.center).
  ScoreCenter center_used = ScoreCenter::kSource;
};

/// Whether training in `dir` ran to its end: summary.json says it was not interrupted and
/// the threshold (written last) is there.
bool runCompleted(const std::string& dir);

/// The resolved config of a run directory.
Config loadRunConfig(const std::string& run_dir);

/// Load a run directory; clear errors for a missing or incomplete one.
LoadedRun loadRun(const std::string& run_dir);

}  // namespace shiftad::api
