#include "api/Features.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/CacheTrim.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/Memory.h"
#include "common/Hash.h"
#include "common/Progress.h"
#include "config/Choices.h"
#include "data/ImageFolder.h"
#include "common/Seconds.h"
#include "io/FeatureCache.h"
#include "models/FeatureExtractor.h"
#include "models/FrozenEncoder.h"
#include "models/InferenceBatch.h"
#include "models/NetworkConstruction.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

constexpr int64_t kBatch = models::kInferenceImages;

using Clock = std::chrono::steady_clock;

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

/// `compute`'s rows of `missing`, a chunk of decoded images at a time, remembered in
/// `cache` under `id`. The pixels this decoded are forgotten once embedded: a run that
/// trains the head alone needs only the features, and a pool's pixels held whole (twice
/// at the peak) took gigabytes at 224 px for the whole run (pixels the cache held
/// before are left to their user).
void embedInChunks(InputCache& cache, const Config& cfg, const std::string& id, const std::vector<std::string>& missing,
                   int side, Interpolation interpolation,
                   const std::function<torch::Tensor(const torch::Tensor&)>& compute) {
  const auto pixels = imagesKey(side, interpolation);
  const auto undecoded = cache.missing(pixels, missing);
  const std::set<std::string> decoded_here(undecoded.begin(), undecoded.end());
  // Whole batches: the batches, and so the features, of embedding all at once.
  const auto batch = static_cast<size_t>(kBatch);
  const size_t step = std::max<size_t>(1, (cache.embedChunk() + batch - 1) / batch) * batch;
  for (size_t start = 0; start < missing.size(); start += step) {
    if (cache.stopping())
      throw EmbeddingStopped(fmt::format("stopped after embedding {} of {} images", start, missing.size()));
    const std::vector<std::string> chunk(
        missing.begin() + static_cast<std::ptrdiff_t>(start),
        missing.begin() + static_cast<std::ptrdiff_t>(std::min(start + step, missing.size())));
    const auto images = loadImagesOnce(cache, cfg, chunk, side, interpolation);
    if (!images.paths.empty()) {
      const auto t_embed = Clock::now();
      const auto f = compute(images.images);
      cache.addStats([&](InputStats& st) {
        st.embedded_images += images.images.size(0);
        st.embed_seconds += secondsSince(t_embed);
      });
      cache.remember(id, chunk, expandRows(FeatureSet{f, images.paths, images.skipped}, chunk, f.size(1)));
    } else {
      cache.remember(id, chunk,
                     io::FeatureRows{torch::zeros({static_cast<int64_t>(chunk.size()), 1}),
                                     torch::zeros({static_cast<int64_t>(chunk.size())}, torch::kUInt8)});
    }
    std::vector<std::string> forget;
    for (const auto& p : chunk)
      if (decoded_here.count(p)) forget.push_back(p);
    cache.forget(pixels, forget);
  }
}

/// Memory, then the disk cache, then `compute` on the decoded images that are not in
/// memory yet.
FeatureSet features(InputCache& cache, const Config& cfg, const std::string& id, const std::vector<std::string>& paths,
                    int side, Interpolation interpolation,
                    const std::function<torch::Tensor(const torch::Tensor&)>& compute) {
  FeatureSet out;
  if (cache.recall(id, paths, out)) return out;
  const auto t0 = Clock::now();
  // The disk cache asks for the rows of the files none of its entries holds.
  const auto compute_rows = [&](const std::vector<std::string>& wanted) {
    const auto missing = cache.missing(id, wanted);
    // Only where the rows go to the disk cache: a loaded detector scoring new images
    // writes none (InputCache::diskCaches), and its embedding shows its own progress.
    if (cache.diskCaches())
      log::info("embedding {} images ({}); cached for later runs", missing.size(), id.substr(0, id.find(':')));
    embedInChunks(cache, cfg, id, missing, side, interpolation, compute);
    FeatureSet all;
    SHIFTAD_CHECK(cache.recall(id, wanted, all), "internal: features not remembered");
    const int64_t dim = all.features.defined() ? all.features.size(1) : 1;
    return expandRows(all, wanted, dim);
  };
  const auto rows =
      cache.diskCaches() ? io::cachedFeatureRows(cfg.encoder.cache_dir, id, paths, compute_rows) : compute_rows(paths);
  cache.remember(id, paths, rows);
  SHIFTAD_CHECK(cache.recall(id, paths, out), "internal: features not remembered");
  cache.addStats([&](InputStats& st) { st.feature_seconds += secondsSince(t0); });
  return out;
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

/// trunkId of the initial trunk, memoised in `cache` by what determines it (building
/// a pretrained trunk reads its weights file).
std::string initialTrunkId(InputCache& cache, const Config& cfg) {
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
  if (const auto known = cache.trunkFingerprint(key)) return trunkId(cfg, *known);
  const auto fingerprint = trunkFingerprint(*initialTrunk(cfg));
  cache.setTrunkFingerprint(key, fingerprint);
  return trunkId(cfg, fingerprint);
}

}  // namespace

