// shiftad: one-class anomaly detection under domain shift, by unsupervised domain
// adaptation of the dominant target cluster.
//
// The public API. Torch-free: programs using it need not include LibTorch headers.
// The benchmark lab (bench, demo, check-data) is a client of it, built into the CLI
// (its header, shiftad/Lab.h, is in the source tree and not installed).
// A *run directory* holds a trained detector: config.yaml (every key resolved),
// model.safetensors (F's weights), center.safetensors (the Deep SVDD center c),
// metrics.jsonl (one JSON object per epoch) and summary.json.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shiftad/Config.h"
#include "shiftad/Detector.h"
#include "shiftad/RunFiles.h"

namespace shiftad {

/// Intra-op threads for LibTorch (0: all cores; Debian's LibTorch starts with 1), and
/// the allocator setting that keeps large tensor buffers in the heap (glibc would
/// mmap/munmap them for every layer: keepLargeAllocationsInHeap). Call once at start-up.
/// Throws shiftad::Error outside [0, 1024].
///
/// Process-wide, for the host too: glibc's malloc keeps freed memory for reuse instead
/// of returning it to the system (mallopt M_MMAP_THRESHOLD 1 GiB, M_TRIM_THRESHOLD
/// INT_MAX; scoring at 224 px ran ~6x faster), so the process's resident size stays at
/// its peak; OpenBLAS runs its products on `threads` threads; and where OpenBLAS took its
/// generic SSE3 kernels on a CPU it does not know, it is given those of the CPU's
/// instructions (OPENBLAS_CORETYPE, also inherited by child processes). A host that
/// needs memory back can set its own mallopt values after this call, or call
/// malloc_trim(0) when it is idle; shiftad then runs slower, not wrong.
void setThreads(int threads);

/// Keep LibTorch's own log lines (glog: c10d's socket warnings and errors, which the
/// library's Error then states in one line) off stderr, unless GLOG_minloglevel is set.
/// A command-line program calls it at start-up; a host that logs through glog itself
/// should not (it sets glog's process-wide minimum level).
void quietLibTorchLog();

/// Write the synthetic domain-shift benchmark to OUT/{source,target}/CLASS/*.png.
void synthesize(const std::string& out_dir, int seed);

/// Detector::fit, returning only its summary: train a detector as configured and write
/// it to `run_dir` (created if needed). RUN_DIR/lock keeps a second process out of
/// `run_dir` (a stale lock, whose process is gone, is taken over). On CPU with a fixed
/// seed, a run interrupted at any point and resumed ends with the same weights, bit for
/// bit, as an uninterrupted one.
TrainSummary train(const Config& cfg, const std::string& run_dir, const TrainOptions& options = {});

/// train() with the config RUN_DIR was started with, resuming from its last checkpoint
/// (data-parallel with `distributed`: every rank must see RUN_DIR).
TrainSummary resumeTraining(const std::string& run_dir, const DistributedOptions& distributed = {});

/// Make SIGINT (Ctrl-C) and SIGTERM (a job scheduler, `kill`, `docker stop`) stop
/// training cleanly: the current step finishes, a checkpoint is written and train()
/// returns with `interrupted` set. A second signal quits at once. The request ends
/// with the fit it stopped: the next train(), resume or Detector::fit starts afresh, and
/// outside a fit the signals keep their default action (they end the process). A signal
/// the process started with ignored (a background job of a script, `trap '' INT`) stays
/// ignored.
void handleInterrupts();

/// The signal handleInterrupts() caught (SIGINT or SIGTERM), 0 if none: a program
/// that stops on it exits with 128 + it, the shell's convention (130, 143).
int caughtSignal();

/// "" when an image file decodes and is complete (as training and scoring check it),
/// else why not.
std::string imageProblem(const std::string& path);

/// imageProblem, and the file's content hash and size from the same read (a data check
/// that read each file twice read a data set larger than the page cache twice from disk).
struct ImageFileCheck {
  std::string problem;        ///< "" when the file decodes and is complete, else why not
  uint64_t content_hash = 0;  ///< FNV-1a of its bytes (identical files, identical hashes); 0 with a problem
  uint64_t bytes = 0;         ///< its size; 0 with a problem
};
ImageFileCheck checkImageFile(const std::string& path);

/// The resolved config a run was trained with.
Config loadRunConfig(const std::string& run_dir);

/// What a run's training pool looked like at its last epoch (RUN_DIR/metrics.jsonl):
/// the aligned (dominant) set's share of the pool and what that implies of its
/// contamination, beside two diagnostics that read the pool's labels. `present` is false
/// for a run that aligns nothing (source_only, frozen baselines without a dominant set).
struct PoolDiagnostics {
  bool present = false;
  double dominant_share = 0.0;          ///< aligned set / pool
  double contamination_estimate = 0.0;  ///< 1 - dominant_share: the share left out
  double dominant_purity = 0.0;  ///< normal share of the aligned set (diagnostic, reads labels; NaN: unlabeled pool)
  double contamination = 0.0;    ///< the pool's true anomaly share (diagnostic, reads labels; NaN: unlabeled pool)
};
PoolDiagnostics poolDiagnostics(const std::string& run_dir);

/// Detector::load(run_dir).score(images): score images with a trained detector.
/// `images`: a folder (recursive) or a text file listing one image path per line.
ScoreResult score(const std::string& run_dir, const std::string& images);

/// AUROC and AUPR of a trained detector on the target test split that `cfg`'s data
/// section defines (the same seeded split the run was trained against when unchanged);
/// the per-image scores go to `scores_file`, or when it is "" to RUN_DIR/test_scores.csv
/// if that is the run's own split (sameSplit), else nowhere (the run's file keeps its
/// own). Detector::evaluate on the loaded run, with the disk caches on.
EvalResult evaluate(const std::string& run_dir, const Config& cfg, const std::string& scores_file = "");

struct ClassScore {
  int64_t index = 0;
  std::string label;  ///< from the labels file, else the index
  double probability = 0.0;
};

/// Top-k classes of a pretrained classifier (MobileNetV2 safetensors with torchvision
/// names; preprocessing from the file's metadata: input_size, normalize_mean/std,
/// padding) for one image. A quick check that weights and preprocessing agree.
std::vector<ClassScore> classify(const std::string& weights, const std::string& image, const std::string& labels,
                                 int topk);

}  // namespace shiftad
