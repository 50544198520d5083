// The public API (include/shiftad/shiftad.h): data set-up, training, scoring and
// evaluation wired together from the data, models, training and evaluation pieces.
#include <chrono>
#include <malloc.h>

#include <algorithm>
#include <limits>
#include <filesystem>
#include <random>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "api/Features.h"
#include "api/Interrupt.h"
#include "api/RunDir.h"
#include "api/RunLock.h"
#include "api/SkipLimit.h"
#include "common/Csv.h"
#include "common/Error.h"
#include "common/Progress.h"
#include "data/ImageFolder.h"
#include "data/ImageTensors.h"
#include "data/PseudoAnomaly.h"
#include "data/Protocol.h"
#include "data/Synth.h"
#include "evaluation/Metrics.h"
#include "method/DominantSelector.h"
#include "method/PrincipalBasis.h"
#include "models/FrozenScorer.h"
#include "shiftad/shiftad.h"
#include "training/Checkpoint.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

/// Share of true normals among the aligned pool samples. Diagnostic only: computed
/// after the epoch from the pool's labels, which never reach the trainer.
double purity(const torch::Tensor& dominant, const std::vector<int>& pool_is_anomaly) {
  if (dominant.numel() == 0) return 0.0;
  const auto idx = dominant.accessor<int64_t, 1>();
  int64_t normal = 0;
  for (int64_t i = 0; i < idx.size(0); ++i) normal += pool_is_anomaly[static_cast<size_t>(idx[i])] == 0;
  return static_cast<double>(normal) / static_cast<double>(idx.size(0));
}

/// Labels of the loaded rows: the loader drops unreadable files, so labels are
/// re-indexed by path.
std::vector<int> labelsOf(const std::vector<std::string>& loaded, const data::LabelledImages& truth) {
  std::unordered_map<std::string, int> by_path;
  for (size_t i = 0; i < truth.paths.size(); ++i) by_path[truth.paths[i]] = truth.is_anomaly[i];
  std::vector<int> out;
  for (const auto& p : loaded) out.push_back(by_path.at(p));
  return out;
}

/// The target normals of the pool (the oracle's training set; reads labels).
std::vector<std::string> poolNormals(const data::LabelledImages& pool) {
  std::vector<std::string> normals;
  for (size_t i = 0; i < pool.paths.size(); ++i)
    if (!pool.is_anomaly[i]) normals.push_back(pool.paths[i]);
  return normals;
}

/// The k labeled target normals of the few-shot variant: drawn (seeded) from the
/// pool's normals. Reads pool labels: only reachable with data.target_labels.
std::vector<std::string> fewShotNormals(const data::LabelledImages& pool, int k, int seed) {
  auto normals = poolNormals(pool);
  SHIFTAD_CHECK(static_cast<int>(normals.size()) >= k, "fewshot.k = {} but the pool holds only {} normal images", k,
                normals.size());
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::shuffle(normals.begin(), normals.end(), rng);
  normals.resize(static_cast<size_t>(k));
  std::sort(normals.begin(), normals.end());
  return normals;
}

/// The pool images of a dominant set (indices into `pool_paths`), for reports and users.
void writeDominant(const std::string& run_dir, const std::vector<std::string>& pool_paths,
                   const torch::Tensor& dominant) {
  const auto idx = dominant.to(torch::kLong).contiguous();
  std::vector<std::string> kept;
  for (int64_t i = 0; i < idx.numel(); ++i)
    kept.push_back(pool_paths.at(static_cast<size_t>(idx.data_ptr<int64_t>()[i])));
  api::writePathList((fs::path(run_dir) / api::kDominantFile).string(), kept);
}

/// Φ's features of exactly the rows of `inputs` (the same files decode the same way).
torch::Tensor frozenRows(const Config& cfg, const api::Inputs& inputs) {
  auto f = api::frozenFeatures(cfg, inputs.paths);
  SHIFTAD_CHECK(f.paths == inputs.paths, "the frozen encoder could not read every image the trainer read");
  return f.features;
}

