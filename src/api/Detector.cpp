// shiftad::Detector (include/shiftad/Detector.h): a run directory loaded once, scoring
// files and images in memory through its input cache.
#include "shiftad/Detector.h"

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "api/Calibration.h"
#include "api/Features.h"
#include "api/Fit.h"
#include "api/OutputFile.h"
#include "api/RunDir.h"
#include "api/RunLock.h"
#include "api/ScoreChunk.h"
#include "api/SkipLimit.h"
#include "api/TargetLabels.h"
#include "common/Csv.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/LogOnce.h"
#include "common/PathList.h"
#include "common/Progress.h"
#include "config/Choices.h"
#include "data/ImageFolder.h"
#include "data/Protocol.h"
#include "evaluation/Decision.h"
#include "evaluation/Metrics.h"
#include "export/OnnxExport.h"
#include "models/FrozenEncoder.h"
#include "training/OpenMpThreads.h"

namespace fs = std::filesystem;

namespace shiftad {

namespace api {
namespace {
std::atomic<size_t> g_score_chunk{kScoreChunk};
}  // namespace

size_t scoreChunk() { return g_score_chunk.load(); }

void setScoreChunk(size_t images) { g_score_chunk = images == 0 ? kScoreChunk : images; }
}  // namespace api

namespace {

std::vector<double> toDoubles(const torch::Tensor& t) {
  const auto d = t.to(torch::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

}  // namespace

struct Detector::Impl {
  api::LoadedRun run;
  std::shared_ptr<Cache> cache;
  Callbacks callbacks;
  TrainSummary summary;
  bool trained = true;
  /// Φ of a frozen-encoder baseline whose encoder is not F's trunk: built on first use
  /// (its file is read then, as before any Detector existed), kept for later calls.
  std::unique_ptr<models::FrozenEncoder> encoder;
  /// The threshold and the calibration normals' scores (calibration.json), made on
  /// first need for a run written before they existed.
  std::optional<api::Calibration> calibration;
  std::vector<std::string> dominant;  ///< the run's dominant.txt, to calibrate such a run
  std::vector<std::string> pool;      ///< the run's pool.txt: evaluate refuses a test split holding any
  bool shared_cache = false;          ///< `cache` came from the caller (FitOptions, LoadOptions)
  /// The run folder it was loaded from, as folderIdentity saw it then (zeros: not loaded).
  std::array<int64_t, 4> folder{};

  api::InputCache& inputs() const { return cache->inputs(); }

  /// The calibration, made on first need. A failed attempt is kept and thrown again, not
  /// repeated at every later call: it reads the whole data set, and a program asking
  /// threshold() in a loop got its warning every time. calibrate() tries again.
  const api::Calibration& calibrated() {
    if (calibration) return *calibration;
    if (calibration_error) throw Error(*calibration_error);
    // pool.txt came after calibration.json: a run that has one lost the other.
    if (pool.empty())
      log::info("'{}' has no {} (written before decision thresholds): calibrating from the pool of its config", run_dir,
                kCalibrationFile);
    else
      log::warn(
          "'{}' has no {} (deleted or lost; training wrote one): calibrating again on {}, which can move the "
          "threshold from the one it was trained with; to keep that one, restore the file from a copy of the run; "
          "to store this one, `shiftad train --resume {}`",
          run_dir, kCalibrationFile,
          dominant.empty() ? "the whole pool of its config (its dominant.txt is gone too, or it has none)"
                           : "its dominant.txt",
          run_dir);
    try {
      calibrate();
    } catch (const Error& e) {
      calibration_error = e.what();
      throw;
    }
    return *calibration;
  }

  /// The calibration, or null (logged once) when it cannot be made: scores still work.
  const api::Calibration* calibratedIfPossible() {
    try {
      return &calibrated();
    } catch (const Error& e) {
      logOnce(spdlog::level::warn, "no decision threshold: " + std::string(e.what()));
      return nullptr;
    }
  }
  std::optional<std::string> calibration_error;  ///< why the first attempt failed

  void calibrate() {
    calibration = calibrationOf();
    calibration->run_id = run.run_id;
    calibration_error.reset();
  }

  api::Calibration calibrationOf() {
    return api::calibrate(run.cfg, dominant, [this](const std::vector<std::string>& paths) {
      torch::Tensor s;
      const auto in = scoreFiles(paths, s);
      return api::ScoredFiles{in.paths, toDoubles(s), in.skipped};
    });
  }

  std::string run_dir;

  models::FrozenEncoder* frozenEncoder() {
    if (!encoder && run.cfg.encoder.type != EncoderType::kBackbone)
      encoder = models::makeFrozenEncoder(run.cfg.encoder);
    return encoder.get();
  }

  /// Scores of image files: F's distance to c (on cached trunk features when the trunk
  /// is frozen) or a frozen-encoder baseline.
  api::Inputs scoreFiles(const std::vector<std::string>& paths, torch::Tensor& scores) {
    if (run.frozen) {
      auto f = api::frozenFeatures(inputs(), run.cfg, paths, run.encoder_trunk.get(), frozenEncoder());
      scores = f.features.defined() ? run.frozen->score(f.features) : torch::empty({0});
      checkFinite(scores, [&](int64_t i) { return "'" + f.paths[static_cast<size_t>(i)] + "'"; });
      return {f.features, f.paths, f.skipped};
    }
    auto& net = run.trainer->net();
    auto in = api::trainerInputs(inputs(), run.cfg, net.trunkFrozen(), paths, &net);
    scores = in.paths.empty() ? torch::empty({0}) : run.trainer->score(in.rows);
    checkFinite(scores, [&](int64_t i) { return "'" + in.paths[static_cast<size_t>(i)] + "'"; });
    return in;
  }

  /// Scores of image files in chunks of api::scoreChunk(), each chunk's images and
  /// features forgotten once scored, so that memory stays flat on large folders and test
  /// splits; a Cache shared through LoadOptions keeps them for the detectors sharing it.
  /// Reports stage "score" after each chunk (a cancel request ends it there).
  ScoreResult scoreInChunks(const std::vector<std::string>& paths) {
    const size_t n = api::scoreChunk();
    ScoreResult out;
    // Decoding and embedding show their own progress within a chunk; this count advances
    // between chunks, as plain lines at most every 10 s (chunks of 256 come every 2 s).
    Progress progress("scoring", static_cast<int64_t>(paths.size()), plainProgressOptions());
    for (size_t start = 0; start < paths.size(); start += n) {
      const std::vector<std::string> chunk(
          paths.begin() + static_cast<std::ptrdiff_t>(start),
          paths.begin() + static_cast<std::ptrdiff_t>(std::min(start + n, paths.size())));
      torch::Tensor s;
      const auto in = scoreFiles(chunk, s);
      const auto values = toDoubles(s);
      for (size_t i = 0; i < in.paths.size(); ++i) out.scores.push_back({in.paths[i], values[i]});
      out.skipped.insert(out.skipped.end(), in.skipped.begin(), in.skipped.end());
      if (!shared_cache) inputs().forget(chunk);  // a shared one is its owner's to clear()
      progress.advance(static_cast<int64_t>(chunk.size()));
      report("score", static_cast<int64_t>(start + chunk.size()), static_cast<int64_t>(paths.size()));
    }
    return out;
  }

  /// Loading refuses NaN and Inf in the files, but finite weights can still be invalid
  /// (a negative BatchNorm variance) or so large that a score overflows: a score that is
  /// not a number is an error naming the run, never a row of "nan" or a decision.
  void checkFinite(const torch::Tensor& scores, const std::function<std::string(int64_t)>& name) const {
    if (scores.numel() == 0) return;
    const auto bad = torch::nonzero(~torch::isfinite(scores.reshape({-1})));
    if (bad.size(0) == 0) return;
    const int64_t i = bad[0][0].item<int64_t>();
    SHIFTAD_THROW(
        "run '{}' gives {} a score of {} ({} of {} scores are not finite): its weights are damaged or out of range "
        "(e.g. a negative BatchNorm variance, or values near the float limit); restore the run or train it again",
        run_dir, name(i), scores.reshape({-1})[i].item<double>(), bad.size(0), scores.numel());
  }

  /// Reports progress; a cancel request ends the call with an Error.
  void report(const char* stage, int64_t done, int64_t total) const {
    if (callbacks.progress) callbacks.progress(stage, done, total);
    SHIFTAD_CHECK(!callbacks.cancel || !callbacks.cancel(), "{} cancelled after {} of {} images", stage, done, total);
  }
};

namespace {

/// threshold.* may be edited in config.yaml after training (docs/deploy.md): the
/// threshold is then set by the edited rule from the scores calibration.json stores,
/// which is what calibrating again from the run's data would give, without the data.
void applyEditedRule(const std::string& run_dir, const ThresholdConfig& asked, api::Calibration& c) {
  if (asked.rule == c.rule.rule && asked.quantile == c.rule.quantile) return;
  const ThresholdConfig trained_rule = c.rule;
  const double trained_threshold = c.threshold;
  api::setThreshold(c, asked);
  log::info(
      "'{}/{}' asks threshold.rule {} (quantile {}): threshold {:.6g} ({}), set from the scores in '{}' (training's "
      "rule, {} (quantile {}), set {:.6g})",
      run_dir, kConfigFile, toString(asked.rule), asked.quantile, c.threshold, api::ruleText(c), kCalibrationFile,
      toString(trained_rule.rule), trained_rule.quantile, trained_threshold);
}

/// calibration.json made for another run (a partial copy) would set its threshold.
void checkCalibrationIsTheRuns(const std::string& path, const api::Calibration& c, const std::string& run_id) {
  SHIFTAD_CHECK(c.run_id.empty() || run_id.empty() || c.run_id == run_id,
                "'{}' was made for another run (run {}, this one is run {}): its threshold is not this run's; delete "
                "it to have the run calibrated again from its data on first need",
                path, c.run_id, run_id);
}

/// `paths` named below `from` (data.root at training), named below `to` (config.yaml's
/// now): the same images after the data moved and data.root was edited to follow it.
std::vector<std::string> rebased(std::vector<std::string> paths, const std::string& from, const std::string& to) {
  const auto old_root = fs::path(from).lexically_normal(), new_root = fs::path(to).lexically_normal();
  if (from.empty() || old_root == new_root) return paths;
  for (auto& p : paths) {
    const auto below = fs::path(p).lexically_relative(old_root);
    if (!below.empty() && *below.begin() != "..") p = (new_root / below).string();
  }
  return paths;
}

std::unique_ptr<Detector::Impl> loadImpl(const std::string& run_dir, std::shared_ptr<Cache> cache,
                                         const Callbacks& callbacks) {
  auto impl = std::make_unique<Detector::Impl>();
  impl->run = api::loadRun(run_dir);
  impl->run_dir = run_dir;
  const auto calibration = fs::path(run_dir) / kCalibrationFile;
  const auto dominant = fs::path(run_dir) / kDominantFile;
  if (fs::exists(calibration)) {
    impl->calibration = api::readCalibration(calibration.string());
    checkCalibrationIsTheRuns(calibration.string(), *impl->calibration, impl->run.run_id);
    applyEditedRule(run_dir, impl->run.cfg.threshold, *impl->calibration);
  } else if (fs::exists(dominant))
    impl->dominant = rebased(readPathList(dominant.string()), impl->run.trained_root, impl->run.cfg.data.root);
  if (const auto pool = fs::path(run_dir) / kPoolFile; fs::exists(pool))
    impl->pool = rebased(readPathList(pool.string()), impl->run.trained_root, impl->run.cfg.data.root);
  impl->shared_cache = cache != nullptr;
  impl->cache = cache ? std::move(cache) : std::make_shared<Cache>();
  impl->callbacks = callbacks;
  return impl;
}

/// The detector's state: an Error, not a crash, for a Detector moved from.
Detector::Impl& live(const std::unique_ptr<Detector::Impl>& impl) {
  SHIFTAD_CHECK(impl != nullptr,
                "this Detector was moved from: its state went with the move; use the Detector it "
                "was moved to");
  return *impl;
}

/// The images of `views` at one side and filter, as decoded files are (N x 3 x side x side).
torch::Tensor imagesAt(const std::vector<ImageView>& views, int side, Interpolation filter) {
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& v = views[i];
    try {
      rows.push_back(data::resizeRgb(v.rgb, v.width, v.height, v.stride, side, filter));
    } catch (const Error& e) {
      // Which of a batch: "an image of 0x8 pixels" alone left the caller to search.
      SHIFTAD_THROW("image {} of the {} given (counting from 0): {}", i, views.size(), e.what());
    }
  }
  return torch::stack(rows);
}

}  // namespace

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

Detector Detector::fit(const Config& cfg, const std::string& run_dir, const FitOptions& options) {
  SHIFTAD_CHECK(!run_dir.empty(), "cannot fit a detector into an empty path; give a new or empty folder (or a run)");
  return api::withFilesystemErrors("cannot write the run '" + run_dir + "'", run_dir,
                                   [&] { return fitInto(cfg, run_dir, options); });
}

Detector Detector::fitInto(const Config& cfg, const std::string& run_dir, const FitOptions& options) {
  const training::ScopedOpenMpThreads threads(cfg.train.threads);
  const std::string final_dir = fs::absolute(run_dir).lexically_normal().string();
  auto cache = options.cache ? options.cache : std::make_shared<Cache>();
  const auto load = [&](const std::string& dir) { return loadImpl(dir, cache, options.callbacks); };
  // The threshold is set from the trained model's scores of the source and the pool and
  // committed with the run: a replaced run is the old one or the new one, calibrated.
  const auto calibrate = [&](const std::string& staged) {
    auto impl = load(staged);
    impl->calibrate();
    api::writeCalibration((fs::path(staged) / kCalibrationFile).string(), *impl->calibration);
  };
  auto outcome = api::fitRun(cache->inputs(), cfg, run_dir, options, calibrate);
  api::trimDiskCaches(outcome.cfg);
  if (outcome.summary.interrupted || !outcome.wrote_run) {
    auto impl = std::make_unique<Impl>();
    impl->run.cfg = outcome.cfg;
    impl->cache = cache;
    impl->callbacks = options.callbacks;
    impl->summary = outcome.summary;
    impl->trained = false;
    return Detector(std::move(impl));
  }
  // From its final folder (nothing of it names the staging one), by the absolute path
  // taken before training: replaced from inside itself (`--out .`), "." is the old run,
  // gone, and the working directory with it.
  auto impl = load(final_dir);
  impl->shared_cache = options.cache != nullptr;
  impl->summary = outcome.summary;
  return Detector(std::move(impl));
}

namespace {

/// Which folder `dir` names now, and since when (device, inode and change time; zeros
/// when there is none): `train --overwrite` exchanges a run's folder for its replacement
/// in one step, which a load reading one file after another can straddle. The change
/// time, which a rename of the folder sets, tells a folder exchanged away and back
/// during one load (two exchanges) from one that stayed.
std::array<int64_t, 4> folderIdentity(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return {0, 0, 0, 0};
  return {static_cast<int64_t>(st.st_dev), static_cast<int64_t>(st.st_ino), static_cast<int64_t>(st.st_ctim.tv_sec),
          static_cast<int64_t>(st.st_ctim.tv_nsec)};
}

/// loadImpl of one run: again when the folder was exchanged while it read (its files
/// would be two runs', refused as a damaged run), never when it stayed the same folder.
std::unique_ptr<Detector::Impl> loadWhole(const std::string& run_dir, const LoadOptions& options) {
  for (int attempt = 1;; ++attempt) {
    const auto before = folderIdentity(run_dir);
    try {
      auto impl = loadImpl(run_dir, options.cache, options.callbacks);
      impl->folder = before;
      if (folderIdentity(run_dir) == before || attempt == 5) return impl;
    } catch (const Error&) {
      if (folderIdentity(run_dir) == before || attempt == 5) throw;
    }
  }
}

}  // namespace

namespace {

/// Detector::load's work, its file-system errors still to be turned into Errors.
std::unique_ptr<Detector::Impl> loadedImpl(const std::string& run_dir, const LoadOptions& options) {
  // A run whose training has not written its calibration yet (the lock is live) is not
  // a run that lost it: recalibrating would set a threshold the training may not.
  if (!fs::exists(fs::path(run_dir) / kCalibrationFile))
    if (const auto trainer = api::trainingProcess(run_dir); !trainer.empty())
      SHIFTAD_THROW(
          "run directory '{}' is not complete yet: {} is training it (its lock '{}/{}'); load it when that "
          "training has ended",
          run_dir, trainer, run_dir, api::kLockFile);
  auto impl = loadWhole(run_dir, options);
  if (!options.cache) impl->inputs().setDiskCaches(options.disk_caches);
  if (options.max_skipped) {
    SHIFTAD_CHECK(*options.max_skipped >= 0.0 && !std::isnan(*options.max_skipped),
                  "LoadOptions::max_skipped = {} must be a share in [0, 1), a count >= 1 or infinity",
                  *options.max_skipped);
    impl->run.cfg.data.max_skipped = *options.max_skipped;
  }
  return impl;
}

}  // namespace

Detector Detector::load(const std::string& run_dir, const LoadOptions& options) {
  return Detector(api::withFilesystemErrors("cannot load the run '" + run_dir + "'", run_dir,
                                            [&] { return loadedImpl(run_dir, options); }));
}

const Config& Detector::config() const { return live(impl_).run.cfg; }

const TrainSummary& Detector::trainSummary() const { return live(impl_).summary; }

bool Detector::trained() const { return live(impl_).trained; }

namespace {

/// The normalised score and decision of each score (NaN and false without a calibration).
void decideAll(const api::Calibration* calibration, std::vector<ImageScore>& scores) {
  for (auto& s : scores) {
    s.normalised_score = calibration ? calibration->normalised(s.score) : std::numeric_limits<double>::quiet_NaN();
    s.anomalous = calibration && calibration->anomalous(s.score);
  }
}

void checkTrained(const std::unique_ptr<Detector::Impl>& impl) {
  SHIFTAD_CHECK(live(impl).trained,
                "this detector's training was stopped before its model existed; fit it again with resume to "
                "finish it (`shiftad train --resume RUN_DIR`)");
}

}  // namespace

ScoreResult Detector::score(const std::vector<std::string>& paths) {
  checkTrained(impl_);
  auto out = impl_->scoreInChunks(paths);
  // Infinity (LoadOptions): each file's outcome is the caller's to read, never an error.
  if (!std::isinf(impl_->run.cfg.data.max_skipped))
    api::checkSkipped(impl_->run.cfg.data.max_skipped, out.skipped, paths.size(), "scored",
                      api::SkippedFrom::kScoredFiles);
  decideAll(impl_->calibratedIfPossible(), out.scores);
  return out;
}

ScoreResult Detector::score(const std::string& images) {
  checkTrained(impl_);
  return score(data::listImages(images));
}

std::vector<double> Detector::score(const std::vector<ImageView>& images) {
  checkTrained(impl_);
  if (images.empty()) return {};
  const auto& cfg = impl_->run.cfg;
  const auto at = [&](int side, Interpolation interpolation) { return imagesAt(images, side, interpolation); };
  torch::Tensor s;
  if (impl_->run.frozen) {
    s = impl_->run.frozen->score(
        api::frozenFeaturesOf(cfg, at, impl_->run.encoder_trunk.get(), impl_->frozenEncoder()));
  } else {
    auto& net = impl_->run.trainer->net();
    const auto x = at(api::resizeSide(cfg.data), cfg.data.interpolation);
    s = impl_->run.trainer->score(net.trunkFrozen() ? api::trunkFeaturesOf(cfg, net, x) : x);
  }
  impl_->checkFinite(s, [](int64_t i) { return fmt::format("image {} in memory", i); });
  impl_->report("score", static_cast<int64_t>(images.size()), static_cast<int64_t>(images.size()));
  return toDoubles(s);
}

std::vector<ImageScore> Detector::decide(const std::vector<ImageView>& images) {
  const auto scores = score(images);
  std::vector<ImageScore> out;
  for (double s : scores) out.push_back({"", s});
  decideAll(impl_->calibratedIfPossible(), out);  // as score(paths): NaN and no decision without one
  return out;
}

double Detector::threshold() const {
  checkTrained(impl_);
  return impl_->calibrated().threshold;
}

ThresholdInfo Detector::thresholdInfo() const {
  checkTrained(impl_);
  const auto& c = impl_->calibrated();
  return {c.threshold, c.rule.rule, c.rule.quantile,
          c.fell_back, c.normals,   static_cast<int64_t>(c.normal_scores.size())};
}

void Detector::calibrate() {
  checkTrained(impl_);
  impl_->calibrate();
}

void Detector::setThreshold(const ThresholdConfig& rule) {
  checkTrained(impl_);
  auto cfg = impl_->run.cfg;
  cfg.threshold = rule;
  validateConfig(cfg);  // the key's range, as in a config file
  impl_->calibrated();
  api::setThreshold(*impl_->calibration, rule);
  impl_->run.cfg.threshold = rule;
}

namespace {

/// An AUROC from a handful of images of a class moves by a large step per image: say so
/// beside it rather than let it read as a measurement.
void warnIfTestSplitTiny(const EvalResult& r) {
  constexpr int64_t kFew = 5;
  if (std::min(r.normal, r.anomalous) >= kFew) return;
  log::warn(
      "the test split holds {} normal and {} anomalous images: one image moves the AUROC by up to {:.2f}{}; give a "
      "larger target domain or a smaller data.pool_fraction for a figure to rely on",
      r.normal, r.anomalous, 1.0 / static_cast<double>(std::min(r.normal, r.anomalous)),
      std::isnan(r.auroc_se) ? " and no standard error can be estimated" : "");
}

/// Whether `test_image`, named below its data root as `trained` was below the run's,
/// is another image: `trained` is still there and holds other bytes (a second site's
/// data laid out with the same names, IMG_0001.JPG). Where `trained` is gone (the data
/// moved) the names are all there is, and they are taken as the same image.
bool otherImageOfTheSameName(const fs::path& trained, const std::string& test_image) {
  std::error_code ec;
  if (!fs::is_regular_file(trained, ec) || fs::equivalent(trained, test_image, ec)) return false;
  const auto size = fs::file_size(trained, ec);
  if (ec) return false;
  if (size != fs::file_size(test_image, ec) || ec) return true;
  std::ifstream a(trained, std::ios::binary), b(test_image, std::ios::binary);
  std::vector<char> x(size_t{1} << 16), y(x.size());  // a host's thread may have a small stack
  while (a && b) {
    a.read(x.data(), static_cast<std::streamsize>(x.size()));
    b.read(y.data(), static_cast<std::streamsize>(y.size()));
    if (a.gcount() != b.gcount() || std::memcmp(x.data(), y.data(), static_cast<size_t>(a.gcount())) != 0) return true;
  }
  return false;
}

/// An unlabeled pool (data.pool_images) has no test split unless data.test_images gives
/// one: say how to evaluate instead.
void checkHasATestSplit(const std::string& run_dir, const Config& cfg) {
  SHIFTAD_CHECK(cfg.data.pool_images.empty() || !cfg.data.test_images.empty(),
                "run '{}': data.pool_images '{}' is an unlabeled pool, with no test split to evaluate on; evaluate "
                "on labelled target images: a folder of class folders (the normal class and anomaly classes), "
                "`shiftad eval --model RUN --set data.test_images=FOLDER`",
                run_dir, cfg.data.pool_images);
}

/// The test split must hold no image the run trained or calibrated on. After the target
/// folder changed, or under other split settings (data.split_seed, data.pool_fraction,
/// another normal class), the split recomputed from the data is not the run's, and part
/// of the run's pool lands in it. pool.txt is that pool (runs of earlier versions have
/// none: only the source check applies).
void checkTestIsUnseen(const std::string& run_dir, const Config& trained, const std::vector<std::string>& pool,
                       const Config& cfg, const std::vector<std::string>& test) {
  std::error_code ec;
  const auto source_dir = fs::path(trained.data.root) / trained.data.source;
  const auto test_dir =
      cfg.data.test_images.empty() ? fs::path(cfg.data.root) / cfg.data.target : fs::path(cfg.data.test_images);
  // The run's source domain, also after the data moved (its old root gone).
  const bool moved = !fs::exists(trained.data.root, ec);
  SHIFTAD_CHECK(
      !fs::equivalent(source_dir, test_dir, ec) &&
          !(moved && cfg.data.test_images.empty() && data::sameDomainName(trained.data.source, cfg.data.target)),
      "the test split is drawn from '{}', the domain run '{}' was trained on as its source: its normal images "
      "are training images; evaluate on another target domain",
      test_dir.string(), run_dir);
  // Compared below their data roots: the same images after the data moved are the same.
  std::set<std::string> trained_on;
  for (const auto& p : pool) trained_on.insert(fs::path(p).lexically_relative(trained.data.root).string());
  // And as they are: an unlabeled pool (data.pool_images) may lie outside the data root.
  const std::set<std::string> pool_files(pool.begin(), pool.end());
  std::vector<std::string> seen;
  for (const auto& p : test) {
    const auto below = fs::path(p).lexically_relative(cfg.data.root);
    if (pool_files.count(p) ||
        (trained_on.count(below.string()) && !otherImageOfTheSameName(fs::path(trained.data.root) / below, p)))
      seen.push_back(p);
  }
  SHIFTAD_CHECK(seen.empty(),
                "{} of the {} test images were in the pool run '{}' trained on (e.g. '{}'; its {} lists them): the "
                "target folder or the split settings changed since training, and this split would test on training "
                "images. Restore the data and settings, or train a new run",
                seen.size(), test.size(), run_dir, seen.empty() ? "" : seen.front(), kPoolFile);
}

}  // namespace

namespace {

/// Whether `file`, in the folder `impl` was loaded from, now lies in another folder of
/// that name: `train --overwrite` replaced the run while this one scored, and the new
/// run's test_scores.csv is its own eval's to write, not another model's. (Device and
/// inode: a replacement is another folder; a write in this one changes its ctime.)
bool runFolderReplacedFor(const Detector::Impl& impl, const std::string& file) {
  std::error_code ec;
  if (!fs::equivalent(fs::path(file).parent_path(), impl.run_dir, ec) || impl.folder[1] == 0) return false;
  const auto now = folderIdentity(impl.run_dir);
  return now[0] != impl.folder[0] || now[1] != impl.folder[1];
}

}  // namespace

EvalResult Detector::evaluate(const Config& cfg, const std::string& scores_file) {
  checkTrained(impl_);
  const training::ScopedOpenMpThreads threads(cfg.train.threads);
  // In a run folder only as the run's own test_scores.csv (eval, bench): never over a model.
  const auto scores_target =
      scores_file.empty() ? "" : api::checkOutputFile(scores_file, "a CSV file", "scores file", kTestScoresFile);
  // The center was fit to the trained class: another class named normal would turn the
  // AUROC into a measure of nothing (0.07 for a circle detector asked about rings).
  SHIFTAD_CHECK(cfg.data.normal_class == impl_->run.cfg.data.normal_class,
                "run '{}' was trained with '{}' as the normal class; a test split with '{}' as normal would score "
                "a detector of another class. Evaluate with data.normal_class '{}', or train a run for '{}'",
                impl_->run_dir, impl_->run.cfg.data.normal_class, cfg.data.normal_class,
                impl_->run.cfg.data.normal_class, cfg.data.normal_class);
  checkHasATestSplit(impl_->run_dir, cfg);
  const auto test = data::testSplitFor(cfg.data);
  checkTestIsUnseen(impl_->run_dir, impl_->run.cfg, impl_->pool, cfg, test.paths);
  // In score()'s chunks: a test split of any size is never held in memory whole.
  const auto scored = impl_->scoreInChunks(test.paths);
  if (impl_->cache->inputs().diskCaches()) api::trimDiskCaches(impl_->run.cfg);  // the caches it scored through
  api::checkSkipped(cfg.data.max_skipped, scored.skipped, test.paths.size(), "test");
  std::vector<std::string> paths;
  std::vector<double> scores;
  for (const auto& s : scored.scores) paths.push_back(s.path), scores.push_back(s.score);
  const auto labels = api::labelsOf(paths, test);
  api::warnIfScoresAlike(scores, "test");
  EvalResult r;
  r.auroc = evaluation::auroc(scores, labels);
  r.auroc_se = evaluation::aurocStandardError(scores, labels);
  r.aupr = evaluation::aupr(scores, labels);
  r.threshold = impl_->calibrated().threshold;
  const auto at = evaluation::atThreshold(scores, labels, r.threshold);
  r.precision = at.precision, r.recall = at.recall, r.f1 = at.f1, r.fpr = at.fpr;
  r.f1_max = evaluation::f1Max(scores, labels);
  for (int l : labels) (l ? r.anomalous : r.normal)++;
  warnIfTestSplitTiny(r);
  r.skipped = static_cast<int64_t>(scored.skipped.size());
  if (scores_file.empty()) return r;
  std::string text = std::string(api::kTestScoresCsvHeader) + "\n";
  // The path through csv::field: one with a comma or a line break stays one field.
  for (size_t i = 0; i < scores.size(); ++i)
    text += fmt::format("{},{:.9g},{}\n", labels[i], scores[i], csv::field(paths[i]));
  if (runFolderReplacedFor(*impl_, scores_target)) {
    log::warn(
        "the test scores were not saved: '{}' was replaced by another run while this evaluated (train "
        "--overwrite), and they are this detector's; the metrics below are complete",
        impl_->run_dir);
    return r;
  }
  // The metrics are the result; a run folder that cannot be written (read-only, full)
  // loses only the per-image file.
  try {
    api::writeTextAtomic(scores_target, text);
    r.scores_file = scores_file;
  } catch (const Error& e) {
    log::warn("the test scores were not saved ({}); the metrics below are complete", e.what());
  }
  return r;
}

Embedding Detector::embed(const std::vector<std::string>& paths) {
  checkTrained(impl_);
  auto& run = impl_->run;
  SHIFTAD_CHECK(run.trainer,
                "this detector is a frozen-encoder baseline (score.method {}); it has no trained F to embed",
                run.cfg.score.method);
  auto& net = run.trainer->net();
  const auto in = api::trainerInputs(impl_->inputs(), run.cfg, net.trunkFrozen(), paths, &net);
  const auto f = run.trainer->embed(in.rows).to(torch::kFloat).contiguous();
  Embedding e;
  e.paths = in.paths;
  e.skipped = in.skipped;
  e.dim = f.size(1);
  e.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return e;
}

void Detector::save(const std::string& dir) const {
  checkTrained(impl_);
  SHIFTAD_CHECK(!dir.empty(), "cannot save a detector to an empty path; give a new or empty folder");
  api::withFilesystemErrors("cannot save to '" + dir + "'", dir, [&] { saveTo(dir); });
}

namespace {

/// Refuses, before any work, a path save() could not rename its run to: one the file
/// system refuses (a name too long, a loop of links) or in a folder that does not exist.
void checkSavePath(const std::string& dir) {
  std::error_code ec;
  const auto st = fs::symlink_status(dir, ec);
  SHIFTAD_CHECK(!ec || st.type() == fs::file_type::not_found, "cannot save a detector to '{}': {}", dir,
                api::pathProblem(dir, ec));
  const auto parent = fs::absolute(dir).lexically_normal().parent_path();
  SHIFTAD_CHECK(fs::is_directory(parent, ec),
                "cannot save a detector to '{}': its folder '{}' does not exist; create it first, or give a new or "
                "empty folder in one that exists",
                dir, parent.string());
}

/// Removes the folder a save was building unless the save went through (then it was renamed).
class RemoveUnlessSaved {
 public:
  explicit RemoveUnlessSaved(std::string dir) : dir_(std::move(dir)) {}
  ~RemoveUnlessSaved() {
    std::error_code ec;
    if (!saved_) fs::remove_all(dir_, ec);
  }
  RemoveUnlessSaved(const RemoveUnlessSaved&) = delete;
  RemoveUnlessSaved& operator=(const RemoveUnlessSaved&) = delete;
  void saved() { saved_ = true; }

