// The public API (include/shiftad/shiftad.h): data set-up, training, scoring and
// evaluation wired together from the data, models, training and evaluation pieces.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "api/RunDir.h"
#include "common/Error.h"
#include "data/ImageFolder.h"
#include "data/ImageTensors.h"
#include "data/Protocol.h"
#include "data/Synth.h"
#include "evaluation/Metrics.h"
#include "io/FeatureCache.h"
#include "models/FrozenEncoder.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

int resizeSide(const DataConfig& d) { return d.resize > 0 ? d.resize : d.image_size; }

/// The images of `paths` resized as data.resize / data.interpolation say.
data::ImageBatch loadResized(const std::vector<std::string>& paths, const DataConfig& d) {
  return data::loadImages(paths, resizeSide(d), 0, data::parseInterpolation(d.interpolation));
}

void checkDataConfig(const DataConfig& d) {
  SHIFTAD_CHECK(!d.root.empty(), "config: data.root is empty; set it to an ImageFolder root (ROOT/DOMAIN/CLASS/image)");
  SHIFTAD_CHECK(!d.source.empty() && !d.target.empty(), "config: data.source and data.target must name domains under '{}'",
                d.root);
  SHIFTAD_CHECK(!d.normal_class.empty(), "config: data.normal_class is empty; name the class that is normal");
}

data::ProtocolSplit splitFor(const DataConfig& d) {
  checkDataConfig(d);
  data::ProtocolParams p;
  p.normal_class = d.normal_class;
  p.pool_fraction = d.pool_fraction;
  p.contamination = d.contamination;
  p.seed = d.split_seed;
  return data::makeSplit(data::listDomain(d.root, d.source), data::listDomain(d.root, d.target), p);
}

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
std::vector<int> labelsOfLoaded(const data::ImageBatch& loaded, const data::LabelledImages& truth) {
  std::unordered_map<std::string, int> by_path;
  for (size_t i = 0; i < truth.paths.size(); ++i) by_path[truth.paths[i]] = truth.is_anomaly[i];
  std::vector<int> out;
  for (const auto& p : loaded.paths) out.push_back(by_path.at(p));
  return out;
}

/// Φ's features of the loaded pool images (cluster.space = frozen), cached on disk.
torch::Tensor frozenPoolFeatures(const Config& cfg, const data::ImageBatch& pool) {
  auto encoder = models::makeFrozenEncoder(cfg.encoder);
  SHIFTAD_CHECK(encoder != nullptr, "cluster.space = frozen needs encoder.type (e.g. torchscript)");
  auto features = io::cachedFeatures(cfg.encoder.cache_dir, encoder->id(), pool.paths, [&] {
    spdlog::info("embedding {} pool images with the frozen encoder ({})", pool.paths.size(), cfg.encoder.path);
    const auto images = data::loadImages(pool.paths, cfg.encoder.image_size);
    SHIFTAD_CHECK(images.paths == pool.paths, "the pool images changed while being read; run again");
    return encoder->encode(images.images);
  });
  if (cfg.encoder.l2_normalize)
    features = torch::nn::functional::normalize(features, torch::nn::functional::NormalizeFuncOptions().dim(1));
  return features;
}

}  // namespace

void setThreads(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
}

void synthesize(const std::string& out_dir, int seed) {
  data::SynthParams p;
  p.seed = seed;
  data::writeSynth(out_dir, p);
}

