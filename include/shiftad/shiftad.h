// shiftad: one-class anomaly detection under domain shift, by unsupervised domain
// adaptation of the dominant target cluster.
//
// The public API. Torch-free: programs using it need not include LibTorch headers.
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

namespace shiftad {

/// Intra-op threads for LibTorch (0: all cores; Debian's LibTorch starts with 1), and
/// the allocator setting that keeps large tensor buffers in the heap (glibc would
/// mmap/munmap them for every layer: keepLargeAllocationsInHeap). Call once at start-up.
void setThreads(int threads);

/// Write the synthetic domain-shift benchmark to OUT/{source,target}/CLASS/*.png.
void synthesize(const std::string& out_dir, int seed);

/// Detector::fit, returning only its summary: train a detector as configured and write
/// it to `run_dir` (created if needed). RUN_DIR/lock keeps a second process out of
/// `run_dir` (a stale lock, whose process is gone, is taken over). On CPU with a fixed
/// seed, a run interrupted at any point and resumed ends with the same weights, bit for
/// bit, as an uninterrupted one.
TrainSummary train(const Config& cfg, const std::string& run_dir, const TrainOptions& options = {});

/// train() with the config RUN_DIR was started with, resuming from its last checkpoint.
TrainSummary resumeTraining(const std::string& run_dir);

/// Make SIGINT (Ctrl-C) stop training cleanly: the current step finishes, a checkpoint
/// is written and train() returns with `interrupted` set. A second SIGINT quits at once.
void handleInterrupts();

/// The resolved config a run was trained with.
Config loadRunConfig(const std::string& run_dir);

/// Detector::load(run_dir).score(images): score images with a trained detector.
/// `images`: a folder (recursive) or a text file listing one image path per line.
ScoreResult score(const std::string& run_dir, const std::string& images);

/// AUROC and AUPR of a trained detector on the target test split that `cfg`'s data
/// section defines (the same seeded split the run was trained against when unchanged);
/// the per-image scores go to RUN_DIR/test_scores.csv. Detector::evaluate on the loaded run.
EvalResult evaluate(const std::string& run_dir, const Config& cfg);

struct DataCheckClass {
  std::string domain;
  std::string cls;
  int64_t images = 0;      ///< image files (jpg, jpeg, png, bmp), readable or not
  int64_t unreadable = 0;  ///< of those, not decodable or truncated
  int64_t non_images = 0;  ///< other files in the class folder
};

/// What `shiftad check-data` finds in an ImageFolder root.
struct DataCheckReport {
  std::vector<DataCheckClass> classes;               ///< per domain and class, sorted
  std::vector<std::string> unreadable;               ///< "PATH: why" (not decodable, or truncated)
  std::vector<std::string> non_images;               ///< files in class folders that are not images
  std::vector<std::vector<std::string>> duplicates;  ///< groups of byte-identical images (by content hash)
  std::vector<std::vector<std::string>>
      split_leaks;  ///< identical images both in training (source or pool) and the test split
  std::vector<std::string>
      problems;  ///< folders that cannot be read; why the configured protocol cannot run (empty: it can)
  bool protocol_checked = false;  ///< a config was given
};

/// Inspect ROOT/DOMAIN/CLASS/*: counts, unreadable and truncated images, non-image files,
/// exact duplicates. With `protocol` (its data.root replaced by `root`), also the
/// pool/test split: duplicates across it, and whether training can run at all.
DataCheckReport checkData(const std::string& root, const Config* protocol = nullptr);

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

struct BenchOptions {
  std::string suite;                   ///< a shipped suite's name (suites/NAME.yaml) or a suite file
  std::string root;                    ///< data root ("" : the suite's)
  std::vector<std::string> variants;   ///< empty: the suite's
  std::vector<int> seeds;              ///< empty: the suite's
  std::vector<std::string> classes;    ///< empty: the suite's (all classes)
  std::vector<std::string> overrides;  ///< config keys applied to every run (section.key=value)
  std::string sweep;     ///< "section.key=v1,v2,...": run the grid once per value instead of the main grid
  bool figures = true;   ///< ROC and PCA figures (reads the runs; the summary plots are always made)
  std::string out_dir;   ///< results.csv, report.md and runs/ go here
  bool quick = false;    ///< the suite's quick: settings
  std::string command;   ///< the command line, quoted in the report
  bool verbose = false;  ///< also each run's own lines (per epoch); else one line per run
};

struct BenchSummary {
  int64_t runs = 0;
  double seconds = 0.0;
  std::string report;  ///< path of report.md
};

/// Run a suite's one-vs-all grid (every direction, class, seed and variant): train,
/// evaluate on the target test split, append a row to OUT/results.csv, and write
/// OUT/report.md, OUT/report.html and OUT/figures/*.svg. Runs whose row is already in
/// results.csv are not run again. With `sweep`, the grid runs once per value of the
/// swept key (rows carry setting "key=value"; run dirs go under runs/key=value/).
BenchSummary runBench(const BenchOptions& options);

struct DemoOptions {
  std::string out_dir = "runs/demo";              ///< data, runs, results.csv, report.md and report.html go here
  int seed = 0;                                   ///< seed of the synthetic data
  std::vector<int> seeds;                         ///< split and training seeds (empty: the synthetic suite's, 0 1 2)
  std::string command;                            ///< the command line, quoted in the report
  std::function<void(const std::string&)> print;  ///< receives the per-class table
};

struct DemoRow {
  std::string normal_class;
  double source_only_auroc = 0.0;  ///< mean over seeds
  double adapted_auroc = 0.0;      ///< the recommended variant (align_all), mean over seeds
};

/// Synthesize the default benchmark, run the synthetic suite's grid (every class and
/// seed) for source-only and the recommended variant through runBench's machinery
/// (OUT/results.csv, report.md, report.html), and print target AUROC per class.
std::vector<DemoRow> runDemo(const DemoOptions& options);

}  // namespace shiftad