/// Scores of image files by a run: F's distance to c (on cached trunk features when
/// the trunk is frozen) or a frozen-encoder baseline.
api::Inputs scoreFiles(api::LoadedRun& run, const std::vector<std::string>& paths, torch::Tensor& scores) {
  if (run.frozen) {
    auto f = api::frozenFeatures(run.cfg, paths, run.encoder_trunk.get());
    scores = f.features.defined() ? run.frozen->score(f.features) : torch::empty({0});
    return {f.features, f.paths, f.skipped};
  }
  auto& net = run.trainer->net();
  auto in = api::trainerInputs(run.cfg, net.trunkFrozen(), paths, &net);
  scores = in.paths.empty() ? torch::empty({0}) : run.trainer->score(in.rows);
  return in;
}

}  // namespace

void setThreads(int threads) {
  // Convolutions at 224 px allocate and free activation buffers of tens of MB per
  // layer. glibc serves those with mmap/munmap, so every layer pays page faults and
  // zeroing: MobileNetV2 inference ran at ~5 images/s with most time in the kernel.
  // Keeping large blocks in the heap (never trimmed) makes it ~6x faster.
  static const bool tuned = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    return true;
  }();
  (void)tuned;
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
}

void synthesize(const std::string& out_dir, int seed) {
  // The benchmark's own layout may be rewritten; anything else in the folder is the user's.
  std::error_code ec;
  if (fs::is_directory(out_dir, ec)) {
    std::vector<std::string> foreign;
    const auto domains = data::synthDomains();
    for (const auto& e : fs::directory_iterator(out_dir))
      if (std::find(domains.begin(), domains.end(), e.path().filename().string()) == domains.end())
        foreign.push_back(e.path().filename().string());
    SHIFTAD_CHECK(foreign.empty(),
                  "synth --out '{}' holds files the benchmark does not write (e.g. '{}'); choose a new or empty folder",
                  out_dir, foreign.empty() ? "" : foreign.front());
  }
  data::SynthParams p;
  p.seed = seed;
  data::writeSynth(out_dir, p);
}

namespace {

/// Where train() writes: RUN_DIR itself, or (replacing a run) its replacement folder,
/// which takes RUN_DIR's place only once complete. Refuses to touch what is not ours.
struct RunTarget {
  std::string dir;
  bool ours = false;  ///< everything in `dir` is this run's (a new run or a replacement), not a resumed one
};

RunTarget runTarget(const std::string& run_dir, const TrainOptions& options) {
  const auto st = api::inspectRunDir(run_dir);
  const auto replacement = api::replacementDir(run_dir);
  if (options.resume) {
    if (fs::exists(fs::path(replacement) / api::kConfigFile)) return {replacement, false};
    SHIFTAD_CHECK(st.has_config, "'{}' holds no run to resume (train one with --out {})", run_dir, run_dir);
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
          "'{}' holds a trained run; pass --overwrite to replace it (the old run stays until the new one is "
          "complete), or choose another --out",
          run_dir);
    SHIFTAD_THROW(
        "'{}' holds an unfinished run; continue it with `shiftad train --resume {}`, or pass --overwrite to "
        "start over",
        run_dir, run_dir);
  }
  fs::remove_all(replacement);  // an earlier replacement that never completed
  return {replacement, true};
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
    if (fs::exists(fs::path(target_.dir) / api::kCheckpointFile, ec)) return;
    if (replacing_) {
      fs::remove_all(target_.dir, ec);
      return;
    }
    for (const auto& e : fs::directory_iterator(target_.dir, ec))
      if (e.path().filename() != api::kLockFile) fs::remove_all(e.path(), ec);
  }

 private:
  RunTarget target_;
  bool replacing_;
  int errors_;
};

}  // namespace

