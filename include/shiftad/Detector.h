// shiftad::Detector: a trained detector held in memory, the handle programs use.
//
// Torch-free (like whisper.cpp's whisper.h): the model lives behind an opaque pointer;
// options are structs whose defaults are the usual choice; progress and cancellation
// are callbacks. A Detector is trained (fit) or read from a run directory (load),
// scores image files or images already in memory, and can be written to a run
// directory again (save). Loading reads the run directory once: scoring never reads it.
//
//   shiftad::Detector det = shiftad::Detector::load("runs/mnist");
//   shiftad::ScoreResult r = det.score(std::vector<std::string>{"a.png", "b.png"});
//   std::vector<double> s = det.score(std::vector<shiftad::ImageView>{{w, h, 0, pixels}});
//
// Errors are shiftad::Error (a std::runtime_error; shiftad/Error.h) with a message
// that names the path, key or value at fault. A Detector may be used from one thread
// at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shiftad/Config.h"
#include "shiftad/Error.h"

namespace shiftad {

namespace api {
class InputCache;
}

/// How training went (Detector::trainSummary(); train() returns it).
struct TrainSummary {
  int epochs = 0;  ///< epochs trained: train.epochs, or for a stopped fit those its checkpoint holds
  double seconds = 0.0;
  int64_t source_images = 0;
  int64_t pool_images = 0;
  int64_t skipped_images = 0;  ///< unreadable files skipped (each logged)
  double final_loss = 0.0;
  bool interrupted = false;  ///< stopped (SIGINT, or the cancel callback) after a checkpoint: no model yet; resume
  int resumed_at_epoch = 0;  ///< the epoch a resumed run continued at (0: not resumed)
  /// The run's folder, absolute: on a data-parallel rank other than 0, the one rank 0
  /// wrote (this rank wrote nothing).
  std::string run_dir;
};

struct ImageScore {
  std::string path;    ///< "" for an image in memory
  double score = 0.0;  ///< higher = more anomalous
  /// The share of the run's calibration normals scoring at or below `score`, in [0, 1]
  /// (1 minus the conformal p-value): comparable across models. NaN when the detector
  /// has no calibration and cannot make one (see Detector::calibrate).
  double normalised_score = 0.0;
  bool anomalous = false;  ///< score > threshold() (false without a calibration)
};

struct ScoreResult {
  std::vector<ImageScore> scores;
  std::vector<std::string> skipped;  ///< unreadable files (each logged)
};

struct EvalResult {
  double auroc = 0.0;
  /// DeLong's standard error of `auroc`: how far the AUROC of another test split of the
  /// same sizes would typically lie. NaN with fewer than two images of either class.
  double auroc_se = 0.0;
  double aupr = 0.0;  ///< average precision, anomalies as the positive class
  /// At the detector's label-free threshold (threshold()), anomalies as the positive class.
  double threshold = 0.0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double fpr = 0.0;     ///< false-positive rate: the share of test normals called anomalous
  double f1_max = 0.0;  ///< the best F1 of any threshold, chosen with the test labels: an upper bound
  int64_t normal = 0;
  int64_t anomalous = 0;
  int64_t skipped = 0;
  std::string scores_file;  ///< label,score,path per test image ("" when none was asked for, or it could not be
                            ///< written: a warning says why)
};

/// Where a cache's input time went since it was made: decoding images (or reading them
/// from the image cache), embedding them (F's trunk, Φ), and all of getting features
/// (reading and writing the feature cache, assembling rows, embedding and decoding).
struct InputStats {
  int64_t decoded_images = 0;
  double decode_seconds = 0.0;
  int64_t embedded_images = 0;
  double embed_seconds = 0.0;
  double feature_seconds = 0.0;
};

/// Decoded images and features of image files, kept in memory per file so that
/// detectors sharing it decode and embed each image once (a benchmark trains many
/// detectors on subsets of the same folders). Owned by a std::shared_ptr: pass the same
/// one to every fit/load that should share it. Thread-safe. The disk caches
/// (encoder.cache_dir) are used whether or not a Cache is shared.
class Cache {
 public:
  Cache();
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// Decode and embed `paths` as detectors of `cfg` will need them, so that later runs
  /// find them here: F's initial trunk features when model.freeze is -1 (the head
  /// trains on them), Φ's features when encoder.type is not none.
  void warm(const Config& cfg, const std::vector<std::string>& paths);

