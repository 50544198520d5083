// Training a detector into a run directory: what Detector::fit (and train()) runs.
#pragma once

#include <functional>
#include <string>

#include "api/InputCache.h"
#include "shiftad/Detector.h"

namespace shiftad::api {

struct FitOutcome {
  TrainSummary summary;
  Config cfg;  ///< the resolved config the run was trained with (absolute paths)
  bool wrote_run = true;  ///< false: a data-parallel rank other than 0, which wrote nothing
};

/// Called with the folder of a finished, not yet committed run (every file of it
/// written): what it adds there is committed with the run, in the same swap.
using BeforeCommit = std::function<void(const std::string& staged_run_dir)>;

/// Train as configured into `run_dir` (Detector::fit documents the rules: the lock,
/// replacing a run, resuming, cancelling), getting inputs through `cache`.
FitOutcome fitRun(InputCache& cache, const Config& cfg, const std::string& run_dir, const FitOptions& options,
                  const BeforeCommit& before_commit = {});

}  // namespace shiftad::api
