// Detector::fit: frozen-encoder baselines and F's training, their metrics, the
// summary, the lock and the few-shot variant's pseudo-anomalies, wired together from
// the data, models and training pieces.
#include "api/Fit.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "api/Features.h"
#include "api/Interrupt.h"
#include "api/PreprocessingCheck.h"
#include "api/RandomTrunkCheck.h"
#include "api/RunDir.h"
#include "api/RunLock.h"
#include "api/SkipLimit.h"
#include "api/TargetLabels.h"
#include "common/Error.h"
#include "common/MappedFile.h"
#include "common/Hash.h"
#include "common/Log.h"
#include "common/PathList.h"
#include "common/Seconds.h"
#include "data/PseudoAnomaly.h"
#include "method/DominantSelector.h"
#include "models/FrozenScorer.h"
#include "models/NetworkConstruction.h"
#include "training/Checkpoint.h"
#include "training/Distributed.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

/// The pool images of a dominant set (indices into `pool_paths`), for reports and users.
void writeDominant(const std::string& run_dir, const std::vector<std::string>& pool_paths,
                   const torch::Tensor& dominant) {
  const auto idx = dominant.to(torch::kLong).contiguous();
  std::vector<std::string> kept;
  for (int64_t i = 0; i < idx.numel(); ++i)
    kept.push_back(pool_paths.at(static_cast<size_t>(idx.data_ptr<int64_t>()[i])));
  writePathList((fs::path(run_dir) / kDominantFile).string(), kept);
}

/// A diagnostic that reads the pool's labels: null in metrics.jsonl when the pool was
/// given unlabeled (data.pool_images).
nlohmann::json labelDiagnostic(bool pool_labelled, const std::function<double()>& value) {
  return pool_labelled ? nlohmann::json(value()) : nlohmann::json();
}

/// A message between ranks. CBOR, not JSON text: file names are bytes, not UTF-8, and
/// JSON's dump() refuses a name that is not valid UTF-8; CBOR carries it unchanged.
std::string toWire(const nlohmann::json& j) {
  const auto bytes = nlohmann::json::to_cbor(j);
  return {bytes.begin(), bytes.end()};
}

nlohmann::json fromWire(const std::string& bytes) { return nlohmann::json::from_cbor(bytes); }

/// Image paths between ranks: below data.root, so that a rank reading a copy of the data
/// set at another root (a node-local copy) names the same images.
nlohmann::json belowRoot(const std::vector<std::string>& paths, const std::string& root) {
  auto j = nlohmann::json::array();
  for (const auto& p : paths) {
    const auto rel = fs::path(p).lexically_relative(root);
    j.push_back(rel.empty() || *rel.begin() == ".." ? p : rel.string());
  }
  return j;
}

void appendFromRoot(const nlohmann::json& names, const std::string& root, std::vector<std::string>& out) {
  for (const auto& n : names) {
    const fs::path p = n.get<std::string>();
    out.push_back(p.is_absolute() ? p.string() : (fs::path(root) / p).string());
  }
}

/// `get` of this rank's share of `paths` (contiguous), gathered from every rank in
/// order: each rank decodes and embeds only its share. Alone, or with fewer files than
/// ranks, `get(paths)`.
FeatureSet gathered(training::ProcessGroup* group, const std::vector<std::string>& paths, const std::string& root,
                    const std::function<FeatureSet(const std::vector<std::string>&)>& get) {
  if (!group || paths.size() < static_cast<size_t>(group->size())) return get(paths);
  const auto [first, last] = training::shardRange(static_cast<int64_t>(paths.size()), group->rank(), group->size());
  const auto mine = get({paths.begin() + first, paths.begin() + last});
  FeatureSet all;
  all.features = group->allGatherRows(mine.features);
  const nlohmann::json names = {{"paths", belowRoot(mine.paths, root)}, {"skipped", belowRoot(mine.skipped, root)}};
  const auto parts = group->allGatherStrings(toWire(names));
  for (size_t r = 0; r < parts.size(); ++r) {
    const auto j = fromWire(parts[r]);
    appendFromRoot(j.at("paths"), root, all.paths);
    appendFromRoot(j.at("skipped"), root, all.skipped);
    // Named below this rank's data.root, as the ranks agreed; a rank reading a copy of
    // the data may have failed on its copy of a file that is whole here.
    if (static_cast<int>(r) != group->rank() && !j.at("skipped").empty())
      log::warn(
          "rank {} could not read {} image(s) of its share from its own copy of the data (e.g. '{}' below its "
          "data.root); its log names each, and why",
          r, j.at("skipped").size(), j.at("skipped").front().get<std::string>());
  }
  return all;
}

/// trainerInputs, shared out over the ranks of `group` (null: alone).
Inputs sharedInputs(InputCache& cache, const Config& cfg, bool head_only, const std::vector<std::string>& paths,
                    training::ProcessGroup* group) {
  auto f = gathered(group, paths, cfg.data.root, [&](const std::vector<std::string>& share) {
    auto in = trainerInputs(cache, cfg, head_only, share);
    return FeatureSet{in.rows, in.paths, in.skipped};
  });
  return {f.features, f.paths, f.skipped};
}

/// Φ's features of exactly the rows of `inputs` (the same files decode the same way).
torch::Tensor frozenRows(InputCache& cache, const Config& cfg, const Inputs& inputs, training::ProcessGroup* group) {
  auto f = gathered(group, inputs.paths, cfg.data.root,
                    [&](const std::vector<std::string>& share) { return frozenFeatures(cache, cfg, share); });
  SHIFTAD_CHECK(f.paths == inputs.paths, "the frozen encoder could not read every image the trainer read");
  return f.features;
}

/// A run folder this fit created, removed again when the fit fails and leaves it empty
/// (CleanUpOnError empties it; the lock goes before this runs).
class RemoveIfLeftEmpty {
 public:
  explicit RemoveIfLeftEmpty(std::string dir)
      : dir_(std::move(dir)), created_(!fs::exists(dir_)), errors_(std::uncaught_exceptions()) {}
  ~RemoveIfLeftEmpty() {
    std::error_code ec;
    if (created_ && std::uncaught_exceptions() > errors_ && fs::is_empty(dir_, ec) && !ec) fs::remove(dir_, ec);
  }
  RemoveIfLeftEmpty(const RemoveIfLeftEmpty&) = delete;
  RemoveIfLeftEmpty& operator=(const RemoveIfLeftEmpty&) = delete;