  /// Time spent getting inputs through this cache.
  InputStats stats() const;

  /// Forget every image and feature held (memory only; the disk caches stay).
  void clear();

  /// The library's side of the cache (not for programs: its header needs LibTorch).
  api::InputCache& inputs() const;

 private:
  std::unique_ptr<api::InputCache> inputs_;
};

/// An RGB image in memory: 8 bits per channel, R G B interleaved, rows `stride` bytes
/// apart (0: 3 * width, packed). Not copied: the pixels must outlive the call.
struct ImageView {
  int width = 0;
  int height = 0;
  size_t stride = 0;
  const uint8_t* rgb = nullptr;
};

/// stage: "fit" (done = epochs finished of total = train.epochs) or "score" (done =
/// images scored of total, by score() or evaluate()). Called on the calling thread.
using ProgressCallback = std::function<void(const std::string& stage, int64_t done, int64_t total)>;
/// Polled after each progress report; true asks to stop (see Detector::fit, score and
/// evaluate).
using CancelCallback = std::function<bool()>;

struct Callbacks {
  ProgressCallback progress;  ///< empty: no reports
  CancelCallback cancel;      ///< empty: never cancelled (SIGINT still stops fit, see handleInterrupts)
};

/// Data-parallel training (docs/scale.md): world_size processes train one model, each
/// on its share of every batch. train.batch_size stays the global batch, so a config
/// trains the same model at any world size (up to float rounding; F's training-mode
/// BatchNorm layers, if any, normalise per process). Rank 0 writes the run; every rank
/// must see RUN_DIR (a shared filesystem) to resume.
struct DistributedOptions {
  int world_size = 1;                     ///< processes training together (1: this one alone)
  int rank = 0;                           ///< this process, 0 .. world_size - 1
  std::string master_addr = "127.0.0.1";  ///< host of rank 0 (it serves the rendezvous store)
  int master_port = 29500;                ///< TCP port of the rendezvous store
  bool store_served = false;              ///< a launcher (torchrun) serves the store: rank 0 connects to it too
  /// torchrun's restart count (TORCHELASTIC_RESTART_COUNT): a group restarted after a
  /// failure meets under keys of its own in the launcher's store, which outlives it (the
  /// keys of the failed attempt name processes that are gone).
  int attempt = 0;
  /// A rank that waits longer for another fails the run. The other ranks wait while a
  /// rank runs its callbacks, so a callback must return well within it.
  double timeout_seconds = 300;
};

/// The longest DistributedOptions::timeout_seconds (a week): longer would overflow the
/// millisecond and nanosecond counts of the rendezvous store and Gloo, and is no timeout.
constexpr double kMaxDistTimeoutSeconds = 7 * 24 * 3600;

/// The process group a launcher described in the environment, each variable the default
/// of its own field: world_size from WORLD_SIZE (torchrun), else SLURM_NTASKS (srun), else
/// 1; rank from RANK, else SLURM_PROCID, else 0; master_addr and master_port from
/// MASTER_ADDR and MASTER_PORT, else 127.0.0.1:29500; store_served from
/// TORCHELASTIC_USE_AGENT_STORE, attempt from TORCHELASTIC_RESTART_COUNT. Throws
/// shiftad::Error for a malformed value, or a rank outside a world of 2 or more.
DistributedOptions distributedFromEnvironment();

struct FitOptions {
  /// Continue from RUN_DIR's checkpoint (RUN_DIR/checkpoint.safetensors, written every
  /// train.checkpoint_every epochs) instead of starting over; without one, start over.
  bool resume = false;
  /// Replace a run already in RUN_DIR. The new run is built beside it and takes its
  /// place only when complete: a failure or a kill at any point leaves the old run.
  /// Without it, an existing run is refused. A folder holding anything shiftad did not
  /// write is always refused.
  bool overwrite = false;
  std::shared_ptr<Cache> cache;  ///< null: the detector makes its own
  Callbacks callbacks;
  /// world_size > 1: train data-parallel with the other ranks. A rank other than 0
  /// writes nothing and returns a detector that is not trained() (rank 0's is).
  DistributedOptions distributed;
};

/// The options of train() (one struct: fit's).
using TrainOptions = FitOptions;

struct LoadOptions {
  /// null: the detector makes its own, and score() and evaluate() forget each chunk of
  /// 256 images once scored (memory stays flat on large folders and test splits).
  /// Shared: what they decode stays in it for the detectors sharing it, until
  /// Cache::clear().
  std::shared_ptr<Cache> cache;
  /// Scoring also reads and writes the disk caches of the run's config (the image cache
  /// when data.image_cache: a file per image, 150 KB at 224 px, trimmed only after fits
  /// and evaluations to encoder.cache_max_gb; the
  /// feature cache in encoder.cache_dir). Off by default: a program that scores new
  /// images would fill them without end. Turn it on to score the same files again (the
  /// CLI's `eval` does). A shared `cache` keeps its own setting (on: fits need it).
  bool disk_caches = false;
  Callbacks callbacks;  ///< used by score() and evaluate()
  /// Unreadable files score() may skip before it fails, as data.max_skipped: a share
  /// below 1 (rounded down) or a count from 1; unset: the run's data.max_skipped.
  /// Infinity: score() never fails for unreadable files, not even for all of them
  /// (they come back in ScoreResult::skipped; the C API's per-file results).
  std::optional<double> max_skipped;
};

/// F's features of images (Detector::embed): one row of `dim` floats per readable file.
struct Embedding {
  std::vector<std::string> paths;  ///< the rows' files, in the order given
  std::vector<std::string> skipped;
  int64_t dim = 0;
  std::vector<float> values;  ///< row-major, paths.size() x dim
};

/// How the decision threshold was set (Detector::thresholdInfo).
struct ThresholdInfo {
  double threshold = 0.0;                        ///< an image is anomalous when its score is above it
  ThresholdRule rule = ThresholdRule::kMixture;  ///< threshold.rule of the run (docs/method.md)
  double quantile = 0.0;                         ///< threshold.quantile of the run
  bool fell_back = false;          ///< mixture: no two components in the pool's scores; normal_quantile was used
  std::string normals;             ///< the calibration normals: "dominant_set" or "pool"
  int64_t calibration_images = 0;  ///< how many calibration normals the normalised score counts
};

class Detector {
 public:
  /// Train a detector as configured, write it to `run_dir` (created if needed; the
  /// files README lists: "A run directory holds ...") and return it loaded from there. RUN_DIR/lock
  /// keeps a second process out while training (a stale lock, whose process is gone,
  /// is taken over). On CPU with a fixed seed, a run stopped at any point and resumed
  /// (options.resume) ends with the same weights, bit for bit, as an uninterrupted one.
  /// Cancelling (options.callbacks.cancel true after an epoch's report, or SIGINT
  /// with handleInterrupts()) finishes the current step, writes a checkpoint and
  /// returns a detector with trainSummary().interrupted set and no model: it cannot
  /// score; fit again with resume to finish. A cancel after the last epoch is too late
  /// to stop anything. With a cancel callback, SIGINT is honoured at epoch ends too.
  static Detector fit(const Config& cfg, const std::string& run_dir, const FitOptions& options = {});

