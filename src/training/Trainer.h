// Training F: Deep SVDD on source normals plus alignment of the target pool's
// dominant cluster (paper Eq. 5-10). Sees images only, never a target label.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <torch/types.h>

#include "models/FeatureExtractor.h"
#include "shiftad/Config.h"
#include "training/DivergenceGuard.h"

namespace shiftad::method {
class PrincipalBasisCache;
}

namespace shiftad::training {

class ProcessGroup;

/// What one epoch did (one line of metrics.jsonl).
struct EpochStats {
  int epoch = 0;                ///< 1-based
  double loss = 0.0;            ///< mean total loss over the epoch's steps
  double svdd_loss = 0.0;       ///< mean Deep SVDD term
  double align_loss = 0.0;      ///< mean alignment term (before lambda)
  int64_t dominant_size = 0;    ///< target samples aligned this epoch
  double dominant_share = 0.0;  ///< dominant_size / pool size
  double seconds = 0.0;
};

/// Called after each epoch with its stats and the pool indices (int64) aligned in it.
using EpochCallback = std::function<void(const EpochStats&, const torch::Tensor& dominant)>;

/// What fit() trains on. Every set is either uint8 images N x 3 x R x R (R = resize
/// side) or, when F's whole trunk is frozen, float trunk features N x D (only the head
/// runs). All sets use the same kind.
struct TrainingData {
  torch::Tensor source;       ///< the normals Deep SVDD is fit on (2+ rows)
  torch::Tensor pool;         ///< the unlabeled target pool (or the few-shot normals); may be empty
  torch::Tensor pool_frozen;  ///< Φ's features of the pool rows (cluster.space = frozen)
  torch::Tensor negatives;    ///< extra InfoNCE negatives (few-shot pseudo-anomalies); may be undefined
};

/// Checkpoints and early stop of fit().
struct FitControl {
  std::string checkpoint;  ///< checkpoint file ("": none is written or read)
  int checkpoint_every =
      1;                ///< epochs between checkpoints (0: only the last); one is also written at the end and on a stop
  bool resume = false;  ///< continue from `checkpoint` when it exists (else start over)
  const std::atomic<bool>* stop = nullptr;  ///< when set (e.g. by SIGINT): finish the step, checkpoint, return
  bool write_checkpoints = true;            ///< false: `checkpoint` is only read (data-parallel ranks other than 0)
};

/// How fit() ended.
enum class FitResult {
  Completed,  ///< every epoch ran
  Stopped,    ///< FitControl::stop was set; the checkpoint holds the progress
};

class Trainer {
 public:
  /// `pca_cache`: where the PCA head initialisation (model.head_init: pca) memoises its
  /// decomposition across trainers on the same data (null: computed every time).
  Trainer(const Config& cfg, std::shared_ptr<models::FeatureExtractor> net,
          method::PrincipalBasisCache* pca_cache = nullptr);
  ~Trainer();

  /// Train data-parallel with the ranks of `group` (null: alone). Every rank holds the
  /// same TrainingData and draws the same random numbers; each forwards its share of a
  /// step's batch, the features are gathered so that every rank forms the loss of the
  /// whole batch, and the gradients are summed: the steps of a 1-process run.
  void setProcessGroup(std::shared_ptr<ProcessGroup> group) { group_ = std::move(group); }

  /// Deep SVDD center from F's initial features of the (un-augmented) source.
  void initCenter(const torch::Tensor& source);
  /// F's starting weights give finite features (in eval mode, as F scores) and center.
  void checkFiniteStart(const torch::Tensor& source);

  /// Train for cfg.train.epochs, checkpointing as `control` says. A loss that becomes
  /// NaN or Inf is an Error naming epoch and step, thrown before the step changes any
  /// weight (the last checkpoint stays the last good one).
  FitResult fit(const TrainingData& data, const EpochCallback& on_epoch = {}, const FitControl& control = {});

  /// F's features (eval mode, center crop, batched, no grad) of uint8 images, or of
  /// trunk features (head only).
  torch::Tensor embed(const torch::Tensor& inputs);
  /// embed() with the rows shared out over the process group's ranks and gathered
  /// (embed() itself when training alone).
  torch::Tensor embedAll(const torch::Tensor& inputs);

  /// Anomaly scores ||F(x) - c||^2 (images or trunk features, as embed()), through F's
  /// eval-only copy where the architecture has one (models/InferenceNet.h): the same
  /// scores as embed() gives, up to float rounding.
  torch::Tensor score(const torch::Tensor& inputs);

  /// The generator F's initial weights were drawn from, where F's construction left it
  /// (models::NetworkConstruction): fit() draws the discriminator's from it next, as one
  /// seeded stream would. Unset: from LibTorch's global generator.
  void continueConstructionStream(const torch::Generator& stream) { construction_stream_ = stream; }

  const torch::Tensor& center() const { return center_; }
  void setCenter(const torch::Tensor& c) { center_ = c; }
  models::FeatureExtractor& net() { return *net_; }

 private:
  class FitLoop;  ///< one call of fit(): its objects and its progress through the epochs
  torch::Tensor forward(const torch::Tensor& inputs);
  torch::Tensor scoringEmbed(const torch::Tensor& inputs);  ///< embed() through inference_ where F has one
  torch::Tensor trainingView(const torch::Tensor& inputs);  ///< augmented or center-cropped, normalized
  torch::Tensor evalView(const torch::Tensor& inputs);      ///< center-cropped, normalized
  void prepareStart(const TrainingData& data, bool resuming);
  void initHeadPca(const TrainingData& data);
  torch::Tensor trunkRows(
      const torch::Tensor& inputs);  ///< F's pooled trunk features (eval mode) of images, or the features themselves
  void checkFitInputs(const TrainingData& data) const;

  Config cfg_;
  std::shared_ptr<models::FeatureExtractor> net_;
  torch::Tensor center_;
  torch::Generator gen_;
  std::optional<torch::Generator> construction_stream_;
  method::PrincipalBasisCache* pca_cache_;
  std::unique_ptr<models::InferenceNet> inference_;  ///< F's eval-only copy for score(); null until needed
  std::shared_ptr<ProcessGroup> group_;              ///< data-parallel ranks; null: training alone
};

}  // namespace shiftad::training
