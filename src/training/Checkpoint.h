// A training checkpoint: everything fit() needs to continue exactly where it stopped,
// so that an interrupted and resumed run ends with the same weights, bit for bit, as
// an uninterrupted one (on CPU, same seed, same threads).
//
// One safetensors file (written atomically: temp file in the same folder, flush,
// rename), so a process killed at any moment leaves either the previous checkpoint
// or the new one, never half of one.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace shiftad::training {

/// Where the epoch loop is. Beside F's weights, c and Adam's state, this is all the
/// loop carries from one step to the next.
struct FitProgress {
  int epoch = 1;           ///< the epoch in progress, or the next one (1-based)
  int64_t next_row = 0;    ///< position in `order` of the next step's first source row
  int64_t step_count = 0;  ///< steps done over the whole run
  torch::Tensor order;     ///< this epoch's permutation of the source rows (undefined: not drawn yet)
  torch::Tensor dominant;  ///< the pool rows aligned (undefined: not clustered yet)
  double sum_loss = 0.0;   ///< sums over this epoch's steps so far (for its EpochStats)
  double sum_svdd = 0.0;
  double sum_align = 0.0;
  int steps = 0;
  /// Seconds the run's fit loop ran before this checkpoint, over every segment of a run
  /// stopped and resumed (0 in a checkpoint of an earlier version): a resumed run's
  /// summary counts them too.
  double seconds = 0.0;
};

/// What a checkpoint holds besides the progress. Pointers: the objects are read from
/// (save) or written into (load) in place; `discriminator` may be null.
struct CheckpointParts {
  torch::nn::Module* net = nullptr;
  torch::nn::Module* discriminator = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  torch::Tensor* center = nullptr;
  torch::Generator* generator = nullptr;  ///< the trainer's own generator (batches, augmentation)
  /// The run's config (dumpConfig), stored in the checkpoint: a resume under settings
  /// changed since (an edited config.yaml) is refused, naming them. Empty: not checked.
  std::string config;
  /// How the run computes ("threads 4, ranks 2"): a resume under another rounds floats
  /// otherwise and ends close to, not bit-identical with, an uninterrupted run; it goes
  /// on with a warning. Empty: not recorded.
  std::string arithmetic;
};

/// Write the checkpoint to `path` atomically. The global CPU generator's state is
/// saved too (initialisation draws from it).
void saveCheckpoint(const std::string& path, const CheckpointParts& parts, const FitProgress& progress);

/// Restore a checkpoint written by saveCheckpoint into `parts` (and the global CPU
/// generator); returns the progress. Errors name the path and what is wrong.
FitProgress loadCheckpoint(const std::string& path, const CheckpointParts& parts);

/// The epoch a checkpoint continues at (1-based), without restoring anything; with a
/// `config` (dumpConfig), refuses a checkpoint written under other settings first.
int checkpointEpoch(const std::string& path, const std::string& config = "");

/// FitProgress::seconds of the checkpoint at `path` (0 when it records none).
double checkpointSeconds(const std::string& path);

}  // namespace shiftad::training
