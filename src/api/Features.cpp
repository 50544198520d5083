#include "api/Features.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Hash.h"
#include "common/Progress.h"
#include "config/Choices.h"
#include "data/ImageFolder.h"
#include "io/FeatureCache.h"
#include "models/FeatureExtractor.h"
#include "models/FrozenEncoder.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

constexpr int64_t kBatch = 64;

/// Per key (an encoder id, or an image side), per file: its row (undefined when the
/// file is unreadable).
struct Memory {
  std::mutex mutex;
  std::map<std::string, std::unordered_map<std::string, torch::Tensor>> rows;
};

Memory& memory() {
  static Memory m;
  return m;
}

struct Stats {
  std::mutex mutex;
  InputStats totals;
};

Stats& stats() {
  static Stats s;
  return s;
}

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void addStats(const std::function<void(InputStats&)>& add) {
  std::lock_guard<std::mutex> lock(stats().mutex);
  add(stats().totals);
}

/// The rows of `paths` under `key` if every one is in memory.
bool recall(const std::string& key, const std::vector<std::string>& paths, FeatureSet& out) {
  std::lock_guard<std::mutex> lock(memory().mutex);
  const auto it = memory().rows.find(key);
  if (it == memory().rows.end()) return false;
  std::vector<torch::Tensor> rows;
  for (const auto& p : paths) {
    const auto r = it->second.find(p);
    if (r == it->second.end()) return false;
    if (r->second.defined()) {
      rows.push_back(r->second);
      out.paths.push_back(p);
    } else {
      out.skipped.push_back(p);
    }
  }
  out.features = rows.empty() ? torch::Tensor() : torch::stack(rows);
  return true;
}

void remember(const std::string& key, const std::vector<std::string>& paths, const io::FeatureRows& rows) {
  std::lock_guard<std::mutex> lock(memory().mutex);
  auto& m = memory().rows[key];
  const auto valid = rows.valid.to(torch::kUInt8).contiguous();
  for (size_t i = 0; i < paths.size(); ++i)
    m[paths[i]] =
        valid[static_cast<int64_t>(i)].item<uint8_t>() ? rows.features[static_cast<int64_t>(i)] : torch::Tensor();
}

/// Rows of every path, unreadable ones as zeros and marked invalid.
io::FeatureRows expandRows(const FeatureSet& set, const std::vector<std::string>& paths, int64_t dim) {
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < set.paths.size(); ++i) index[set.paths[i]] = static_cast<int64_t>(i);
  const auto n = static_cast<int64_t>(paths.size());
  const auto options = set.features.defined() ? set.features.options() : torch::TensorOptions(torch::kFloat);
  io::FeatureRows rows{torch::zeros({n, dim}, options), torch::zeros({n}, torch::kUInt8)};
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto it = index.find(paths[i]);
    if (it == index.end()) continue;
    rows.features[static_cast<int64_t>(i)] = set.features[it->second];
    rows.valid[static_cast<int64_t>(i)] = 1;
  }
  return rows;
}

/// Memory, then the disk cache, then `compute` on the decoded images that are not in
/// memory yet.
FeatureSet features(const Config& cfg, const std::string& id, const std::vector<std::string>& paths, int side,
                    Interpolation interpolation, const std::function<torch::Tensor(const torch::Tensor&)>& compute) {
  FeatureSet out;
  if (recall(id, paths, out)) return out;
  const auto t0 = Clock::now();
  const auto rows = io::cachedFeatureRows(cfg.encoder.cache_dir, id, paths, [&] {
    std::vector<std::string> missing;
    {
      std::lock_guard<std::mutex> lock(memory().mutex);
      auto& m = memory().rows[id];
      for (const auto& p : paths)
        if (!m.count(p)) missing.push_back(p);
    }
    const auto images = loadImagesOnce(cfg, missing, side, interpolation);
    spdlog::info("embedding {} images ({}); cached for later runs", images.paths.size(), id.substr(0, id.find(':')));
    if (!images.paths.empty()) {
      const auto t_embed = Clock::now();
      const auto f = compute(images.images);
      addStats([&](InputStats& st) {
        st.embedded_images += images.images.size(0);
        st.embed_seconds += secondsSince(t_embed);
      });
      remember(id, missing, expandRows(FeatureSet{f, images.paths, images.skipped}, missing, f.size(1)));
    } else {
      remember(id, missing,
               io::FeatureRows{torch::zeros({static_cast<int64_t>(missing.size()), 1}),
                               torch::zeros({static_cast<int64_t>(missing.size())}, torch::kUInt8)});
    }
    FeatureSet all;
    SHIFTAD_CHECK(recall(id, paths, all), "internal: features not remembered");
    const int64_t dim = all.features.defined() ? all.features.size(1) : 1;
    return expandRows(all, paths, dim);
  });
  remember(id, paths, rows);
  SHIFTAD_CHECK(recall(id, paths, out), "internal: features not remembered");
  addStats([&](InputStats& st) { st.feature_seconds += secondsSince(t0); });
  return out;
}