std::string cacheDir(const Config& cfg) {
  return cfg.encoder.cache_dir.empty() ? io::defaultCacheDir() : cfg.encoder.cache_dir;
}

void trimDiskCaches(const Config& cfg) {
  if (cfg.encoder.cache_max_gb <= 0) return;
  const auto dir = cacheDir(cfg);
  const auto r = trimCache(dir, static_cast<uintmax_t>(cfg.encoder.cache_max_gb * 1e9));
  if (r.entries > 0)
    log::info(
        "cache {}: removed the {} least recently used entries ({:.1f} MB) to stay under encoder.cache_max_gb = {} GB",
        dir, r.entries, static_cast<double>(r.bytes) / 1e6, cfg.encoder.cache_max_gb);
  if (r.stale_temporaries > 0)
    log::info("cache {}: removed {} temporary file(s) that killed writes had left", dir, r.stale_temporaries);
}

/// Decoded images are finite, so a trunk's NaN or Inf comes from its weights; found later,
/// it read as a mixture's or the learning rate's failure.
void checkFiniteTrunk(const Config& cfg, const torch::Tensor& features) {
  const int64_t bad = (~torch::isfinite(features)).any(1).sum().item<int64_t>();
  SHIFTAD_CHECK(bad == 0,
                "F's {} trunk ({}) gives NaN or Inf features for {} of {} images: its weights are broken (a BatchNorm "
                "running_var below 0, a bad conversion){}",
                toString(cfg.model.arch), weightsSource(cfg.model), bad, features.size(0),
                cfg.model.weights.empty() ? "" : "; check the file, or convert it again (docs/models.md)");
}

torch::Tensor trunkFeaturesOf(const Config& cfg, models::FeatureExtractor& net, const torch::Tensor& images) {
  net.eval();
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> out;
  Progress progress("embedding images (" + toString(cfg.model.arch) + " trunk)", images.size(0));
  for (int64_t i = 0; i < images.size(0); i += kBatch) {
    const auto x = images.slice(0, i, std::min(i + kBatch, images.size(0)));
    out.push_back(net.trunk(data::normalize(data::centerCrop(x, cfg.data.image_size), cfg.data.mean, cfg.data.std)));
    progress.advance(x.size(0));
  }
  if (out.empty()) return torch::empty({0, net.trunkDim()});
  auto features = torch::cat(out);
  checkFiniteTrunk(cfg, features);
  return features;
}

std::shared_ptr<models::FeatureExtractor> initialTrunk(const Config& cfg) {
  // train.seed's weights (a trunk without model.weights is random), from a stream of its
  // own: asking for features never changes another's random numbers.
  auto stream = models::constructionStream(static_cast<uint64_t>(cfg.train.seed));
  const models::NetworkConstruction building(stream);
  ModelConfig mc = cfg.model;
  mc.freeze = 0;
  auto net = models::makeFeatureExtractor(mc);
  net->eval();
  return net;
}

namespace {

/// The bytes of `n` images' pixels at `side`.
uint64_t pixelBytes(size_t n, int side) { return uint64_t{3} * n * static_cast<uint64_t>(side) * side; }

constexpr const char* kLessPixels = "lower data.resize (or data.image_size), or give fewer images";

}  // namespace

std::string imagesKey(int side, Interpolation interpolation) {
  return "images:" + std::to_string(side) + ":" + toString(interpolation);
}

data::ImageBatch loadImagesOnce(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths, int side,
                                Interpolation interpolation) {
  const std::string key = imagesKey(side, interpolation);
  FeatureSet known;
  if (!cache.recall(key, paths, known)) {
    const auto missing = cache.missing(key, paths);
    // Two copies of every image's pixels at most: decoded, then copied into `cache`, whose
    // rows are stacked into the caller's batch once the decoded one is gone.
    checkFitsInMemory(2 * pixelBytes(missing.size(), side), availableMemoryBytes(),
                      fmt::format("the {} images to decode at {} x {} pixels", missing.size(), side, side),
                      kLessPixels);
    const data::ImageCache disk(cfg.data.image_cache && cache.diskCaches() ? cacheDir(cfg) : "", side,
                                toString(interpolation));
    {
      const auto t0 = Clock::now();
      auto loaded = data::loadImages(missing, side, cfg.data.threads, interpolation, &disk);
      cache.addStats([&](InputStats& st) {
        st.decoded_images += static_cast<int64_t>(missing.size());
        st.decode_seconds += secondsSince(t0);
      });
      // Explicit row size: reshape(-1) of zero rows (every file unreadable) is undefined.
      const auto flat = loaded.images.reshape({loaded.images.size(0), int64_t{3} * side * side});
      cache.remember(key, missing, expandRows(FeatureSet{flat, loaded.paths, loaded.skipped}, missing, flat.size(1)));
    }  // the decoded batch goes here, before recall stacks a third copy beside it
    known = {};
    cache.recall(key, paths, known);
  }
  data::ImageBatch out{torch::empty({0, 3, side, side}, torch::kByte), known.paths, known.skipped};
  if (known.features.defined()) out.images = known.features.to(torch::kByte).reshape({-1, 3, side, side});
  return out;
}