 private:
  std::string dir_;
  bool saved_ = false;
};

}  // namespace

void Detector::saveTo(const std::string& dir) const {
  checkSavePath(dir);
  api::checkNotInsideARun(dir);  // as `train --out`: a run holds only its own files
  const auto st = api::inspectRunDir(dir);
  SHIFTAD_CHECK(st.entries == 0, "cannot save a detector to '{}': it is not empty; choose a new or empty folder", dir);
  // Built beside `dir` and renamed into place: `dir` never holds half a run, and a save
  // that fails leaves no hidden copy of the model behind.
  const auto building = api::replacementDir(dir);
  api::removeOwnFolder(building);
  RemoveUnlessSaved cleanup(building);
  const auto& run = impl_->run;
  if (run.frozen)
    api::saveFrozenRun(building, run.cfg, *run.frozen, run.encoder_trunk);
  else
    api::saveRun(building, run.cfg, *run.trainer, run.center_used);
  if (const auto* calibration = impl_->calibratedIfPossible())
    api::writeCalibration((fs::path(building) / kCalibrationFile).string(), *calibration);
  else if (!impl_->dominant.empty())  // what a later calibration reads, as the run's own does
    writePathList((fs::path(building) / kDominantFile).string(), impl_->dominant);
  if (!impl_->pool.empty()) writePathList((fs::path(building) / kPoolFile).string(), impl_->pool);
  std::error_code ec;
  if (fs::exists(dir, ec)) fs::remove(dir);  // empty (checked above): rename needs the name free
  fs::rename(building, dir);
  cleanup.saved();
}

void Detector::exportOnnx(const std::string& path) const {
  checkTrained(impl_);
  // Before the work, never over a run's files, and through a link.
  const auto target = api::checkOutputFile(path, "an .onnx file", "output file");
  api::checkFolderTakesAFile(target, "output file");
  const auto& run = impl_->run;
  SHIFTAD_CHECK(!run.frozen,
                "cannot export '{}': this detector is a frozen-encoder baseline (variant '{}', score.method {}), whose "
                "score is a distance to stored reference features in a frozen encoder's space, not F's distance to a "
                "center; export a variant that trains F",
                path, run.cfg.run.variant, run.cfg.score.method);
  // As docs/deploy.md says: a run without a calibration whose data cannot be read to make
  // one exports its scores with threshold nan (a warning says why), as `score` scores them.
  const auto* calibration = impl_->calibratedIfPossible();
  exporting::DecisionFacts decision;
  decision.threshold = calibration ? calibration->threshold : std::numeric_limits<double>::quiet_NaN();
  const auto& rule = calibration ? calibration->rule : run.cfg.threshold;
  decision.rule = toString(rule.rule);
  decision.quantile = rule.quantile;
  decision.fell_back = calibration && calibration->fell_back;
  decision.center_used = run.center_used;
  exporting::writeOnnxModel(run.cfg, run.trainer->net(), run.trainer->center(), decision, target);
}

}  // namespace shiftad