std::string cacheDir(const Config& cfg) {
  return cfg.encoder.cache_dir.empty() ? io::defaultCacheDir() : cfg.encoder.cache_dir;
}

/// Content identity of F's trunk: every trunk parameter and buffer (the head is not
/// part of the features), and what changes the trunk's function without changing its
/// weights (e.g. MobileNetV2's padding, in describe()). Two nets with the same trunk
/// share cache entries, wherever their weights came from.
std::string trunkFingerprint(models::FeatureExtractor& net) {
  uint64_t h = kFnv1aOffset;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (name.rfind("head.", 0) == 0) return;
    const auto c = t.contiguous();
    h = fnv1a(name, h);
    h = fnv1a(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size(), h);
  };
  for (const auto& p : net.named_parameters(true)) add(p.key(), p.value());
  for (const auto& b : net.named_buffers(true)) add(b.key(), b.value());
  for (const auto& [k, v] : net.describe()) h = fnv1a(k + "=" + v + ";", h);
  return fmt::format("{:016x}", h);
}

/// The cache key of trunk features: the trunk's content and the preprocessing.
std::string trunkId(const Config& cfg, const std::string& fingerprint) {
  return fmt::format("trunk:{}:{}:{}:{}:{}:{}:{}", cfg.model.arch, fingerprint, resizeSide(cfg.data),
                     cfg.data.interpolation, cfg.data.image_size, fmt::join(cfg.data.mean, ","),
                     fmt::join(cfg.data.std, ","));
}

/// trunkId of the initial trunk, memoised per process by what determines it (building
/// a pretrained trunk reads its weights file).
std::string initialTrunkId(const Config& cfg) {
  static std::mutex mutex;
  static std::map<std::string, std::string> memo;
  const auto& m = cfg.model;
  std::string source = "random:seed" + std::to_string(cfg.train.seed);
  if (!m.weights.empty()) {
    SHIFTAD_CHECK(fs::is_regular_file(m.weights),
                  "model.weights '{}' does not exist; set it to a safetensors file of backbone weights, or \"\" for "
                  "random initialisation",
                  m.weights);
    source = fmt::format("{}:{}:{}", fs::absolute(m.weights).string(), fs::file_size(m.weights),
                         fs::last_write_time(m.weights).time_since_epoch().count());
  }
  const auto key = fmt::format("{}:{}:{}:w{}:{}", m.arch, m.padding, source, m.width, m.embedding_dim);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = memo.find(key); it != memo.end()) return trunkId(cfg, it->second);
  }
  const auto fingerprint = trunkFingerprint(*initialTrunk(cfg));
  std::lock_guard<std::mutex> lock(mutex);
  memo[key] = fingerprint;
  return trunkId(cfg, fingerprint);
}

/// Trunk features of images by `net` (eval mode, no gradient), in batches.
torch::Tensor trunkOf(const Config& cfg, models::FeatureExtractor& net, const torch::Tensor& images) {
  net.eval();
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> out;
  Progress progress("embedding images (" + toString(cfg.model.arch) + " trunk)", images.size(0));
  for (int64_t i = 0; i < images.size(0); i += kBatch) {
    const auto x = images.slice(0, i, std::min(i + kBatch, images.size(0)));
    out.push_back(net.trunk(data::normalize(data::centerCrop(x, cfg.data.image_size), cfg.data.mean, cfg.data.std)));
    progress.advance(x.size(0));
  }
  return out.empty() ? torch::empty({0, net.trunkDim()}) : torch::cat(out);
}

}  // namespace

std::shared_ptr<models::FeatureExtractor> initialTrunk(const Config& cfg) {
  // The global generator is restored, so asking for features never changes a run's
  // random stream.
  auto gen = at::detail::getDefaultCPUGenerator();
  const auto state = gen.get_state();
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  ModelConfig mc = cfg.model;
  mc.freeze = 0;
  auto net = models::makeFeatureExtractor(mc);
  gen.set_state(state);
  net->eval();
  return net;
}