void checkFitDecodesInMemory(const InputCache& cache, const Config& cfg,
                             const std::vector<std::vector<std::string>>& sets, std::optional<uint64_t> available) {
  const int side = resizeSide(cfg.data);
  const auto key = imagesKey(side, cfg.data.interpolation);
  size_t to_decode = 0, held = 0;
  for (const auto& set : sets) {
    const auto missing = cache.missing(key, set).size();
    to_decode += missing;
    held += set.size() - missing;
  }
  // Each set stays in memory as the cache's copy and the trainer's batch while the
  // next is decoded; a held image adds the batch's copy only.
  checkFitsInMemory(
      2 * pixelBytes(to_decode, side) + pixelBytes(held, side), available,
      fmt::format("the {} images of this training (source and pool) at {} x {} pixels", to_decode + held, side, side),
      kLessPixels);
}

torch::Tensor trunkFeaturesOf(const Config& cfg, const torch::Tensor& images) {
  return trunkFeaturesOf(cfg, *initialTrunk(cfg), images);
}

FeatureSet trunkFeatures(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths) {
  return features(cache, cfg, initialTrunkId(cache, cfg), paths, resizeSide(cfg.data), cfg.data.interpolation,
                  [&](const torch::Tensor& images) { return trunkFeaturesOf(cfg, images); });
}

FeatureSet trunkFeatures(InputCache& cache, const Config& cfg, models::FeatureExtractor& net,
                         const std::vector<std::string>& paths) {
  return features(cache, cfg, trunkId(cfg, trunkFingerprint(net)), paths, resizeSide(cfg.data), cfg.data.interpolation,
                  [&](const torch::Tensor& images) { return trunkFeaturesOf(cfg, net, images); });
}

namespace {

/// Φ's encoder for this call: `given`, else built into `owned` from encoder.*.
models::FrozenEncoder& encoderFor(const Config& cfg, models::FrozenEncoder* given,
                                  std::unique_ptr<models::FrozenEncoder>& owned) {
  if (given) return *given;
  owned = models::makeFrozenEncoder(cfg.encoder);
  SHIFTAD_CHECK(owned != nullptr, "the frozen encoder is needed but encoder.type is 'none'");
  return *owned;
}

torch::Tensor l2NormalizedIfAsked(const Config& cfg, const torch::Tensor& features) {
  if (!cfg.encoder.l2_normalize || !features.defined()) return features;
  return torch::nn::functional::normalize(features, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

}  // namespace

FeatureSet frozenFeatures(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths,
                          models::FeatureExtractor* trunk, models::FrozenEncoder* encoder) {
  FeatureSet out;
  if (cfg.encoder.type == EncoderType::kBackbone) {
    out = trunk ? trunkFeatures(cache, cfg, *trunk, paths) : trunkFeatures(cache, cfg, paths);
  } else {
    std::unique_ptr<models::FrozenEncoder> owned;
    auto& phi = encoderFor(cfg, encoder, owned);
    out = features(cache, cfg, phi.id(), paths, cfg.encoder.image_size, Interpolation::kBilinear,
                   [&](const torch::Tensor& images) { return phi.encode(images); });
  }
  out.features = l2NormalizedIfAsked(cfg, out.features);
  return out;
}

torch::Tensor frozenFeaturesOf(const Config& cfg, const ImagesAt& images, models::FeatureExtractor* trunk,
                               models::FrozenEncoder* encoder) {
  if (cfg.encoder.type == EncoderType::kBackbone) {
    const auto x = images(resizeSide(cfg.data), cfg.data.interpolation);
    return l2NormalizedIfAsked(cfg, trunk ? trunkFeaturesOf(cfg, *trunk, x) : trunkFeaturesOf(cfg, x));
  }
  std::unique_ptr<models::FrozenEncoder> owned;
  auto& phi = encoderFor(cfg, encoder, owned);
  return l2NormalizedIfAsked(cfg, phi.encode(images(cfg.encoder.image_size, Interpolation::kBilinear)));
}

Inputs trainerInputs(InputCache& cache, const Config& cfg, bool head_only, const std::vector<std::string>& paths,
                     models::FeatureExtractor* trunk) {
  if (head_only) {
    auto f = trunk ? trunkFeatures(cache, cfg, *trunk, paths) : trunkFeatures(cache, cfg, paths);
    return {f.features, f.paths, f.skipped};
  }
  auto b = loadImagesOnce(cache, cfg, paths, resizeSide(cfg.data), cfg.data.interpolation);
  return {b.images, b.paths, b.skipped};
}

}  // namespace shiftad::api
