// Measurements behind docs/performance.md: each subcommand times one thing and prints
// one JSON line (figures, never assertions). bench/run_benchmarks.py runs them as
// separate processes, repeats them and writes the tables.
//
//   shiftad_bench split   --config C [--set k=v] --out DIR    the run's file lists (for the Python reference)
//   shiftad_bench step    --config C [--set k=v] --mode pipeline|compute|profile [--steps N]
//   shiftad_bench score   --run RUN --images DIR --mode api|forward
//   shiftad_bench scorer  --config C [--set k=v] --path fast|plain --batch B [--n N]
//   shiftad_bench kmeans  --impl shiftad|faiss [--n N --d D --k K --iters I]
//   shiftad_bench dominant [--set cluster.space=self --set cluster.k=K ...] --n N --d D
//   shiftad_bench feature-cache --dir DIR [--n N --d D]  the feature cache's writes and reads
//   shiftad_bench jpeg    --images DIR                     JPEG decoding: libjpeg's (data/JpegDecode.h) against
//   OpenCV's
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "api/Features.h"
#include "api/RunDir.h"
#include "common/Seconds.h"
#include "clustering/KMeans.h"
#include "data/ImageFolder.h"
#include "data/ImageTensors.h"
#include "data/FileCheck.h"
#include "data/ImageDecode.h"
#include "io/FeatureCache.h"
#include "losses/Losses.h"
#include "method/DenseRegion.h"
#include "method/DominantSelector.h"
#include "models/FeatureExtractor.h"
#include "models/InferenceBatch.h"
#include "shiftad/shiftad.h"
#include "training/Trainer.h"

#ifdef SHIFTAD_BENCH_FAISS
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using shiftad::secondsSince;

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

/// Peak resident set size of this process so far, MiB.
double peakRssMib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

void emit(json j) {
  j["peak_rss_mib"] = peakRssMib();
  j["threads"] = torch::get_num_threads();
  std::cout << j.dump() << std::endl;
}

shiftad::Config configFrom(const std::string& path, const std::vector<std::string>& overrides) {
  auto cfg = shiftad::loadConfig(path, overrides);
  shiftad::validateConfig(cfg);
  shiftad::setThreads(cfg.train.threads);
  return cfg;
}

// --- split ----------------------------------------------------------------

void writeList(const std::string& path, const std::vector<std::string>& paths, const std::vector<int>& labels = {}) {
  std::ofstream out(path);
  for (size_t i = 0; i < paths.size(); ++i) out << paths[i] << '\t' << (labels.empty() ? 0 : labels[i]) << '\n';
  if (!out) throw std::runtime_error("cannot write " + path);
}

void runSplit(const shiftad::Config& cfg, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto split = shiftad::api::splitFor(cfg.data);
  writeList(dir + "/source.txt", split.train.source);
  writeList(dir + "/pool.txt", split.train.pool);
  writeList(dir + "/test.txt", split.test.paths, split.test.is_anomaly);
  emit({{"bench", "split"},
        {"source", split.train.source.size()},
        {"pool", split.train.pool.size()},
        {"test", split.test.paths.size()}});
}

// --- train step -------------------------------------------------------------

struct StepData {
  torch::Tensor source, pool;  // uint8 images at the resize side
};

StepData loadStepData(const shiftad::Config& cfg) {
  const auto split = shiftad::api::splitFor(cfg.data);
  StepData d;
  shiftad::api::InputCache cache;
  d.source = shiftad::api::trainerInputs(cache, cfg, false, split.train.source).rows;
  d.pool = shiftad::api::trainerInputs(cache, cfg, false, split.train.pool).rows;
  return d;
}