  /// A trained detector from a run directory written by fit (or `shiftad train`) or
  /// save; clear errors for a missing or incomplete one.
  static Detector load(const std::string& run_dir, const LoadOptions& options = {});

  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;
  ~Detector();

  /// Write the detector as a run directory that loads and scores the same: config.yaml
  /// and the model files (no training logs). `dir` must be new or empty; the run is
  /// built in a hidden sibling and renamed into place complete.
  void save(const std::string& dir) const;

  /// Scores of image files, in order; unreadable files are skipped (logged, listed)
  /// and more than data.max_skipped of them is an error. Progress: stage "score", per
  /// chunk of 256 images. Cancelling throws shiftad::Error (scores of the chunks done
  /// are dropped).
  ScoreResult score(const std::vector<std::string>& paths);

  /// The same for a folder (recursive) or a text file listing one image path per line.
  ScoreResult score(const std::string& images);

  /// Scores of images in memory, in order: resized, cropped and normalised exactly as
  /// the same pixels decoded from a file, so that they score as that file does.
  std::vector<double> score(const std::vector<ImageView>& images);

  /// The same scores with their normalised score and decision (paths are ""). A run
  /// without a calibration that cannot make one (its data gone) scores as score(paths)
  /// does: normalised score NaN and no decision, with one warning.
  std::vector<ImageScore> decide(const std::vector<ImageView>& images);

