// Inputs computed once per image: decoded images, F's pretrained trunk features
// (training the head alone, model.freeze: -1) and the frozen encoder Φ's features.
// Features are cached on disk (io/FeatureCache) and in memory per image in the
// InputCache passed in, so a benchmark that shares one cache between its runs decodes
// and embeds each image once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "api/InputCache.h"
#include "common/Memory.h"
#include "data/ConfigSplit.h"
#include "data/ImageTensors.h"
#include "data/Protocol.h"
#include "shiftad/Config.h"

namespace shiftad::models {
class FeatureExtractor;
class FrozenEncoder;
}  // namespace shiftad::models

namespace shiftad::api {

/// The disk cache folder: encoder.cache_dir, else io::defaultCacheDir().
std::string cacheDir(const Config& cfg);

/// Keep the disk caches of `cfg` within encoder.cache_max_gb (common/CacheTrim.h),
/// saying what was removed; after a fit or an evaluation, which fill them.
void trimDiskCaches(const Config& cfg);

/// Side images are decoded and resized to before the center crop (data.resize, else
/// data.image_size).
inline int resizeSide(const DataConfig& d) { return d.resize > 0 ? d.resize : d.image_size; }

/// F's initial trunk features (model.arch + model.weights, data.* preprocessing, eval
/// mode; random weights: those training draws after seeding with train.seed). Cached
/// under the trunk's content, so a trained run's frozen trunk finds the same entries.
FeatureSet trunkFeatures(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths);

/// The trunk features of `net` (a trained run's F, whose trunk is frozen), at data.*
/// preprocessing: a run directory needs no pretrained file to be scored.
FeatureSet trunkFeatures(InputCache& cache, const Config& cfg, models::FeatureExtractor& net,
                         const std::vector<std::string>& paths);

/// F's initial trunk as training builds it (eval mode): model.arch + model.weights, or
/// random weights drawn after seeding with train.seed (the global generator is restored).
std::shared_ptr<models::FeatureExtractor> initialTrunk(const Config& cfg);

/// The same for uint8 images that have no files (e.g. pseudo-anomalies); not cached.
torch::Tensor trunkFeaturesOf(const Config& cfg, const torch::Tensor& images);

/// Trunk features of uint8 images (N x 3 x S x S, S = resizeSide) by `net`: centre
/// crop, normalise, trunk, in batches (eval mode, no gradient); not cached.
torch::Tensor trunkFeaturesOf(const Config& cfg, models::FeatureExtractor& net, const torch::Tensor& images);

/// Φ's features (encoder.*), L2-normalized when encoder.l2_normalize. encoder.type
/// backbone is F's initial trunk (trunkFeatures), or `trunk` when given (a run's copy);
/// other types are `encoder` when given, else built from encoder.* for this call.
FeatureSet frozenFeatures(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths,
                          models::FeatureExtractor* trunk = nullptr, models::FrozenEncoder* encoder = nullptr);

/// Uint8 images N x 3 x side x side of images that have no files, at a side and filter.
using ImagesAt = std::function<torch::Tensor(int side, Interpolation interpolation)>;

/// frozenFeatures of images that have no files (not cached): `images` gives them at
/// the side and filter each encoder's preprocessing asks for.
torch::Tensor frozenFeaturesOf(const Config& cfg, const ImagesAt& images, models::FeatureExtractor* trunk,
                               models::FrozenEncoder* encoder);

/// data::loadImages at `side` with `interpolation`, data.threads decoding threads and,
/// when data.image_cache, the on-disk image cache (under encoder.cache_dir); every
/// decoded image is remembered in `cache`.
data::ImageBatch loadImagesOnce(InputCache& cache, const Config& cfg, const std::vector<std::string>& paths, int side,
                                Interpolation interpolation);

/// The key of decoded images at `side` with `interpolation` in an InputCache.
std::string imagesKey(int side, Interpolation interpolation);

/// Before a fit decodes its images (its source, then its pool): throws shiftad::Error,
/// with the numbers, when all of them at data.resize cannot be held at once (two copies
/// of each image not in `cache` yet, the cache's and the trainer's batch; one of each
/// held). Checked per set only, a run decoded its whole source (minutes, gigabytes)
/// before its pool was refused.
void checkFitDecodesInMemory(const InputCache& cache, const Config& cfg,
                             const std::vector<std::vector<std::string>>& sets,
                             std::optional<uint64_t> available = availableMemoryBytes());

/// The one-vs-all split of a config's data section (data/ConfigSplit.h).
using data::splitFor;

/// A set of files as the trainer takes it: decoded images, or trunk features (cached)
/// when F's whole trunk is frozen (of `trunk` when given, else F's initial trunk).
/// Unreadable files are left out (and listed).
struct Inputs {
  torch::Tensor rows;
  std::vector<std::string> paths;
  std::vector<std::string> skipped;
};
Inputs trainerInputs(InputCache& cache, const Config& cfg, bool head_only, const std::vector<std::string>& paths,
                     models::FeatureExtractor* trunk = nullptr);

}  // namespace shiftad::api