/// Images per second of Trainer::fit (augmentation, batching, forward, backward,
/// Adam), from the epoch times after the first (which includes warm-up).
json stepPipeline(const shiftad::Config& cfg) {
  const auto d = loadStepData(cfg);
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::TrainingData td;
  td.source = d.source;
  td.pool = d.pool;
  const bool align = shiftad::aligns(cfg);
  const double images = static_cast<double>(d.source.size(0)) * (align ? 2 : 1);
  std::vector<double> rates;
  trainer.fit(td, [&](const shiftad::training::EpochStats& st, const torch::Tensor&) {
    if (st.epoch > 1 || cfg.train.epochs == 1) rates.push_back(images / st.seconds);
  });
  return {{"bench", "step"},
          {"mode", "pipeline"},
          {"images_per_s", median(rates)},
          {"epochs", rates.size()},
          {"images_per_epoch", images}};
}

/// One optimizer step of Deep SVDD on a fixed batch: the compute the pipeline feeds.
struct ComputeStep {
  explicit ComputeStep(const shiftad::Config& cfg)
      : net(shiftad::models::makeFeatureExtractor(cfg.model)),
        opt(net->parameters(), torch::optim::AdamOptions(cfg.train.lr).weight_decay(cfg.train.weight_decay)),
        center(torch::zeros({net->embeddingDim()})) {
    net->train();
  }
  torch::Tensor forward(const torch::Tensor& x) { return shiftad::losses::deepSvddLoss(net->forward(x), center); }
  std::shared_ptr<shiftad::models::FeatureExtractor> net;
  torch::optim::Adam opt;
  torch::Tensor center;
};

/// One augmented, normalized batch of real images, made once: what the pipeline hands
/// the model at a step (source rows, then as many pool rows when aligning). Real
/// pixels, not noise: the same data the pipeline measures on.
torch::Tensor premadeBatch(const shiftad::Config& cfg, const StepData& d, bool align) {
  auto gen = at::detail::createCPUGenerator(0);
  const int64_t b = std::min<int64_t>(cfg.train.batch_size, d.source.size(0));
  auto images = d.source.slice(0, 0, b);
  if (align)
    images = torch::cat({images, d.pool.index_select(0, torch::randint(d.pool.size(0), {b}, gen, torch::kLong))});
  const auto& dc = cfg.data;
  return shiftad::data::normalize(
      shiftad::data::randomResizedCrop(images, dc.image_size, dc.crop_scale_min, dc.hflip, gen), dc.mean, dc.std);
}