data::ImageBatch loadImagesOnce(const Config& cfg, const std::vector<std::string>& paths, int side,
                                Interpolation interpolation) {
  const std::string key = "images:" + std::to_string(side) + ":" + toString(interpolation);
  FeatureSet known;
  if (!recall(key, paths, known)) {
    std::vector<std::string> missing;
    {
      std::lock_guard<std::mutex> lock(memory().mutex);
      auto& m = memory().rows[key];
      for (const auto& p : paths)
        if (!m.count(p)) missing.push_back(p);
    }
    const data::ImageCache disk(cfg.data.image_cache ? cacheDir(cfg) : "", side, toString(interpolation));
    const auto t0 = Clock::now();
    auto loaded = data::loadImages(missing, side, cfg.data.threads, interpolation, &disk);
    addStats([&](InputStats& st) {
      st.decoded_images += static_cast<int64_t>(missing.size());
      st.decode_seconds += secondsSince(t0);
    });
    // Explicit row size: reshape(-1) of zero rows (every file unreadable) is undefined.
    const auto flat = loaded.images.reshape({loaded.images.size(0), int64_t{3} * side * side});
    remember(key, missing, expandRows(FeatureSet{flat, loaded.paths, loaded.skipped}, missing, flat.size(1)));
    known = {};
    recall(key, paths, known);
  }
  data::ImageBatch out{torch::empty({0, 3, side, side}, torch::kByte), known.paths, known.skipped};
  if (known.features.defined()) out.images = known.features.to(torch::kByte).reshape({-1, 3, side, side});
  return out;
}

InputStats inputStats() {
  std::lock_guard<std::mutex> lock(stats().mutex);
  return stats().totals;
}

void clearInputMemory() {
  std::lock_guard<std::mutex> lock(memory().mutex);
  memory().rows.clear();
}

torch::Tensor trunkFeaturesOf(const Config& cfg, const torch::Tensor& images) {
  return trunkOf(cfg, *initialTrunk(cfg), images);
}

FeatureSet trunkFeatures(const Config& cfg, const std::vector<std::string>& paths) {
  return features(cfg, initialTrunkId(cfg), paths, resizeSide(cfg.data), cfg.data.interpolation,
                  [&](const torch::Tensor& images) { return trunkFeaturesOf(cfg, images); });
}

FeatureSet trunkFeatures(const Config& cfg, models::FeatureExtractor& net, const std::vector<std::string>& paths) {
  return features(cfg, trunkId(cfg, trunkFingerprint(net)), paths, resizeSide(cfg.data), cfg.data.interpolation,
                  [&](const torch::Tensor& images) { return trunkOf(cfg, net, images); });
}

FeatureSet frozenFeatures(const Config& cfg, const std::vector<std::string>& paths, models::FeatureExtractor* trunk) {
  FeatureSet out;
  if (cfg.encoder.type == EncoderType::kBackbone) {
    out = trunk ? trunkFeatures(cfg, *trunk, paths) : trunkFeatures(cfg, paths);
  } else {
    auto encoder = models::makeFrozenEncoder(cfg.encoder);
    SHIFTAD_CHECK(encoder != nullptr, "the frozen encoder is needed but encoder.type is 'none'");
    out = features(cfg, encoder->id(), paths, cfg.encoder.image_size, Interpolation::kBilinear,
                   [&](const torch::Tensor& images) { return encoder->encode(images); });
  }
  if (cfg.encoder.l2_normalize && out.features.defined())
    out.features = torch::nn::functional::normalize(out.features, torch::nn::functional::NormalizeFuncOptions().dim(1));
  return out;
}

namespace {

void checkDataConfig(const DataConfig& d) {
  SHIFTAD_CHECK(!d.root.empty(), "config: data.root is empty; set it to an ImageFolder root (ROOT/DOMAIN/CLASS/image)");
  SHIFTAD_CHECK(!d.source.empty() && !d.target.empty(),
                "config: data.source and data.target must name domains under '{}'", d.root);
  SHIFTAD_CHECK(!d.normal_class.empty(), "config: data.normal_class is empty; name the class that is normal");
}

}  // namespace

data::ProtocolSplit splitFor(const DataConfig& d) {
  checkDataConfig(d);
  data::ProtocolParams p;
  p.normal_class = d.normal_class;
  p.pool_fraction = d.pool_fraction;
  p.contamination = d.contamination;
  p.seed = d.split_seed;
  auto split = data::makeSplit(data::listDomain(d.root, d.source), data::listDomain(d.root, d.target), p);
  // A test image that training saw makes every figure of the run meaningless.
  const std::string leak = data::leakProblem(split, d.source, d.target);
  SHIFTAD_CHECK(leak.empty(), "config: {}", leak);
  return split;
}

Inputs trainerInputs(const Config& cfg, bool head_only, const std::vector<std::string>& paths,
                     models::FeatureExtractor* trunk) {
  if (head_only) {
    auto f = trunk ? trunkFeatures(cfg, *trunk, paths) : trunkFeatures(cfg, paths);
    return {f.features, f.paths, f.skipped};
  }
  auto b = loadImagesOnce(cfg, paths, resizeSide(cfg.data), cfg.data.interpolation);
  return {b.images, b.paths, b.skipped};
}

}  // namespace shiftad::api