TrainSummary train(const Config& cfg, const std::string& run_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  validateConfig(cfg);
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  const auto split = splitFor(cfg.data);
  const int side = resizeSide(cfg.data);
  const auto source = loadResized(split.train.source, cfg.data);
  const bool align = cfg.align.method != "none" && cfg.align.lambda > 0.0;
  const auto pool = align ? loadResized(split.train.pool, cfg.data) : data::ImageBatch{torch::empty({0, 3, side, side}, torch::kByte), {}, {}};
  spdlog::info("train: {} source images of '{}' ({}), {} target pool images ({}){}", source.paths.size(),
               cfg.data.normal_class, cfg.data.source, pool.paths.size(), cfg.data.target,
               align ? "" : " [alignment off: pool unused]");

  auto net = models::makeFeatureExtractor(cfg.model);
  training::Trainer trainer(cfg, net);
  fs::create_directories(run_dir);
  std::ofstream metrics(fs::path(run_dir) / api::kMetricsFile, std::ios::trunc);
  SHIFTAD_CHECK(metrics.good(), "cannot write '{}/{}'", run_dir, api::kMetricsFile);
  const auto pool_labels = align ? labelsOfLoaded(pool, split.pool_truth) : std::vector<int>{};

  const auto phi = align && cfg.cluster.space == "frozen" ? frozenPoolFeatures(cfg, pool) : torch::Tensor();
  TrainSummary summary;
  trainer.fit(source.images, pool.images, [&](const training::EpochStats& st, const torch::Tensor& dominant) {
    nlohmann::json j = {{"epoch", st.epoch},           {"loss", st.loss},
                        {"svdd_loss", st.svdd_loss},   {"align_loss", st.align_loss},
                        {"dominant_size", st.dominant_size}, {"dominant_share", st.dominant_share},
                        {"seconds", st.seconds}};
    if (align) j["dominant_purity_diagnostic"] = purity(dominant, pool_labels);
    metrics << j.dump() << "\n" << std::flush;
    spdlog::info("epoch {}/{}: loss {:.4f} (svdd {:.4f}, align {:.4f}), dominant {} of {} pool images, {:.1f}s",
                 st.epoch, cfg.train.epochs, st.loss, st.svdd_loss, st.align_loss, st.dominant_size,
                 pool.paths.size(), st.seconds);
    summary.final_loss = st.loss;
  }, phi);
  if (cfg.train.epochs == 0) trainer.initCenter(source.images);
  api::saveRun(run_dir, cfg, trainer);

  summary.epochs = cfg.train.epochs;
  summary.source_images = static_cast<int64_t>(source.paths.size());
  summary.pool_images = static_cast<int64_t>(pool.paths.size());
  summary.skipped_images = static_cast<int64_t>(source.skipped.size() + pool.skipped.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const nlohmann::json js = {{"epochs", summary.epochs},
                             {"seconds", summary.seconds},
                             {"source_images", summary.source_images},
                             {"pool_images", summary.pool_images},
                             {"skipped_images", summary.skipped_images},
                             {"final_loss", summary.final_loss}};
  api::writeTextAtomic((fs::path(run_dir) / api::kSummaryFile).string(), js.dump(2) + "\n");
  return summary;
}

Config loadRunConfig(const std::string& run_dir) { return api::loadRunConfig(run_dir); }

ScoreResult score(const std::string& run_dir, const std::string& images) {
  auto run = api::loadRun(run_dir);
  const auto paths = data::listImages(images);
  const auto batch = loadResized(paths, run.cfg.data);
  const auto scores = run.trainer->score(batch.images).to(torch::kDouble).contiguous();
  ScoreResult out;
  out.skipped = batch.skipped;
  for (size_t i = 0; i < batch.paths.size(); ++i)
    out.scores.push_back({batch.paths[i], scores[static_cast<int64_t>(i)].item<double>()});
  return out;
}

EvalResult evaluate(const std::string& run_dir, const Config& cfg) {
  auto run = api::loadRun(run_dir);
  const auto split = splitFor(cfg.data);
  const auto batch = loadResized(split.test.paths, run.cfg.data);
  const auto s = run.trainer->score(batch.images).to(torch::kDouble).contiguous();
  const std::vector<double> scores(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  const auto labels = labelsOfLoaded(batch, split.test);
  EvalResult r;
  r.auroc = evaluation::auroc(scores, labels);
  r.aupr = evaluation::aupr(scores, labels);
  for (int l : labels) (l ? r.anomalous : r.normal)++;
  r.skipped = static_cast<int64_t>(batch.skipped.size());
  return r;
}

}  // namespace shiftad