/// Images per second of forward + backward + Adam on a pre-made batch of the
/// pipeline's step size (source batch plus, when aligning, the target batch).
json stepCompute(const shiftad::Config& cfg, int steps, bool channels_last) {
  const bool align = shiftad::aligns(cfg);
  auto x = premadeBatch(cfg, loadStepData(cfg), align);
  const int64_t batch = x.size(0);
  ComputeStep s(cfg);
  if (channels_last) {  // experiment: oneDNN's NHWC convolutions in training too
    torch::NoGradGuard ng;
    for (auto& p : s.net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  std::vector<double> rates;
  for (int i = 0; i <= steps; ++i) {  // step 0 is warm-up
    const auto t0 = Clock::now();
    s.opt.zero_grad();
    s.forward(x).backward();
    s.opt.step();
    if (i > 0) rates.push_back(static_cast<double>(batch) / secondsSince(t0));
  }
  return {{"bench", "step"}, {"mode", "compute"}, {"images_per_s", median(rates)},
          {"steps", steps},  {"batch", batch},    {"channels_last", channels_last}};
}

/// Where a training step's time goes: the phases of Trainer::fit's step, timed apart
/// on real images (medians over steps, milliseconds).
json stepProfile(const shiftad::Config& cfg, int steps) {
  const auto d = loadStepData(cfg);
  ComputeStep s(cfg);
  auto gen = at::detail::createCPUGenerator(0);
  const int64_t b = std::min<int64_t>(cfg.train.batch_size, d.source.size(0));
  const auto guarded = shiftad::training::trainedTensors(*s.net);  // with model.freeze: a head-only run's set
  std::map<std::string, std::vector<double>> ms;
  const auto timed = [&](const char* name, const std::function<void()>& fn) {
    const auto t0 = Clock::now();
    fn();
    ms[name].push_back(1000.0 * secondsSince(t0));
  };
  for (int i = 0; i <= steps; ++i) {
    torch::Tensor xs, xt, loss;
    timed("batch_select", [&] {
      xs = d.source.index_select(0, torch::randint(d.source.size(0), {b}, gen, torch::kLong));
      xt = d.pool.index_select(0, torch::randint(d.pool.size(0), {b}, gen, torch::kLong));
    });
    timed("augment_normalize", [&] {
      const auto& dc = cfg.data;
      xs = shiftad::data::normalize(
          shiftad::data::randomResizedCrop(xs, dc.image_size, dc.crop_scale_min, dc.hflip, gen), dc.mean, dc.std);
      xt = shiftad::data::normalize(
          shiftad::data::randomResizedCrop(xt, dc.image_size, dc.crop_scale_min, dc.hflip, gen), dc.mean, dc.std);
    });
    timed("forward_loss", [&] { loss = s.forward(torch::cat({xs, xt})); });
    timed("backward", [&] {
      s.opt.zero_grad();
      loss.backward();
    });
    timed("optimizer", [&] { s.opt.step(); });
    timed("finite_guard", [&] { shiftad::training::firstNonFinite(guarded); });
    if (i == 0) ms.clear();  // warm-up
  }
  json phases;
  for (const auto& [name, v] : ms) phases[name] = median(v);
  return {{"bench", "step"}, {"mode", "profile"}, {"batch", 2 * b}, {"phases_ms", phases}};
}

// --- scoring ----------------------------------------------------------------

json scoreApi(const std::string& run, const std::string& images) {
  const auto t0 = Clock::now();
  const auto r = shiftad::score(run, images);
  const double s = secondsSince(t0);
  return {{"bench", "score"},
          {"mode", "api"},
          {"images", r.scores.size()},
          {"seconds", s},
          {"images_per_s", static_cast<double>(r.scores.size()) / s}};
}

/// F's forward alone (eval mode, no grad) on pre-made normalized tensors, in batches
/// of `batch` (scoring uses models::kInferenceImages).
json scoreForward(const std::string& run, int64_t n, int64_t batch) {
  const auto loaded = shiftad::api::loadRun(run);
  auto& net = loaded.trainer->net();
  net.eval();
  torch::NoGradGuard ng;
  const int side = loaded.cfg.data.image_size;
  const auto x = torch::randn({std::min(n, batch), 3, side, side});
  net.forward(x);  // warm-up: the allocator's first touch of a batch's activations
  const auto t0 = Clock::now();
  for (int64_t done = 0; done < n; done += batch) net.forward(x.slice(0, 0, std::min(batch, n - done)));
  const double s = secondsSince(t0);
  return {{"bench", "score"}, {"mode", "forward"}, {"images", n},
          {"batch", batch},   {"seconds", s},      {"images_per_s", static_cast<double>(n) / s}};
}

/// The C++ scorer on images already in memory, as Detector::score of ImageViews runs it
/// after resizing: uint8 images through preprocessing, F and the distance to c, `batch`
/// images a call. `fast`: Trainer::score (F's eval-only copy, inference mode); `plain`:
/// F's own eval-mode forward under NoGradGuard (Trainer::embed), the path before it.
/// F as the config builds it (model.weights), c a fixed vector: speed does not depend on
/// training.
json scorerBench(const shiftad::Config& cfg, const std::string& path, int64_t n, int64_t batch) {
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  shiftad::training::Trainer trainer(cfg, net);
  trainer.setCenter(torch::full({net->embeddingDim()}, 0.1));
  const int side = shiftad::api::resizeSide(cfg.data);
  auto gen = at::detail::createCPUGenerator(0);
  const auto x = torch::randint(256, {batch, 3, side, side}, gen, torch::kLong).to(torch::kUInt8);
  const auto once = [&] {
    if (path == "fast") return trainer.score(x);
    torch::NoGradGuard ng;
    return shiftad::losses::svddScore(trainer.embed(x), trainer.center());
  };
  once();  // warm-up: the first touch of a batch's activations (and, fast, making the copy)
  int64_t done = 0;
  const auto t0 = Clock::now();
  for (; done < n; done += batch) once();
  const double s = secondsSince(t0);
  return {{"bench", "scorer"}, {"path", path}, {"images", done},
          {"batch", batch},    {"seconds", s}, {"images_per_s", static_cast<double>(done) / s}};
}

// --- K-means ----------------------------------------------------------------

/// n points around k well-separated centers in d dimensions (seeded).
torch::Tensor blobs(int64_t n, int64_t d, int64_t k, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto centers = torch::randn({k, d}, gen) * 4.0;
  const auto which = torch::randint(k, {n}, gen, torch::kLong);
  return (centers.index_select(0, which) + torch::randn({n, d}, gen)).contiguous();
}

/// Inertia of `centroids` on `x` (nearest-centroid assignment), float64.
double inertiaOf(const torch::Tensor& x, const torch::Tensor& centroids) {
  double total = 0.0;
  for (int64_t i = 0; i < x.size(0); i += 65536) {
    const auto block = x.slice(0, i, std::min(i + 65536, x.size(0)));
    total +=
        std::get<0>(shiftad::clustering::pairwiseSqDist(block, centroids).min(1)).sum(torch::kDouble).item<double>();
  }
  return total;
}

/// n x d rows around k centers made in place, 8192 rows at a time (noise drawn into the
/// rows, the centers added): the only large allocation is the n x d result (at 1M x
/// 1280, 5.1 GB), and the temporaries are 42 MB, so peak memory is the clustering's
/// own. (Drawn as center + noise in 65536-row temporaries, the bench itself peaked at
/// 3.7 GB for 1 GB of rows at 200,000, the heap keeping the freed blocks.)
/// `main_share` > 0: that share of the rows around center 0 (a dominant population), the
/// rest spread over the others; `center_of` gets each row's center.
torch::Tensor blobsInPlace(int64_t n, int64_t d, int64_t k, uint64_t seed, double main_share = 0.0,
                           torch::Tensor* center_of = nullptr) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto centers = torch::randn({k, d}, gen) * 4.0;
  auto x = torch::empty({n, d});
  auto labels = torch::empty({n}, torch::kLong);
  for (int64_t i = 0; i < n; i += 8192) {
    const int64_t m = std::min<int64_t>(8192, n - i);
    auto which = torch::randint(k, {m}, gen, torch::kLong);
    if (main_share > 0.0)
      which = torch::where(torch::rand({m}, gen) < main_share, torch::zeros_like(which),
                           torch::randint(1, k, {m}, gen, torch::kLong));
    labels.slice(0, i, i + m).copy_(which);
    x.slice(0, i, i + m).normal_(0.0, 1.0, gen).add_(centers.index_select(0, which));
  }
  if (center_of) *center_of = labels;
  std::fprintf(stderr, "%lld x %lld rows made: peak RSS %.0f MiB\n", static_cast<long long>(n),
               static_cast<long long>(d), peakRssMib());
  return x;
}

/// The aligned set of an n x d pool (docs/scale.md), as training picks it with the config's
/// cluster.*: the dense region (cluster.space dense, the default) or the largest cluster of
/// the pool's clustering (any other space: K-means, K = 8, 5 restarts by default); time.
json dominantBench(const shiftad::Config& cfg, int64_t n, int64_t d, double main_share) {
  torch::Tensor center_of;
  const auto x = blobsInPlace(n, d, cfg.cluster.kmeans.k, 1, main_share, &center_of);
  const auto t0 = Clock::now();
  const bool dense = cfg.cluster.space == shiftad::ClusterSpace::kDense;
  const auto rows = dense
                        ? shiftad::method::denseRows(x, {cfg.cluster.neighbours, cfg.cluster.dense_bic_gate,
                                                         cfg.cluster.dense_max_share, cfg.cluster.dense_reference_rows})
                        : shiftad::method::dominantRows(x, cfg.cluster, 0);
  const double s = secondsSince(t0);
  // With a dominant population: the share of the aligned set that is from it.
  const double purity = (center_of.index_select(0, rows) == 0).to(torch::kDouble).mean().item<double>();
  return {{"bench", dense ? "dense" : "dominant"},
          {"main_share", main_share},
          {"main_share_of_aligned", purity},
          {"n", n},
          {"d", d},
          {"k", cfg.cluster.kmeans.k},
          {"restarts", cfg.cluster.kmeans.restarts},
          {"reference_rows", cfg.cluster.dense_reference_rows},
          {"seconds", s},
          {"dominant_rows", rows.numel()}};
}

json kmeansBench(const std::string& impl, int64_t n, int64_t d, int k, int iters) {
  const auto x = blobs(n, d, k, 1);
  torch::Tensor centroids;
  const auto t0 = Clock::now();
  if (impl == "shiftad") {
    shiftad::clustering::KMeansParams p;
    p.k = k;
    p.restarts = 1;
    p.max_iter = iters;
    p.tol = 0.0;  // exactly `iters` Lloyd iterations, as faiss' niter
    centroids = shiftad::clustering::kmeans(x, p).centroids;
  } else if (impl == "faiss") {
#ifdef SHIFTAD_BENCH_FAISS
    faiss::ClusteringParameters cp;
    cp.niter = iters;
    cp.nredo = 1;
    cp.seed = 1;
    cp.max_points_per_centroid = static_cast<int>(n);  // no subsampling: the same work as ours
    cp.verbose = false;
    faiss::Clustering c(static_cast<int>(d), k, cp);
    faiss::IndexFlatL2 index(d);
    c.train(n, x.data_ptr<float>(), index);
    centroids = torch::from_blob(c.centroids.data(), {k, d}, torch::kFloat).clone();
#else
    throw std::runtime_error("shiftad_bench was built without faiss (install libfaiss-dev and re-run cmake)");
#endif
  } else {
    throw std::runtime_error("--impl must be shiftad or faiss, not " + impl);
  }
  const double s = secondsSince(t0);
  return {{"bench", "kmeans"},
          {"impl", impl},
          {"n", n},
          {"d", d},
          {"k", k},
          {"iters", iters},
          {"seconds", s},
          {"inertia", inertiaOf(x, centroids)}};
}

/// The disk feature cache on `n` files (empty, named under DIR/files) with rows of `d`
/// floats made up on the spot (no encoder: the cache's own cost): writing them all (a
/// cold cache), reading them all back (warm), and a list with one file more (one row
/// computed, the rest read). The cache goes to DIR/cache, emptied first.
json featureCacheBench(const std::string& dir, int64_t n, int64_t d) {
  namespace fs = std::filesystem;
  fs::remove_all(fs::path(dir) / "cache");
  fs::create_directories(fs::path(dir) / "files");
  std::vector<std::string> files;
  for (int64_t i = 0; i < n + 1; ++i) {
    files.push_back((fs::path(dir) / "files" / (std::to_string(i) + ".png")).string());
    if (!fs::exists(files.back())) std::ofstream(files.back()).put('x');
  }
  const auto one_more = files;
  files.pop_back();
  int64_t computed = 0;
  const auto rows = [&](const std::vector<std::string>& missing) {
    computed += static_cast<int64_t>(missing.size());
    return torch::ones({static_cast<int64_t>(missing.size()), d});
  };
  const auto cache = (fs::path(dir) / "cache").string();
  const auto timed = [&](const std::vector<std::string>& list) {
    const auto t0 = Clock::now();
    shiftad::io::cachedFeatures(cache, "bench-encoder", list, rows);
    return secondsSince(t0);
  };
  const double cold = timed(files);
  const double warm = timed(files);
  const int64_t before = computed;
  const double added = timed(one_more);
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(cache)) bytes += e.is_regular_file() ? e.file_size() : 0;
  return {{"bench", "feature-cache"},
          {"n", n},
          {"d", d},
          {"cold_seconds", cold},
          {"warm_seconds", warm},
          {"one_more_seconds", added},
          {"one_more_computed", computed - before},
          {"entry_bytes", bytes}};
}