 private:
  std::string dir_;
  bool created_;
  int errors_;
};

/// Where a run writes: RUN_DIR itself, or (replacing a run) its replacement folder,
/// which takes RUN_DIR's place only once complete. Refuses to touch what is not ours.
struct RunTarget {
  std::string dir;
  bool ours = false;  ///< everything in `dir` is this run's (a new run or a replacement), not a resumed one
};

RunTarget runTarget(const std::string& run_dir, const FitOptions& options) {
  const auto st = inspectRunDir(run_dir);
  const auto replacement = replacementDir(run_dir);
  if (options.resume) {
    if (fs::exists(fs::path(replacement) / kConfigFile)) return {replacement, false};
    SHIFTAD_CHECK(st.has_config, "'{}' holds no run to resume (train one with --out {})", run_dir, run_dir);
    // Resuming it would train or calibrate it again, and change the run the user has.
    SHIFTAD_CHECK(!runCompleted(run_dir),
                  "'{}' holds a finished run: there is nothing to resume. To train it anew: shiftad train --config "
                  "{}/{} --out {} --overwrite",
                  run_dir, run_dir, kConfigFile, run_dir);
    return {run_dir, false};
  }
  if (!st.foreign.empty()) {
    const size_t shown = std::min<size_t>(st.foreign.size(), 5);
    SHIFTAD_THROW(
        "'{}' is not {}: it holds {}{} that shiftad did not write, and shiftad never replaces files it did "
        "not create; choose a new or empty folder for --out",
        run_dir, st.is_run ? "a run directory shiftad can replace" : "a shiftad run directory",
        fmt::join(st.foreign.begin(), st.foreign.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
        st.foreign.size() > shown ? fmt::format(" and {} more", st.foreign.size() - shown) : "");
  }
  if (!st.is_run) return {run_dir, true};
  if (!options.overwrite) {
    if (st.finished)
      SHIFTAD_THROW(
          "'{}' holds a trained run; pass --overwrite (FitOptions::overwrite) to replace it (the old run stays "
          "until the new one is complete), or choose another --out (run folder)",
          run_dir);
    SHIFTAD_THROW(
        "'{}' holds an unfinished run; continue it with `shiftad train --resume {}` (FitOptions::resume), or pass "
        "--overwrite (FitOptions::overwrite) to start over",
        run_dir, run_dir);
  }
  removeOwnFolder(replacement);  // an earlier replacement that never completed
  return {replacement, true};
}

/// Whether this fit is a launcher's restart of a run its first attempt left unfinished
/// (torchrun --max_restarts: TORCHELASTIC_RESTART_COUNT > 0, DistributedOptions::attempt).
/// A restart runs the first attempt's command again, `--config --out RUN`, which would be
/// refused as "holds an unfinished run" and spend the restart; it goes on from the
/// checkpoint as --resume does (which checks the settings and the inputs).
bool restartGoesOn(const std::string& run_dir, const FitOptions& options) {
  if (options.resume || options.distributed.attempt == 0) return false;
  std::error_code ec;
  if (options.overwrite) return fs::exists(fs::path(replacementDir(run_dir)) / kConfigFile, ec);
  const auto st = inspectRunDir(run_dir);
  return st.has_config && !st.finished && st.foreign.empty();
}

/// A new run that fails with an error before its first checkpoint leaves nothing
/// behind (a checkpoint is work to resume, and stays): the folder held nothing else.
class CleanUpOnError {
 public:
  CleanUpOnError(const RunTarget& target, const std::string& run_dir)
      : target_(target), replacing_(target.dir != run_dir), errors_(std::uncaught_exceptions()) {}
  ~CleanUpOnError() {
    if (!target_.ours || std::uncaught_exceptions() <= errors_) return;
    std::error_code ec;
    if (fs::exists(fs::path(target_.dir) / kCheckpointFile, ec)) return;
    if (replacing_) {
      fs::remove_all(target_.dir, ec);
      return;
    }
    for (const auto& e : fs::directory_iterator(target_.dir, ec))
      if (e.path().filename() != kLockFile) fs::remove_all(e.path(), ec);
  }

 private:
  RunTarget target_;
  bool replacing_;
  int errors_;
};

/// What a config asks training to do, and on which files.
struct Plan {
  bool oracle = false;
  bool few_shot = false;
  bool frozen_scorer = false;
  bool align = false;
  bool need_pool = false;
  bool head_only = false;
  std::vector<std::string> source_paths, pool_paths;
};

Plan planFor(const Config& cfg, const data::ProtocolSplit& split) {
  warnAboutPreprocessing(cfg);
  warnAboutRandomTrunk(cfg);
  Plan p;
  p.oracle = cfg.train.on == TrainOn::kTargetNormals;
  p.few_shot = cfg.fewshot.k > 0;
  p.frozen_scorer = cfg.score.method != ScoreMethod::kSvdd;
  // The pool is needed to align, and by the frozen_dominant baseline.
  p.align = aligns(cfg) && !p.frozen_scorer;
  p.need_pool = p.align || cfg.score.method == ScoreMethod::kFrozenDominant;
  if (p.oracle) log::warn("train.on = target_normals: the ORACLE upper bound, trained on labeled target normals");
  p.pool_paths = p.few_shot ? fewShotNormals(split.pool_truth, cfg.fewshot.k, cfg.train.seed) : split.train.pool;
  p.source_paths = p.oracle ? poolNormals(split.pool_truth) : split.train.source;
  // Head-only training reads trunk features; everything else decoded images.
  p.head_only = !p.frozen_scorer && cfg.model.freeze == -1;
  return p;
}

/// The folder a run is written to, with its lock and clean-up, and where it starts.
struct Workspace {
  std::string run_dir;
  std::string dir;  ///< run_dir, or its replacement
  std::string checkpoint;
  int resume_epoch = 0;
  double resume_seconds = 0;                      ///< the fit loop's seconds before the checkpoint resumed from
  std::shared_ptr<training::ProcessGroup> group;  ///< data-parallel ranks; null: alone
  nlohmann::json inputs;                          ///< runInputs as the run found them (rank 0; inputs.json)

  training::ProcessGroup* ranks() const { return group.get(); }
  /// Only rank 0 (or a process training alone) writes the run.
  bool writes() const { return !group || group->rank() == 0; }
};

/// `embed()`, stopped between chunks of images by a stop request (StoppableEmbedding) in a
/// process that trains alone: a SIGTERM waited for the whole source and pool before. Ranks
/// stop together at a training step (FitLoop::stopRequested); one stopping here on its own
/// would leave the others waiting for it.
template <class Embed>
auto stoppableUnlessRanks(InputCache& cache, const Workspace& w, const Embed& embed) {
  std::optional<StoppableEmbedding> stoppable;
  if (!w.group) stoppable.emplace(cache);
  return embed();
}

/// Whether `p` is `folder` or lies below it (lexically, both absolute or both relative).
bool isAtOrBelow(const fs::path& p, const fs::path& folder) {
  const auto rel = p.lexically_relative(folder);
  return !rel.empty() && *rel.begin() != "..";
}

/// `paths` relative to the deepest folder that holds them all.
std::vector<std::string> belowCommonFolder(const std::vector<std::string>& paths) {
  if (paths.empty()) return {};
  fs::path common = fs::path(paths.front()).parent_path();
  for (const auto& p : paths)
    while (!isAtOrBelow(p, common) && common.has_relative_path()) common = common.parent_path();
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(fs::path(p).lexically_relative(common).string());
  return out;
}

/// The disk caches (encoder.cache_dir) must not lie in a run folder, this one or
/// another: that run could no longer be replaced (the cache's files are foreign to it),
/// and replacing it would delete the cache other runs use.
void checkCacheOutsideRuns(const Config& cfg, const std::string& run_dir) {
  const auto cache = absoluteFolder(cacheDir(cfg));
  const auto run = absoluteFolder(run_dir);
  // A folder of the user's as --out (`--out .`, `--out /`) is refused later for what it
  // is; said here, the cache inside it named the wrong problem.
  std::error_code ec;
  const bool foreign = fs::exists(run, ec) && !fs::is_empty(run, ec) && !isShiftadRunFolder(run);
  const auto in_run = isAtOrBelow(cache, run) && !foreign ? run : runFolderAtOrAbove(cache);
  SHIFTAD_CHECK(in_run.empty(),
                "encoder.cache_dir '{}' lies inside the run folder '{}': that run could not be replaced (the cache's "
                "files are not the run's) and would take the cache with it; set encoder.cache_dir to a folder "
                "outside every run",
                cache, in_run);
}

/// The run folder and the disk caches must not lie in the source or target domain: a
/// folder there is read as a class of images, and an empty or foreign one stops every
/// later run on the data (the run trained, then failed at calibration, and stayed).
/// Nor at the data root itself, whose folders are domains.
void checkOutsideTheDomains(const Config& cfg, const std::string& run_dir) {
  const auto resolved = [](const fs::path& p) {
    std::error_code ec;
    const auto c = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
  };
  const std::pair<const char*, std::string> outputs[] = {{"the run folder", run_dir},
                                                         {"encoder.cache_dir", cacheDir(cfg)}};
  for (const auto& [what, dir] : outputs) {
    // At the root itself its files and folders would be domains (a cache's images/ and
    // features/); beside the domains (ROOT/runs/a, ROOT/cache) check-data knows them.
    SHIFTAD_CHECK(resolved(dir) != resolved(cfg.data.root),
                  "{} '{}' is the data root, where its folders would be read as domains of images; choose a folder "
                  "outside the data, or one beside its domains (e.g. '{}')",
                  what, dir,
                  (fs::path(cfg.data.root) / (what == std::string("encoder.cache_dir") ? "cache" : "runs")).string());
    for (const auto& domain : {cfg.data.source, cfg.data.target}) {
      if (domain.empty()) continue;
      const auto data = resolved(fs::path(cfg.data.root) / domain);
      SHIFTAD_CHECK(!isAtOrBelow(resolved(dir), data),
                    "{} '{}' lies in the data's domain folder '{}', where it would be read as a class of images "
                    "(and stop this and every later run on the data); choose a folder outside the data",
                    what, dir, data.string());
    }
    std::error_code ec;
    SHIFTAD_CHECK(cfg.data.pool_images.empty() || !fs::is_directory(cfg.data.pool_images, ec) ||
                      !isAtOrBelow(resolved(dir), resolved(cfg.data.pool_images)),
                  "{} '{}' lies in data.pool_images '{}', whose files the next training would read as pool images; "
                  "choose a folder outside it",
                  what, dir, cfg.data.pool_images);
  }
}

/// A resume goes on with the pool the run started on: the checkpoint's aligned rows and
/// weights are about those images, so a target folder changed since (images added,
/// removed or renamed) is refused, not silently mixed in.
void checkSamePool(const std::string& dir, const std::vector<std::string>& pool_paths) {
  const auto listed = fs::path(dir) / kPoolFile;
  if (!fs::exists(listed)) return;  // a run of a version that wrote no pool list
  // Below the folder the images share: data moved to another root is the same pool.
  const auto before = belowCommonFolder(readPathList(listed.string()));
  const auto pool = belowCommonFolder(pool_paths);
  if (before == pool) return;
  const std::set<std::string> was(before.begin(), before.end()), now(pool.begin(), pool.end());
  std::vector<std::string> gone, added;
  std::set_difference(was.begin(), was.end(), now.begin(), now.end(), std::back_inserter(gone));
  std::set_difference(now.begin(), now.end(), was.begin(), was.end(), std::back_inserter(added));
  const auto example = !gone.empty()    ? "; e.g. gone: '" + gone.front() + "'"
                       : !added.empty() ? "; e.g. new: '" + added.front() + "'"
                                        : std::string("; the same images in another order");
  SHIFTAD_THROW(
      "'{}' cannot be resumed: it started on a target pool of {} images ({}), and the target folder now gives {} "
      "({} gone, {} new{}). Restore the target folder to resume, or train anew: shiftad train --config {}/{} --out "
      "{} --overwrite",
      dir, before.size(), kPoolFile, pool.size(), gone.size(), added.size(), example, dir, kConfigFile, dir);
}

/// XXH64 (hex) of the file `key` names, chained over 1 MiB blocks ("" when nothing is
/// there: the run fails on it later, naming it). Only a regular file is read: a pipe there
/// blocked the open for good and a device was read for ever, before any check and past
/// a SIGTERM.
std::string fileDigest(const std::string& key, const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return "";
  SHIFTAD_CHECK(fs::is_regular_file(status),
                "{} '{}' is not a regular file (a folder, pipe, socket or device); give the file itself", key, path);
  const MappedFile file(path);  // opened without blocking, should a pipe take the file's place meanwhile
  SHIFTAD_CHECK(file.exists() && (file.data() || fs::file_size(path, ec) == 0), "cannot read {} '{}'", key, path);
  constexpr size_t kBlock = size_t{1} << 20;
  uint64_t h = 0;
  for (size_t at = 0; at < file.size(); at += kBlock)
    h = xxh64(file.data() + at, std::min(kBlock, file.size() - at), h);
  return fmt::format("{:016x}", h);
}

/// Count and digest of image files by name below data.root and size (a copy of the data
/// elsewhere is the same set; an edit that keeps a file's size is not seen).
nlohmann::json imageSet(const std::vector<std::string>& paths, const std::string& root) {
  uint64_t h = 0;
  const auto names = belowRoot(paths, root);
  for (size_t i = 0; i < paths.size(); ++i) {
    std::error_code ec;
    const auto entry = fmt::format("{}|{}", names[i].get<std::string>(), fs::file_size(paths[i], ec));
    h = xxh64(entry.data(), entry.size() + 1, h);
  }
  return {{"images", paths.size()}, {"digest", fmt::format("{:016x}", h)}};
}

/// What a run reads besides its settings (inputs.json): a resume that reads other source
/// images under the same names, or other weights at the same path, would go on with a
/// model trained half on each.
nlohmann::json runInputs(const Config& cfg, const data::ProtocolSplit& split) {
  nlohmann::json j = {{"source", imageSet(split.train.source, cfg.data.root)},
                      {"pool", imageSet(split.train.pool, cfg.data.root)}};
  if (!cfg.model.weights.empty()) j["model.weights"] = fileDigest("model.weights", cfg.model.weights);
  if (cfg.encoder.type == EncoderType::kTorchScript) j["encoder.path"] = fileDigest("encoder.path", cfg.encoder.path);
  return j;
}

/// A resume reads what the run started on (runs of earlier versions: not checked).
void checkSameInputs(const std::string& dir, const nlohmann::json& now) {
  const auto path = fs::path(dir) / kInputsFile;
  if (!fs::exists(path)) return;
  const auto then = nlohmann::json::parse(readText(path.string()), nullptr, /*allow_exceptions=*/false);
  if (!then.is_object()) return;  // damaged: the pool and settings checks still hold
  std::vector<std::string> changed;
  for (const auto& [key, value] : now.items())
    if (then.contains(key) && then.at(key) != value) changed.push_back(key);
  SHIFTAD_CHECK(changed.empty(),
                "'{}' cannot be resumed: {} changed since it started ({} records them: images by name and size, "
                "weights by content); going on would train one model half on each. Restore them to resume, or train "
                "anew: shiftad train --config {}/{} --out {} --overwrite",
                dir, fmt::join(changed, ", "), kInputsFile, dir, kConfigFile, dir);
}

/// Create the folder, drop a stale checkpoint and write the config first, so that an
/// interrupted run can be resumed with it (on the same pool).
Workspace startRun(const Config& cfg, const std::string& run_dir, const RunTarget& target, bool resume,
                   const data::ProtocolSplit& split) {
  Workspace w{run_dir, target.dir, (fs::path(target.dir) / kCheckpointFile).string(), 0};
  fs::create_directories(w.dir);
  // Other settings are named first: they also change the pool.
  w.resume_epoch = resume && fs::exists(w.checkpoint) ? training::checkpointEpoch(w.checkpoint, dumpConfig(cfg)) : 0;
  if (w.resume_epoch > 0) w.resume_seconds = training::checkpointSeconds(w.checkpoint);
  if (resume && w.resume_epoch == 0) log::warn("'{}' has no checkpoint to resume from: training from the start", w.dir);
  w.inputs = runInputs(cfg, split);
  if (w.resume_epoch > 0) {
    checkSamePool(w.dir, split.train.pool);
    checkSameInputs(w.dir, w.inputs);
  }
  if (w.resume_epoch == 0) fs::remove(w.checkpoint);  // a stale checkpoint must never be resumed by a later run
  markRunFolder(w.dir);                               // before the config: from now on the folder is a run's
  writeTextAtomic((fs::path(w.dir) / kConfigFile).string(), dumpConfig(cfg));
  if (w.resume_epoch == 0) writeTextAtomic((fs::path(w.dir) / kInputsFile).string(), w.inputs.dump(1) + "\n");
  return w;
}

/// Why this rank cannot train the run rank 0 described ("": it can): other settings, or
/// other inputs (runInputs: images by name below data.root and size, weights by content;
/// a copy of the data set or the weights at another path is the same).
std::string disagreement(const nlohmann::json& rank0, const Config& cfg, const nlohmann::json& inputs) {
  const auto changed = changedSettings(parseConfig(rank0.at("config").get<std::string>()), cfg);
  if (!changed.empty())
    return fmt::format(
        "it was started with other settings than rank 0 ({}; rank 0's before the arrows): start every rank with "
        "the same --config and --set, or --resume of the same run",
        fmt::join(changed, "; "));
  const auto& theirs = rank0.at("inputs");
  std::vector<std::string> differ;
  for (const auto& [key, value] : inputs.items())
    if (!theirs.contains(key) || theirs.at(key) != value) differ.push_back(key);
  if (differ.empty()) return "";
  const auto count = [](const nlohmann::json& j, const char* set) { return j.at(set).at("images").get<size_t>(); };
  return fmt::format(
      "it reads another {} than rank 0 (images by name below data.root '{}' and size, weights by content; this rank "
      "{} source and {} pool images, rank 0 {} and {}): every rank must read the same data set and weights (a copy "
      "at another path is fine)",
      fmt::join(differ, ", "), cfg.data.root, count(inputs, "source"), count(inputs, "pool"), count(theirs, "source"),
      count(theirs, "pool"));
}

/// Every rank says whether it can train the run rank 0 described: one that cannot fails
/// them all, before any training, each naming that rank and why.
void agreeOnTheRun(training::ProcessGroup& group, const std::string& why_not) {
  const auto all = group.allGatherStrings(why_not);
  for (size_t r = 0; r < all.size(); ++r)
    SHIFTAD_CHECK(all[r].empty(), "distributed training: rank {} of {} cannot train this run: {}", r, all.size(),
                  all[r]);
}

/// The name of the folder `path` names ("runs/dp/" and "/abs/runs/dp": "dp").
std::string folderName(const std::string& path) {
  auto p = fs::absolute(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

/// Why this rank's own run folder and resume are not rank 0's, else "". Names are
/// compared, not paths: ranks may run from other folders, on nodes that do not share
/// the file system. Two jobs started on one --master port met and trained as one,
/// the second job's rank 1 reporting a run nobody wrote.
std::string otherRun(const nlohmann::json& rank0, const std::string& run_dir, bool resume) {
  const auto theirs = rank0.at("run_dir").get<std::string>();
  if (folderName(run_dir) != folderName(theirs))
    return fmt::format(
        "it was given the run folder '{}', rank 0 '{}': every rank takes the same --out (or --resume); are two jobs "
        "using one --master port?",
        run_dir, theirs);
  if (resume != rank0.at("resume").get<bool>())
    return fmt::format("it was started {} --resume, rank 0 {}: give every rank the same command",
                       resume ? "with" : "without", resume ? "without" : "with");
  return "";
}

/// Where rank 0 writes the run (and reads a checkpoint from), as it told the others,
/// once every rank agreed to train it; an Error when rank 0 could not start it.
Workspace workspaceOfRank0(const std::shared_ptr<training::ProcessGroup>& group, const std::string& run_dir,
                           const Config& cfg, const data::ProtocolSplit& split, bool resume, bool restart) {
  const auto j = fromWire(group->fromRank0(""));
  if (j.contains("error"))
    SHIFTAD_THROW("rank 0 could not start the run in '{}': {}", run_dir, j.at("error").get<std::string>());
  if (restart && j.at("resume").get<bool>()) resume = true;  // rank 0 goes on from its first attempt (restartGoesOn)
  Workspace w;
  w.run_dir = j.at("run_dir").get<std::string>();  // what this rank reports: where rank 0 writes
  w.dir = j.at("dir").get<std::string>();
  w.checkpoint = j.at("checkpoint").get<std::string>();
  w.resume_epoch = j.at("resume_epoch").get<int>();
  w.group = group;
  auto why_not = otherRun(j, run_dir, resume);
  if (why_not.empty()) why_not = disagreement(j.at("run"), cfg, runInputs(cfg, split));
  if (why_not.empty() && w.resume_epoch > 0 && !fs::exists(w.checkpoint))
    why_not = fmt::format(
        "rank 0 resumes from '{}', which this rank cannot see: every rank must see the run folder at the same path "
        "(a shared file system) to resume a distributed run",
        w.checkpoint);
  agreeOnTheRun(*group, why_not);
  return w;
}

/// Rank 0's side: where the run is (absolute: the other ranks may run elsewhere) and
/// what it is, then the others' agreement.
void describeToTheRanks(training::ProcessGroup& group, const Workspace& w, const Config& cfg, bool resume) {
  group.fromRank0(toWire({{"run_dir", fs::absolute(w.run_dir).lexically_normal().string()},
                          {"resume", resume},
                          {"dir", fs::absolute(w.dir).string()},
                          {"checkpoint", fs::absolute(w.checkpoint).string()},
                          {"resume_epoch", w.resume_epoch},
                          {"run", {{"config", dumpConfig(cfg)}, {"inputs", w.inputs}}}}));
  agreeOnTheRun(group, "");
}

/// Image counts of a run, for its summary.
struct Counts {
  int64_t source = 0, pool = 0, skipped = 0;
};

/// A frozen-encoder baseline (score.method frozen_*): Φ's features of the source (and,
/// for frozen_dominant, of the pool's dominant set) become the scorer's reference.
Counts fitFrozenBaseline(InputCache& cache, const Config& cfg, const Plan& plan, const data::ProtocolSplit& split,
                         const std::string& dir, std::ostream& metrics) {
  Counts n;
  const auto src = frozenFeatures(cache, cfg, plan.source_paths);
  n.source = static_cast<int64_t>(src.paths.size());
  n.skipped = static_cast<int64_t>(src.skipped.size());
  checkSkipped(cfg.data.max_skipped, src.skipped, plan.source_paths.size(), "source");
  SHIFTAD_CHECK(n.source >= 1, "no readable source image of '{}'", cfg.data.normal_class);
  if (cfg.score.method == ScoreMethod::kFrozenKnn && cfg.score.knn_k > n.source)
    log::warn(
        "score.knn_k = {} is more than the {} source images: frozen_knn averages over all {} of them (as frozen_mean "
        "does, on distances); lower score.knn_k to look at a neighbourhood",
        cfg.score.knn_k, n.source, n.source);
  torch::Tensor dominant_features;
  if (cfg.score.method == ScoreMethod::kFrozenDominant) {
    const auto phi = frozenFeatures(cache, cfg, plan.pool_paths);
    n.pool = static_cast<int64_t>(phi.paths.size());
    n.skipped += static_cast<int64_t>(phi.skipped.size());
    checkSkipped(cfg.data.max_skipped, phi.skipped, plan.pool_paths.size(), "pool");
    const auto dominant = method::dominantRows(phi.features, cfg.cluster, static_cast<uint64_t>(cfg.train.seed));
    dominant_features = phi.features.index_select(0, dominant);
    writeDominant(dir, phi.paths, dominant);
    const auto labels = split.pool_labelled ? labelsOf(phi.paths, split.pool_truth) : std::vector<int>{};
    const double share = static_cast<double>(dominant.size(0)) / static_cast<double>(n.pool);
    const nlohmann::json j = {
        {"epoch", 0},
        {"dominant_size", dominant.size(0)},
        {"dominant_share", share},
        {"dominant_purity_diagnostic", labelDiagnostic(split.pool_labelled, [&] { return purity(dominant, labels); })},
        {"contamination_estimate", 1.0 - share},
        {"contamination_diagnostic", labelDiagnostic(split.pool_labelled, [&] { return anomalyShare(labels); })}};
    metrics << j.dump() << "\n" << std::flush;
  }
  log::info("train [{}]: frozen-encoder scorer from {} source and {} pool images", cfg.run.variant, n.source, n.pool);
  saveFrozenRun(dir, cfg, models::makeFrozenScorer(cfg.score.method, src.features, dominant_features, cfg.score.knn_k));
  return n;
}

/// What the trainer trains on: source and pool rows, Φ's features of the pool when the
/// dominant set is clustered in Φ's space, and the few-shot variant's pseudo-anomalies.
training::TrainingData trainingData(InputCache& cache, const Config& cfg, const Plan& plan, const Inputs& source,
                                    const Inputs& pool, training::ProcessGroup* group) {
  training::TrainingData td;
  td.source = source.rows;
  if (plan.need_pool) td.pool = pool.rows;
  // Φ's features of the pool: the frozen space's clustering, and the dense region when there is a Φ.
  const bool phi_selects = cfg.cluster.space == ClusterSpace::kFrozen ||
                           (cfg.cluster.space == ClusterSpace::kDense && cfg.encoder.type != EncoderType::kNone);
  if (plan.align && phi_selects) td.pool_frozen = frozenRows(cache, cfg, pool, group);
  if (plan.few_shot) {
    // Pseudo-anomalies: strong augmentations of the labeled normals, as negatives.
    auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.train.seed) + 7);
    const auto images = loadImagesOnce(cache, cfg, pool.paths, resizeSide(cfg.data), cfg.data.interpolation).images;
    const auto negatives = data::makePseudoAnomalies(images.repeat({cfg.fewshot.pseudo_per_image, 1, 1, 1}), gen);
    td.negatives = plan.head_only ? trunkFeaturesOf(cfg, negatives) : negatives;
  }
  return td;
}

/// After each epoch: its metrics line and log line, the caller's progress report, and
/// the stop request of the cancel callback (or of SIGINT, see Detector::fit).
struct EpochRecorder {
  const Config& cfg;
  const Plan& plan;
  const std::vector<int>& pool_labels;
  double pool_contamination;  ///< the pool's true anomaly share (diagnostic, reads labels)
  int64_t n_pool;
  std::ostream& metrics;
  const Callbacks& callbacks;
  std::atomic<bool>& cancelled;
  TrainSummary& summary;
  torch::Tensor last_dominant;
  bool pool_labelled = true;  ///< false: data.pool_images, no label diagnostics

  void operator()(const training::EpochStats& st, const torch::Tensor& dominant) {
    last_dominant = dominant;
    nlohmann::json j = {{"epoch", st.epoch},
                        {"loss", st.loss},
                        {"svdd_loss", st.svdd_loss},
                        {"align_loss", st.align_loss},
                        {"dominant_size", st.dominant_size},
                        {"dominant_share", st.dominant_share},
                        {"seconds", st.seconds}};
    if (plan.align) {
      j["dominant_purity_diagnostic"] = labelDiagnostic(pool_labelled, [&] { return purity(dominant, pool_labels); });
      // What the aligned set implies of the pool (the share left out) next to the truth,
      // which reads the labels: a diagnostic, never an input.
      j["contamination_estimate"] = 1.0 - st.dominant_share;
      j["contamination_diagnostic"] = labelDiagnostic(pool_labelled, [&] { return pool_contamination; });
    }
    metrics << j.dump() << "\n" << std::flush;
    if (plan.align && st.epoch == cfg.train.epochs)
      log::info("pool share left out of the aligned set (estimated contamination): {:.3f}; true: {}",
                1.0 - st.dominant_share,
                pool_labelled ? fmt::format("{:.3f} (diagnostic, reads labels)", pool_contamination)
                              : std::string("unknown (an unlabeled pool)"));
    // Source-only runs align nothing: no align loss, no dominant set to report.
    log::info("epoch {}/{}: loss {:.4f}{}, {:.1f}s", st.epoch, cfg.train.epochs, st.loss,
              plan.align ? fmt::format(" (svdd {:.4f}, align {:.4f}), dominant {} of {} pool images", st.svdd_loss,
                                       st.align_loss, st.dominant_size, n_pool)
                         : "",
              st.seconds);
    summary.final_loss = st.loss;
    summary.epochs = st.epoch;
    if (callbacks.progress) callbacks.progress("fit", st.epoch, cfg.train.epochs);
    if (callbacks.cancel && (callbacks.cancel() || stopRequested().load())) cancelled = true;
  }
};

/// The end of F's training: the center of a run without epochs, the final dominant
/// set, score.center dominant, and the model files (not after a stop).
void finishNetwork(training::Trainer& trainer, const Config& cfg, const Plan& plan, const training::TrainingData& td,
                   const Inputs& pool, const EpochRecorder& recorder, const Workspace& w, bool interrupted) {
  if (cfg.train.epochs == 0) trainer.initCenter(td.source);
  const auto& last_dominant = recorder.last_dominant;
  const bool has_dominant = last_dominant.defined() && last_dominant.numel() > 0;
  if (has_dominant && w.writes()) writeDominant(w.dir, pool.paths, last_dominant);
  auto center_used = ScoreCenter::kSource;
  if (!interrupted && cfg.score.center == ScoreCenter::kDominant) {
    // The scoring center moves to where F put the target's normal mode.
    if (plan.align && has_dominant) {
      trainer.setCenter(trainer.embedAll(td.pool.index_select(0, last_dominant)).mean(0));
      center_used = ScoreCenter::kDominant;
    } else {
      log::info("score.center = dominant: this run aligns no dominant set; it scores from c");
    }
  }
  if (!interrupted && w.writes()) saveRun(w.dir, cfg, trainer, center_used);
}

std::shared_ptr<models::FeatureExtractor> seededNetwork(const ModelConfig& model, at::Generator& stream) {
  const models::NetworkConstruction building(stream);
  return models::makeFeatureExtractor(model);
}

/// Refuses a run folder whose file system cannot take what the fit writes (the
/// checkpoint: F with its optimiser's two moments, then the model beside it: at most four
/// copies of F's tensors) before training, not when the first write fails after it.
void checkRoomForTheRun(const std::string& dir, const torch::nn::Module& net) {
  uintmax_t bytes = 0;
  for (const auto& t : net.parameters()) bytes += static_cast<uintmax_t>(t.numel() * t.element_size());
  for (const auto& t : net.buffers()) bytes += static_cast<uintmax_t>(t.numel() * t.element_size());
  const uintmax_t needed = 4 * bytes + (uintmax_t{16} << 20);
  std::error_code ec;
  const auto space = fs::space(dir, ec);
  SHIFTAD_CHECK(ec || space.available >= needed,
                "run directory '{}': its file system has {:.1f} MB free, and the run writes up to {:.1f} MB (its "
                "checkpoint and model: four copies of F's {:.1f} MB, and its lists and metrics); free some space or "
                "train into a folder on another file system",
                dir, static_cast<double>(space.available) / 1e6, static_cast<double>(needed) / 1e6,
                static_cast<double>(bytes) / 1e6);
}

/// F as built for a fit, and the stream its construction drew from (the trainer goes on
/// with it: the discriminator's weights).
struct NewNetwork {
  std::shared_ptr<models::FeatureExtractor> net;
  at::Generator stream;
};

/// F's initial weights: train.seed's, whatever else the process does. Built before the
/// images are decoded and embedded (minutes on a large pool), so that a run folder that
/// cannot take its checkpoint is refused before that work, not after it.
NewNetwork newNetwork(const Config& cfg, const Workspace& w) {
  auto stream = models::constructionStream(static_cast<uint64_t>(cfg.train.seed));
  auto net = seededNetwork(cfg.model, stream);
  if (w.writes()) checkRoomForTheRun(w.dir, *net);
  return {std::move(net), std::move(stream)};
}

/// Train F (Deep SVDD, aligned to the pool's dominant set when the config aligns).
Counts fitNetwork(InputCache& cache, const Config& cfg, const Plan& plan, const data::ProtocolSplit& split,
                  const Inputs& source, const Inputs& pool, const NewNetwork& f, const Workspace& w,
                  std::ostream& metrics, const Callbacks& callbacks, TrainSummary& summary) {
  const Counts n{static_cast<int64_t>(source.paths.size()), static_cast<int64_t>(pool.paths.size()),
                 static_cast<int64_t>(source.skipped.size() + pool.skipped.size())};
  checkSkipped(cfg.data.max_skipped, source.skipped, plan.source_paths.size(), "source");
  if (plan.need_pool) checkSkipped(cfg.data.max_skipped, pool.skipped, plan.pool_paths.size(), "pool");
  log::info("train [{}]: {} {} images of '{}', {} target {} images ({}){}{}", cfg.run.variant, n.source,
            plan.oracle ? "target-normal" : "source", cfg.data.normal_class, n.pool,
            plan.few_shot ? "few-shot normal" : "pool",
            cfg.data.pool_images.empty() ? cfg.data.target : "unlabeled, " + cfg.data.pool_images,
            plan.need_pool ? "" : " [pool unused]", plan.head_only ? " [head only, on cached trunk features]" : "");
  const auto pool_labels =
      plan.need_pool && split.pool_labelled ? labelsOf(pool.paths, split.pool_truth) : std::vector<int>{};
  training::Trainer trainer(cfg, f.net, &cache.principalBases());
  trainer.continueConstructionStream(f.stream);
  trainer.setProcessGroup(w.group);
  const auto td =
      stoppableUnlessRanks(cache, w, [&] { return trainingData(cache, cfg, plan, source, pool, w.ranks()); });
  std::atomic<bool> cancelled{false};
  EpochRecorder recorder{cfg,       plan,    pool_labels, anomalyShare(pool_labels), n.pool, metrics, callbacks,
                         cancelled, summary, {},          split.pool_labelled};
  training::FitControl control;
  control.checkpoint = w.checkpoint;
  control.checkpoint_every = cfg.train.checkpoint_every;
  control.resume = w.resume_epoch > 0;
  control.write_checkpoints = w.writes();
  // Without a cancel callback SIGINT stops between steps; with one, at epoch ends.
  control.stop = callbacks.cancel ? &cancelled : &stopRequested();
  const auto result = trainer.fit(
      td, [&](const training::EpochStats& st, const torch::Tensor& dominant) { recorder(st, dominant); }, control);
  summary.interrupted = result == training::FitResult::Stopped;
  if (summary.interrupted && !w.group)
    log::warn("interrupted: checkpoint '{}' written; continue with `shiftad train --resume {}`", w.checkpoint,
              w.run_dir);
  else if (summary.interrupted)  // every rank stopped at the same step; rank 0 wrote the checkpoint
    log::warn("interrupted: {} checkpoint '{}'; continue by starting every rank again with `train --resume {}`",
              w.writes() ? "wrote the" : "rank 0 wrote the", w.checkpoint, w.run_dir);
  finishNetwork(trainer, cfg, plan, td, pool, recorder, w, summary.interrupted);
  return n;
}

/// summary.json and what `before_commit` adds, then (a complete replacement) the swap
/// into RUN_DIR.
void finishRun(const Config& cfg, const Workspace& w, const Plan& plan, const Counts& n, TrainSummary& summary,
               std::chrono::steady_clock::time_point t0, const BeforeCommit& before_commit) {
  // Stopped: the epochs done (before the one a resumed fit went on in, when it stopped
  // before ending one).
  summary.epochs = plan.frozen_scorer    ? 0
                   : summary.interrupted ? std::max(summary.epochs, summary.resumed_at_epoch - 1)
                                         : cfg.train.epochs;
  summary.source_images = n.source;
  summary.pool_images = n.pool;
  summary.skipped_images = n.skipped;
  summary.seconds = secondsSince(t0) + w.resume_seconds;  // a resumed run's earlier segments too
  if (!w.writes()) return;
  const nlohmann::json js = {{"variant", cfg.run.variant},
                             {"epochs", summary.epochs},
                             {"seconds", summary.seconds},
                             {"source_images", summary.source_images},
                             {"pool_images", summary.pool_images},
                             {"skipped_images", summary.skipped_images},
                             {"final_loss", summary.final_loss},
                             {"interrupted", summary.interrupted},
                             {"resumed_at_epoch", summary.resumed_at_epoch}};
  writeTextAtomic((fs::path(w.dir) / kSummaryFile).string(), js.dump(2) + "\n");
  if (summary.interrupted) return;
  if (before_commit) before_commit(w.dir);
  if (w.dir != w.run_dir) replaceRun(w.run_dir, w.dir);
}

/// The training itself, once the folder is locked and chosen.
TrainSummary trainInto(InputCache& cache, const Config& cfg, const data::ProtocolSplit& split, const Workspace& w,
                       const Callbacks& callbacks, std::chrono::steady_clock::time_point t0,
                       const BeforeCommit& before_commit) {
  const auto plan = planFor(cfg, split);
  if (!plan.frozen_scorer && !plan.head_only)
    checkFitDecodesInMemory(cache, cfg,
                            {plan.source_paths, plan.need_pool ? plan.pool_paths : std::vector<std::string>{}});
  const auto f = plan.frozen_scorer ? NewNetwork{} : newNetwork(cfg, w);
  const auto inputsOf = [&](bool needed, const std::vector<std::string>& paths) {
    if (!needed || plan.frozen_scorer) return Inputs{};
    return stoppableUnlessRanks(cache, w, [&] { return sharedInputs(cache, cfg, plan.head_only, paths, w.ranks()); });
  };
  const auto source = inputsOf(true, plan.source_paths);
  const auto pool = inputsOf(plan.need_pool, plan.pool_paths);
  std::ofstream metrics;  // not open on a rank that writes nothing: its lines go nowhere
  if (w.writes()) {
    // Read by training or calibration: eval later refuses a test split that holds any.
    writePathList((fs::path(w.dir) / kPoolFile).string(), split.train.pool);
    if (w.resume_epoch > 0) keepMetricsBefore(w.dir, w.resume_epoch);
    metrics.open(fs::path(w.dir) / kMetricsFile, w.resume_epoch > 0 ? std::ios::app : std::ios::trunc);
    SHIFTAD_CHECK(metrics.good(), "cannot write '{}/{}'", w.dir, kMetricsFile);
  }
  TrainSummary summary;
  summary.resumed_at_epoch = w.resume_epoch;
  // A frozen-encoder baseline trains nothing: rank 0 builds it alone.
  const auto n = plan.frozen_scorer
                     ? (w.writes() ? fitFrozenBaseline(cache, cfg, plan, split, w.dir, metrics) : Counts{})
                     : fitNetwork(cache, cfg, plan, split, source, pool, f, w, metrics, callbacks, summary);
  finishRun(cfg, w, plan, n, summary, t0, before_commit);
  return summary;
}

/// trainInto on rank 0 (or alone). A run that fails once it has a checkpoint (another
/// rank died, the data went away before calibration) keeps it: the error says how to go
/// on from it.
TrainSummary trainedByRank0(InputCache& cache, const Config& cfg, const data::ProtocolSplit& split, const Workspace& w,
                            const Callbacks& callbacks, std::chrono::steady_clock::time_point t0,
                            const BeforeCommit& before_commit, const std::string& run_dir) {
  try {
    return trainInto(cache, cfg, split, w, callbacks, t0, before_commit);
  } catch (const Stopped& e) {
    std::error_code ec;
    if (fs::exists(w.checkpoint, ec))
      throw Stopped(
          fmt::format("{}, before training went on: the run's checkpoint is as it was; `shiftad train "
                      "--resume {}` (FitOptions::resume) continues from it",
                      e.what(), run_dir));
    throw Stopped(
        fmt::format("{}, before training began: the run folder '{}' is as it was before; fit it again "
                    "(`shiftad train`: the same command)",
                    e.what(), run_dir));
  } catch (const Error& e) {
    std::error_code ec;
    if (!fs::exists(w.checkpoint, ec)) throw;
    if (w.group)
      SHIFTAD_THROW(
          "{}; rank 0 kept the run's last checkpoint: continue by starting every rank again with `shiftad "
          "train --resume {}`",
          e.what(), run_dir);
    SHIFTAD_THROW(
        "{}; the run's last checkpoint is kept: once that is fixed, `shiftad train --resume {}` "
        "(FitOptions::resume) continues from it",
        e.what(), run_dir);
  }
}

/// `cfg`, with run.variant "custom" when it names a preset whose keys the config changed
/// (`--set run.variant=oracle`, an old run's config with another cluster.space): reports
/// and summaries would show the preset's name for a run that is not it.
Config labelledAsItIs(Config cfg) {
  if (const auto changes = variantLabelChanges(cfg); !changes.empty()) {
    log::warn("run.variant is '{}', but the config is not that variant ({}); the run is labelled custom",
              cfg.run.variant, fmt::join(changes, "; "));
    cfg.run.variant = "custom";
  }
  return cfg;
}

}  // namespace