  /// The decision threshold fit set from the source normals and the unlabeled pool
  /// (calibration.json). A run written before thresholds existed has none: it is
  /// computed on first need from the pool of the run's config (calibrate()); an Error
  /// when that data cannot be read.
  double threshold() const;
  ThresholdInfo thresholdInfo() const;

  /// (Re)compute the calibration: score the source normals and the unlabeled pool that
  /// config()'s data section defines and set the threshold by config().threshold. Kept
  /// in memory; save() writes it. Needs the data set.
  void calibrate();

  /// Set the decision threshold by another rule (threshold.rule, threshold.quantile) from
  /// the scores the calibration holds: the threshold calibrate() would set with it,
  /// without reading the data (a run without a calibration is calibrated first, which
  /// needs it). config().threshold becomes `rule`; save() writes both. Throws Error for a
  /// value a config file may not hold (threshold.quantile outside [0.5, 1]). Editing
  /// threshold.* in a run's config.yaml does the same at every load (docs/deploy.md).
  void setThreshold(const ThresholdConfig& rule);

  /// AUROC and AUPR on the target test split that `split`'s data section defines (the
  /// split the detector was trained against when it is config()). With `scores_file`,
  /// also write label,score,path per test image there (atomically; when the write
  /// fails, e.g. a read-only or full disk, a warning, and EvalResult::scores_file stays
  /// empty). A path no file may be written at (a folder, a pipe or device, a missing
  /// folder, inside a run folder but as that run's test_scores.csv) is an Error before
  /// the work. Throws Error when the
  /// test split holds images the run trained on (its pool.txt, or its source domain):
  /// the target folder or the split settings changed since training, and when `split`
  /// names another normal class than the run was trained for. The test split is
  /// scored as score() scores files, in chunks of 256 images (memory flat in the
  /// split's size), with the same progress reports and cancelling.
  EvalResult evaluate(const Config& split, const std::string& scores_file = "");

  /// F's features (before the distance to c) of image files, e.g. for figures. A
  /// frozen-encoder baseline has no F: an Error.
  Embedding embed(const std::vector<std::string>& paths);

  /// Write the detector as one self-contained ONNX model at `path` (atomically): input
  /// "pixels", uint8 N x R x R x 3 (RGB; R = data.resize, else data.image_size; the
  /// caller resizes as the metadata key "preprocessing" says), outputs "score" (N,
  /// ||F(x) - c||^2, c baked in) and "embedding" (N x D). Preprocessing facts, arch,
  /// variant and config are in its metadata_props (docs/deploy.md). F of every
  /// architecture but CLIP's exports; a CLIP tower or a frozen-encoder baseline is an Error.
  void exportOnnx(const std::string& path) const;

  /// The resolved config the detector was trained with.
  const Config& config() const;

  /// Of fit (zero for a loaded detector).
  const TrainSummary& trainSummary() const;

  /// False only after a fit that was stopped before its model existed.
  bool trained() const;

  struct Impl;

 private:
  explicit Detector(std::unique_ptr<Impl> impl);
  static Detector fitInto(const Config& cfg, const std::string& run_dir, const FitOptions& options);
  void saveTo(const std::string& dir) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shiftad