/// Every JPEG and PNG under `dir` (read into memory first: decoding, not the disk, is
/// timed), decoded to RGB by the loader (data::decodeRgb: libjpeg and libpng with their
/// messages caught) and as the loader did before, through cv::imdecode: seconds of each
/// per format (median of 3 passes), and how many images differ in any pixel or were
/// refused by one side only.
json decodeBench(const std::string& dir) {
  namespace fs = std::filesystem;
  struct File {
    std::string path, format;
    std::vector<unsigned char> bytes;
  };
  std::vector<File> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    auto ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string format = ext == ".png" ? "png" : ext == ".jpg" || ext == ".jpeg" ? "jpeg" : "";
    if (!e.is_regular_file() || format.empty()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    files.push_back({e.path().string(), format, std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {})});
  }
  const auto before = [](const File& f) {
    const std::string_view view(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
    const cv::Mat m = shiftad::data::damage(view).empty() ? cv::imdecode(f.bytes, cv::IMREAD_UNCHANGED) : cv::Mat();
    return m.empty() ? m : shiftad::data::samplesToRgb(m, f.path);
  };
  const auto now = [](const File& f) {
    try {
      return shiftad::data::decodeRgb(f.bytes, f.path);
    } catch (const shiftad::Error&) {
      return cv::Mat();
    }
  };
  json out = {{"bench", "decode"}};
  for (const std::string format : {"jpeg", "png"}) {
    std::vector<double> t_before, t_now;
    int64_t n = 0, differ = 0, refused = 0;
    for (int pass = 0; pass < 3; ++pass) {
      auto t0 = Clock::now();
      for (const auto& f : files)
        if (f.format == format) before(f);
      t_before.push_back(secondsSince(t0));
      t0 = Clock::now();
      for (const auto& f : files)
        if (f.format == format) now(f);
      t_now.push_back(secondsSince(t0));
    }
    for (const auto& f : files) {
      if (f.format != format) continue;
      ++n;
      const cv::Mat a = before(f), b = now(f);
      if (a.empty() != b.empty())
        ++refused;
      else if (!a.empty() && (a.size() != b.size() || cv::norm(a, b, cv::NORM_INF) != 0))
        ++differ;
    }
    out[format] = {{"images", n},
                   {"opencv_seconds", median(t_before)},
                   {"loader_seconds", median(t_now)},
                   {"pixels_differ", differ},
                   {"refused_by_one_side", refused}};
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shiftad_bench: the measurements of docs/performance.md (one JSON line each)"};
  app.require_subcommand(1);
  std::string config, out, mode = "pipeline", run, images, impl = "shiftad";
  std::vector<std::string> sets;
  int steps = 10, k = 10, iters = 20, threads = 0;
  int64_t n = 100000, d = 512, forward_images = 512, forward_batch = shiftad::models::kInferenceImages;
  double main_share = 0.0;

  auto* split = app.add_subcommand("split", "write source.txt, pool.txt and test.txt of a config's split");
  split->add_option("--config", config)->required();
  split->add_option("--set", sets);
  split->add_option("--out", out)->required();
  auto* step = app.add_subcommand("step", "train-step throughput: pipeline, compute bound, or per-phase profile");
  step->add_option("--config", config)->required();
  step->add_option("--set", sets);
  step->add_option("--mode", mode)->check(CLI::IsMember({"pipeline", "compute", "profile"}));
  step->add_option("--steps", steps, "steps timed (compute, profile)");
  bool channels_last = false;
  step->add_flag("--channels-last", channels_last, "compute: weights and batch in NHWC (oneDNN's layout)");
  auto* score = app.add_subcommand("score", "scoring throughput: shiftad::score, or the forward bound");
  score->add_option("--run", run)->required();
  score->add_option("--images", images, "folder or list of images (api mode)");
  score->add_option("--mode", mode)->check(CLI::IsMember({"api", "forward"}));
  score->add_option("--n", forward_images, "images pushed through the forward bound");
  score->add_option("--batch", forward_batch, "forward bound: images per pass");
  auto* scorer = app.add_subcommand("scorer", "the C++ scorer on in-memory images at a batch size: fast or plain");
  std::string scorer_path = "fast";
  scorer->add_option("--config", config)->required();
  scorer->add_option("--set", sets);
  scorer->add_option("--path", scorer_path)->check(CLI::IsMember({"fast", "plain"}));
  scorer->add_option("--n", forward_images, "images scored after one warm-up batch");
  scorer->add_option("--batch", forward_batch, "images a call");
  auto* km = app.add_subcommand("kmeans", "K-means on n x d blobs: shiftad's or faiss'");
  km->add_option("--impl", impl)->check(CLI::IsMember({"shiftad", "faiss"}));
  km->add_option("--n", n);
  km->add_option("--d", d);
  km->add_option("--k", k);
  km->add_option("--iters", iters);
  km->add_option("--threads", threads, "0: all cores");
  auto* dom = app.add_subcommand("dominant",
                                 "the aligned set of an n x d pool of blobs: the dense region, or with --set "
                                 "cluster.space=self the largest K-means cluster (cluster.* of --set)");
  dom->add_option("--set", sets);
  dom->add_option("--n", n);
  dom->add_option("--d", d);
  dom->add_option("--main-share", main_share,
                  "share of the rows around one center, the rest spread over the others (0: every center alike)");
  auto* fc = app.add_subcommand("feature-cache", "the disk feature cache: n rows written, read back, one added");
  fc->add_option("--dir", out, "a scratch folder (its cache/ is emptied)")->required();
  fc->add_option("--n", n);
  fc->add_option("--d", d);
  auto* decode = app.add_subcommand("decode", "JPEG and PNG decoding of a folder: the loader's against OpenCV's");
  decode->add_option("--images", images, "a folder; every .jpg, .jpeg and .png below it")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    if (split->parsed()) runSplit(configFrom(config, sets), out);
    if (step->parsed()) {
      const auto cfg = configFrom(config, sets);
      emit(mode == "pipeline"  ? stepPipeline(cfg)
           : mode == "compute" ? stepCompute(cfg, steps, channels_last)
                               : stepProfile(cfg, steps));
    }
    if (score->parsed()) {
      shiftad::setThreads(0);
      emit(mode == "api" ? scoreApi(run, images) : scoreForward(run, forward_images, forward_batch));
    }
    if (scorer->parsed()) emit(scorerBench(configFrom(config, sets), scorer_path, forward_images, forward_batch));
    if (dom->parsed()) {
      shiftad::setThreads(0);
      emit(dominantBench(shiftad::loadConfig("", sets), n, d, main_share));
    }
    if (fc->parsed()) emit(featureCacheBench(out, n, d));
    if (decode->parsed()) emit(decodeBench(images));
    if (km->parsed()) {
      shiftad::setThreads(threads);
      emit(kmeansBench(impl, n, d, k, iters));
    }
  } catch (const std::exception& e) {
    std::cerr << "shiftad_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