FitOutcome fitRun(InputCache& cache, const Config& cfg_in, const std::string& run_dir, const FitOptions& options,
                  const BeforeCommit& before_commit) {
  const FitInProgress fitting;  // SIGINT/SIGTERM (handleInterrupts) stop this fit, and no later one
  const auto t0 = std::chrono::steady_clock::now();
  // Absolute paths in the run's config.yaml: it means the same from any folder.
  const Config cfg = labelledAsItIs(withAbsolutePaths(cfg_in));
  validateConfig(cfg);
  const auto split = splitFor(cfg.data);
  // Before anything is written (bad data fails above without touching run_dir).
  std::error_code ec;
  SHIFTAD_CHECK(!fs::exists(run_dir, ec) || fs::is_directory(run_dir, ec),
                "run directory '{}' is a file, not a folder; give a new or empty folder (or a run) to write to",
                run_dir);
  std::shared_ptr<training::ProcessGroup> group;
  if (options.distributed.world_size > 1) {
    const ExitAtOnceOnInterrupt nothing_to_save_yet;  // the folder is not touched before the rendezvous
    group = training::ProcessGroup::connect(options.distributed);
  }
  if (group && group->rank() != 0) {
    // Rank 0 owns the folder: the others train with it and write nothing.
    const auto w = workspaceOfRank0(group, run_dir, cfg, split, options.resume, options.distributed.attempt > 0);
    auto summary = trainInto(cache, cfg, split, w, options.callbacks, t0, {});
    summary.run_dir = w.run_dir;
    return {summary, cfg, false};
  }
  const RemoveIfLeftEmpty new_folder(run_dir);  // destroyed last: after the lock is released
  std::optional<RunLock> lock;
  std::optional<CleanUpOnError> clean_up;
  Workspace workspace;
  FitOptions effective = options;
  try {
    checkNotInsideARun(run_dir);
    checkCacheOutsideRuns(cfg, run_dir);
    checkOutsideTheDomains(cfg, run_dir);
    finishReplacement(run_dir);
    lock.emplace(run_dir);
    if (restartGoesOn(run_dir, options)) {
      effective.resume = true;
      log::info("restart {} of the launcher's group: going on with the run its first attempt left in '{}'",
                options.distributed.attempt, run_dir);
    }
    const auto target = runTarget(run_dir, effective);
    clean_up.emplace(target, run_dir);
    workspace = startRun(cfg, run_dir, target, effective.resume, split);
  } catch (const std::exception& e) {
    if (group) group->fromRank0(toWire({{"error", e.what()}}));  // the others stop too
    throw;
  }
  if (group) {
    describeToTheRanks(*group, workspace, cfg, effective.resume);  // an Error here cleans up as one above
    workspace.group = group;
  }
  auto summary = trainedByRank0(cache, cfg, split, workspace, options.callbacks, t0, before_commit, run_dir);
  summary.run_dir = fs::absolute(run_dir).lexically_normal().string();
  return {summary, cfg, true};
}

}  // namespace shiftad::api