TrainSummary train(const Config& cfg_in, const std::string& run_dir, const TrainOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  // Absolute paths in the run's config.yaml: it means the same from any folder.
  const Config cfg = withAbsolutePaths(cfg_in);
  validateConfig(cfg);
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  const auto split = api::splitFor(cfg.data);
  // Before anything is written (bad data fails above without touching run_dir).
  std::error_code ec;
  SHIFTAD_CHECK(!fs::exists(run_dir, ec) || fs::is_directory(run_dir, ec),
                "run directory '{}' is a file, not a folder; give a new or empty folder (or a run) to write to",
                run_dir);
  api::finishReplacement(run_dir);
  const api::RunLock lock(run_dir);
  const auto target = runTarget(run_dir, options);
  const CleanUpOnError clean_up(target, run_dir);
  const auto& dir = target.dir;
  fs::create_directories(dir);
  const auto checkpoint = (fs::path(dir) / api::kCheckpointFile).string();
  const int resume_epoch = options.resume && fs::exists(checkpoint) ? training::checkpointEpoch(checkpoint) : 0;
  if (options.resume && resume_epoch == 0)
    spdlog::warn("'{}' has no checkpoint to resume from: training from the start", dir);
  if (resume_epoch == 0) fs::remove(checkpoint);  // a stale checkpoint must never be resumed by a later run
  // The config goes first, so that an interrupted run can be resumed with it.
  api::writeTextAtomic((fs::path(dir) / api::kConfigFile).string(), dumpConfig(cfg));
  const bool oracle = cfg.train.on == TrainOn::kTargetNormals;
  const bool few_shot = cfg.fewshot.k > 0;
  const bool frozen_scorer = cfg.score.method != ScoreMethod::kSvdd;
  // The pool is needed to align, and by the frozen_dominant baseline.
  const bool align = aligns(cfg) && !frozen_scorer;
  const bool need_pool = align || cfg.score.method == ScoreMethod::kFrozenDominant;
  if (oracle) spdlog::warn("train.on = target_normals: the ORACLE upper bound, trained on labeled target normals");

  const auto pool_paths = few_shot ? fewShotNormals(split.pool_truth, cfg.fewshot.k, cfg.train.seed) : split.train.pool;
  const auto source_paths = oracle ? poolNormals(split.pool_truth) : split.train.source;
  // Head-only training reads trunk features; everything else decoded images.
  const bool head_only = !frozen_scorer && cfg.model.freeze == -1;
  const auto source = frozen_scorer ? api::Inputs{} : api::trainerInputs(cfg, head_only, source_paths);
  const auto pool = need_pool && !frozen_scorer ? api::trainerInputs(cfg, head_only, pool_paths) : api::Inputs{};
  if (resume_epoch > 0) api::keepMetricsBefore(dir, resume_epoch);
  std::ofstream metrics(fs::path(dir) / api::kMetricsFile, resume_epoch > 0 ? std::ios::app : std::ios::trunc);
  SHIFTAD_CHECK(metrics.good(), "cannot write '{}/{}'", dir, api::kMetricsFile);
  TrainSummary summary;
  summary.resumed_at_epoch = resume_epoch;

  int64_t n_source = 0, n_pool = 0, n_skipped = 0;
  if (frozen_scorer) {
    const auto src = api::frozenFeatures(cfg, source_paths);
    n_source = static_cast<int64_t>(src.paths.size());
    n_skipped = static_cast<int64_t>(src.skipped.size());
    api::checkSkipped(cfg.data.max_skipped, src.skipped, source_paths.size(), "source");
    SHIFTAD_CHECK(n_source >= 1, "no readable source image of '{}'", cfg.data.normal_class);
    torch::Tensor dominant_features;
    if (cfg.score.method == ScoreMethod::kFrozenDominant) {
      const auto phi = api::frozenFeatures(cfg, pool_paths);
      n_pool = static_cast<int64_t>(phi.paths.size());
      n_skipped += static_cast<int64_t>(phi.skipped.size());
      api::checkSkipped(cfg.data.max_skipped, phi.skipped, pool_paths.size(), "pool");
      const auto dominant = method::dominantRows(phi.features, cfg.cluster, static_cast<uint64_t>(cfg.train.seed));
      dominant_features = phi.features.index_select(0, dominant);
      writeDominant(dir, phi.paths, dominant);
      const auto labels = labelsOf(phi.paths, split.pool_truth);
      const nlohmann::json j = {{"epoch", 0},
                                {"dominant_size", dominant.size(0)},
                                {"dominant_share", static_cast<double>(dominant.size(0)) / static_cast<double>(n_pool)},
                                {"dominant_purity_diagnostic", purity(dominant, labels)}};
      metrics << j.dump() << "\n" << std::flush;
    }
    spdlog::info("train [{}]: frozen-encoder scorer from {} source and {} pool images", cfg.run.variant, n_source,
                 n_pool);
    api::saveFrozenRun(dir, cfg,
                       models::makeFrozenScorer(cfg.score.method, src.features, dominant_features, cfg.score.knn_k));
  } else {
    n_source = static_cast<int64_t>(source.paths.size());
    n_pool = static_cast<int64_t>(pool.paths.size());
    n_skipped = static_cast<int64_t>(source.skipped.size() + pool.skipped.size());
    api::checkSkipped(cfg.data.max_skipped, source.skipped, source_paths.size(), "source");
    if (need_pool) api::checkSkipped(cfg.data.max_skipped, pool.skipped, pool_paths.size(), "pool");
    spdlog::info("train [{}]: {} {} images of '{}', {} target {} images ({}){}{}", cfg.run.variant, n_source,
                 oracle ? "target-normal" : "source", cfg.data.normal_class, n_pool,
                 few_shot ? "few-shot normal" : "pool", cfg.data.target, need_pool ? "" : " [pool unused]",
                 head_only ? " [head only, on cached trunk features]" : "");
    const auto pool_labels = need_pool ? labelsOf(pool.paths, split.pool_truth) : std::vector<int>{};
    auto net = models::makeFeatureExtractor(cfg.model);
    // The bench trains several variants on the same data: the PCA head's decomposition is
    // memoised across them (process-wide for now; to become the caller's explicit cache).
    static method::PrincipalBasisCache pca_cache;
    training::Trainer trainer(cfg, net, &pca_cache);
    training::TrainingData td;
    td.source = source.rows;
    if (need_pool) td.pool = pool.rows;
    if (align && cfg.cluster.space == ClusterSpace::kFrozen) td.pool_frozen = frozenRows(cfg, pool);
    if (few_shot) {
      // Pseudo-anomalies: strong augmentations of the labeled normals, as negatives.
      auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.train.seed) + 7);
      const auto images =
          api::loadImagesOnce(cfg, pool.paths, api::resizeSide(cfg.data), cfg.data.interpolation).images;
      const auto negatives = data::makePseudoAnomalies(images.repeat({cfg.fewshot.pseudo_per_image, 1, 1, 1}), gen);
      td.negatives = head_only ? api::trunkFeaturesOf(cfg, negatives) : negatives;
    }
    torch::Tensor last_dominant;
    training::FitControl control;
    control.checkpoint = checkpoint;
    control.checkpoint_every = cfg.train.checkpoint_every;
    control.resume = resume_epoch > 0;
    control.stop = &api::stopRequested();
    const auto result = trainer.fit(
        td,
        [&](const training::EpochStats& st, const torch::Tensor& dominant) {
          last_dominant = dominant;
          nlohmann::json j = {{"epoch", st.epoch},
                              {"loss", st.loss},
                              {"svdd_loss", st.svdd_loss},
                              {"align_loss", st.align_loss},
                              {"dominant_size", st.dominant_size},
                              {"dominant_share", st.dominant_share},
                              {"seconds", st.seconds}};
          if (align) j["dominant_purity_diagnostic"] = purity(dominant, pool_labels);
          metrics << j.dump() << "\n" << std::flush;
          // Source-only runs align nothing: no align loss, no dominant set to report.
          spdlog::info("epoch {}/{}: loss {:.4f}{}, {:.1f}s", st.epoch, cfg.train.epochs, st.loss,
                       align ? fmt::format(" (svdd {:.4f}, align {:.4f}), dominant {} of {} pool images", st.svdd_loss,
                                           st.align_loss, st.dominant_size, n_pool)
                             : "",
                       st.seconds);
          summary.final_loss = st.loss;
        },
        control);
    summary.interrupted = result == training::FitResult::Stopped;
    if (summary.interrupted)
      spdlog::warn("interrupted: checkpoint '{}' written; continue with `shiftad train --resume {}`", checkpoint,
                   run_dir);
    if (cfg.train.epochs == 0) trainer.initCenter(td.source);
    const bool has_dominant = last_dominant.defined() && last_dominant.numel() > 0;
    if (has_dominant) writeDominant(dir, pool.paths, last_dominant);
    if (!summary.interrupted && cfg.score.center == ScoreCenter::kDominant) {
      // The scoring center moves to where F put the target's normal mode.
      if (align && has_dominant)
        trainer.setCenter(trainer.embed(td.pool.index_select(0, last_dominant)).mean(0));
      else
        spdlog::info("score.center = dominant: this run aligns no dominant set; it scores from c");
    }
    if (!summary.interrupted) api::saveRun(dir, cfg, trainer);
  }

  summary.epochs = frozen_scorer ? 0 : cfg.train.epochs;
  summary.source_images = n_source;
  summary.pool_images = n_pool;
  summary.skipped_images = n_skipped;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const nlohmann::json js = {{"variant", cfg.run.variant},
                             {"epochs", summary.epochs},
                             {"seconds", summary.seconds},
                             {"source_images", summary.source_images},
                             {"pool_images", summary.pool_images},
                             {"skipped_images", summary.skipped_images},
                             {"final_loss", summary.final_loss},
                             {"interrupted", summary.interrupted},
                             {"resumed_at_epoch", summary.resumed_at_epoch}};
  api::writeTextAtomic((fs::path(dir) / api::kSummaryFile).string(), js.dump(2) + "\n");
  if (dir != run_dir && !summary.interrupted) api::replaceRun(run_dir, dir);
  return summary;
}

