// The benchmark lab: suites of runs, their reports and figures, the demo, and data
// checks. A client of the public API (shiftad.h, Detector.h), built as the library
// shiftad_lab on top of it; the `shiftad` command's bench, demo and check-data.
// Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shiftad/Config.h"

namespace shiftad {

struct DataCheckClass {
  std::string domain;
  std::string cls;
  int64_t images = 0;      ///< image files (jpg, jpeg, png, bmp), readable or not
  int64_t unreadable = 0;  ///< of those, not decodable or truncated
  int64_t non_images = 0;  ///< other files in the class folder
};

/// What `shiftad check-data` finds in an ImageFolder root.
struct DataCheckReport {
  std::vector<DataCheckClass> classes;  ///< per domain and class, sorted
  std::vector<std::string> unreadable;  ///< "PATH: why" (not decodable, or truncated)
  std::vector<std::string> non_images;  ///< files in class folders that are not images
  std::vector<std::string> hidden;  ///< domain and class folders, and files and folders in class folders, whose name
                                    ///< starts with '.' (never read)
  /// Images lying in the root or in a domain folder, outside every class folder: never
  /// read (an image belongs in ROOT/DOMAIN/CLASS/).
  std::vector<std::string> outside_classes;
  /// Domain folders (ROOT/DOMAIN) holding no class folder: nothing in them is read, and
  /// naming one as data.source or data.target is refused.
  std::vector<std::string> empty_domains;
  /// Run folders and caches (`train --out`, `encoder.cache_dir`) that shiftad wrote in
  /// the data, as a domain (ROOT/runs) or a class (ROOT/DOMAIN/cache) would lie: not
  /// data, passed over (a domain whose every folder is one is passed over whole).
  std::vector<std::string> shiftad_outputs;
  std::vector<std::vector<std::string>> duplicates;  ///< groups of byte-identical images (by content hash)
  /// Of those, the groups that lie in two or more classes of one domain: one image
  /// labelled as two classes, i.e. in one-vs-all both a normal image and an anomaly.
  std::vector<std::vector<std::string>> label_conflicts;
  std::vector<std::vector<std::string>>
      split_leaks;  ///< identical images both in training (source or pool) and the test split
  /// The data's problems, with or without a config: folders that cannot be read, classes
  /// without images, label conflicts, and (with a config) copies of test images in training.
  std::vector<std::string> problems;
  /// With a config: why its protocol cannot run, as `train` would refuse it (an unknown
  /// class, too few readable images, model.weights or encoder.path missing); empty: it can.
  std::vector<std::string> protocol_problems;
  bool protocol_checked = false;  ///< a config was given
};

/// Inspect ROOT/DOMAIN/CLASS/*: counts, unreadable and truncated images, non-image files,
/// exact duplicates. With `protocol` (its data.root replaced by `root`), also the
/// pool/test split: duplicates across it, and whether training can run at all. Images
/// are read and decoded on `threads` threads (0: all cores).
DataCheckReport checkData(const std::string& root, const Config* protocol = nullptr, int threads = 0);

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
  /// Run only shard `shard_index` of `shard_count` (1-based): every shard_count-th run
  /// of the grid order, the start turned by one at each (direction, class, seed,
  /// setting), so that each variant's runs spread over every shard (docs/scale.md).
  /// Shards of one grid can run as separate processes, on separate machines (a Slurm
  /// array job), and be merged (`merge_from`). 1 of 1: the whole grid.
  int shard_index = 1;
  int shard_count = 1;
  /// Merge instead of running: the bench folders of the shards of this same bench
  /// (same suite, options and --set) into `out_dir`: their rows in grid order, their
  /// run folders, one report. Every run of the grid must be in exactly one of them.
  std::vector<std::string> merge_from;
};

struct BenchSummary {
  int64_t runs = 0;
  double seconds = 0.0;
  std::string report;  ///< path of report.md
  /// Stopped by SIGINT or SIGTERM (with handleInterrupts()): no report was written, and
  /// the same bench resumes (a run that was in progress from its checkpoint).
  bool interrupted = false;
  /// Interrupted in a run, which wrote a checkpoint; false: between two runs.
  bool checkpointed = false;
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
/// (OUT/results.csv, report.md, report.html), and print target AUROC per class. Empty
/// when a stop (SIGINT, SIGTERM with handleInterrupts()) ended its bench (BenchSummary::interrupted).
std::vector<DemoRow> runDemo(const DemoOptions& options);

}  // namespace shiftad
