// A run's calibration: the decision threshold set at the end of fit without target
// labels (method/DecisionThreshold.h), and the calibration normals' scores that the
// normalised score is measured against. Stored as RUN_DIR/calibration.json.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "shiftad/Config.h"

namespace shiftad::api {

struct Calibration {
  ThresholdConfig rule;  ///< the rule and its parameter, as configured
  double threshold = 0.0;
  bool fell_back = false;             ///< mixture: no two components; normal_quantile was used
  std::string normals;                ///< "dominant_set" or "pool": where the calibration normals came from
  std::vector<double> normal_scores;  ///< ascending
  std::vector<double> source_scores;
  std::vector<double> pool_scores;
  std::string run_id;  ///< the run it was made for (api/RunIdentity.h); "": unknown (earlier versions)

  /// The share of calibration normals scoring at or below `score`, in [0, 1], so that
  /// scores mean the same across models (no false-positive rate: F was aligned on those
  /// normals, whose scores are therefore low; docs/method.md, "The decision threshold").
  double normalised(double score) const;
  bool anomalous(double score) const { return score > threshold; }
};

/// Scores of image files, in order, with the files it could not read left out:
/// (readable paths, their scores, skipped paths).
struct ScoredFiles {
  std::vector<std::string> paths;
  std::vector<double> scores;
  std::vector<std::string> skipped;
};
using FileScorer = std::function<ScoredFiles(const std::vector<std::string>&)>;

/// Calibrate a detector trained with `cfg`: score the source normals and the unlabeled
/// pool that cfg's data section defines (never a target label), take the `dominant`
/// pool images (the run's dominant.txt; empty: the whole pool) as the calibration
/// normals, and set the threshold by cfg.threshold.
Calibration calibrate(const Config& cfg, const std::vector<std::string>& dominant, const FileScorer& score);

/// Set `c`'s threshold by `rule` from the scores it holds (c.rule, c.threshold,
/// c.fell_back), as calibrate sets it: the same threshold a calibration from the data
/// would give, without reading the data.
void setThreshold(Calibration& c, const ThresholdConfig& rule);

/// Warns when `scores` (of `what`, e.g. "source and pool") differ by less than 1e-4 of
/// their size: a detector that scores every image alike ranks them by float rounding (a
/// randomly initialised deep network, an extreme train.svdd_eps). Returns whether it warned.
bool warnIfScoresAlike(const std::vector<double>& scores, const std::string& what);

/// Warns when the threshold of `c` flags more than half of its pool. The method takes the
/// pool to be mostly normal, so such a threshold calls many of the target's normals
/// anomalous (the default variant's dense half of the pool, pulled toward c, against the
/// rest: 35-86% of target normals on the reported directions). Label-free facts, said
/// at training; nothing is changed. Returns whether it warned.
bool warnIfMostOfThePoolIsFlagged(const Calibration& c);

/// "mixture", or for a mixture that fell back, what the threshold was taken from instead.
std::string ruleText(const Calibration& c);

void writeCalibration(const std::string& path, const Calibration& c);
Calibration readCalibration(const std::string& path);

}  // namespace shiftad::api