TrainSummary resumeTraining(const std::string& run_dir) {
  TrainOptions options;
  options.resume = true;
  // A replacement that was interrupted resumes with its own config.
  const auto replacement = api::replacementDir(run_dir);
  const bool pending = fs::exists(fs::path(replacement) / api::kConfigFile);
  return train(api::loadRunConfig(pending ? replacement : run_dir), run_dir, options);
}

void handleInterrupts() { api::installInterruptHandler(); }

Config loadRunConfig(const std::string& run_dir) { return api::loadRunConfig(run_dir); }

ScoreResult score(const std::string& run_dir, const std::string& images) {
  auto run = api::loadRun(run_dir);
  const auto paths = data::listImages(images);
  // Streams in chunks, forgetting each chunk's images, so memory stays flat on large folders.
  constexpr size_t kChunk = 1024;
  ScoreResult out;
  // Decoding and embedding show their own progress; this line counts chunks.
  Progress progress("scoring", static_cast<int64_t>(paths.size()), silentProgressOptions());
  for (size_t start = 0; start < paths.size(); start += kChunk) {
    const std::vector<std::string> chunk(
        paths.begin() + static_cast<std::ptrdiff_t>(start),
        paths.begin() + static_cast<std::ptrdiff_t>(std::min(start + kChunk, paths.size())));
    torch::Tensor s;
    const auto in = scoreFiles(run, chunk, s);
    s = s.to(torch::kDouble).contiguous();
    for (size_t i = 0; i < in.paths.size(); ++i)
      out.scores.push_back({in.paths[i], s[static_cast<int64_t>(i)].item<double>()});
    out.skipped.insert(out.skipped.end(), in.skipped.begin(), in.skipped.end());
    api::clearInputMemory();
    progress.advance(static_cast<int64_t>(chunk.size()));
    if (paths.size() > kChunk) spdlog::info("scored {}", progress.status());
  }
  api::checkSkipped(run.cfg.data.max_skipped, out.skipped, paths.size(), "scored");
  return out;
}

EvalResult evaluate(const std::string& run_dir, const Config& cfg) {
  auto run = api::loadRun(run_dir);
  const auto split = api::splitFor(cfg.data);
  torch::Tensor s;
  const auto in = scoreFiles(run, split.test.paths, s);
  api::checkSkipped(cfg.data.max_skipped, in.skipped, split.test.paths.size(), "test");
  s = s.to(torch::kDouble).contiguous();
  const std::vector<double> scores(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  const auto labels = labelsOf(in.paths, split.test);
  EvalResult r;
  r.auroc = evaluation::auroc(scores, labels);
  r.aupr = evaluation::aupr(scores, labels);
  for (int l : labels) (l ? r.anomalous : r.normal)++;
  r.skipped = static_cast<int64_t>(in.skipped.size());
  std::string text = "label,score,path\n";
  for (size_t i = 0; i < scores.size(); ++i)
    text += fmt::format("{},{:.9g},{}\n", labels[i], scores[i], csv::field(in.paths[i]));
  r.scores_file = (fs::path(run_dir) / api::kTestScoresFile).string();
  api::writeTextAtomic(r.scores_file, text);
  return r;
}

}  // namespace shiftad
