// Inputs computed once per image: decoded images, F's pretrained trunk features
// (training the head alone, model.freeze: -1) and the frozen encoder Φ's features.
// Features are cached on disk (io/FeatureCache) and, within a process, in memory per
// image, so a benchmark that trains on many subsets of the same domains decodes and
// embeds each image once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/ImageTensors.h"
#include "data/Protocol.h"
#include "shiftad/Config.h"

namespace shiftad::models {
class FeatureExtractor;
}

namespace shiftad::api {

/// Side images are decoded and resized to before the center crop (data.resize, else
/// data.image_size).
inline int resizeSide(const DataConfig& d) { return d.resize > 0 ? d.resize : d.image_size; }

/// Features of image files: rows in the order of `paths`, unreadable files left out.
struct FeatureSet {
  torch::Tensor features;            ///< N x D float
  std::vector<std::string> paths;    ///< the rows' files
  std::vector<std::string> skipped;  ///< unreadable files
};

/// F's initial trunk features (model.arch + model.weights, data.* preprocessing, eval
/// mode; random weights: those training draws after seeding with train.seed). Cached
/// under the trunk's content, so a trained run's frozen trunk finds the same entries.
FeatureSet trunkFeatures(const Config& cfg, const std::vector<std::string>& paths);

/// The trunk features of `net` (a trained run's F, whose trunk is frozen), at data.*
/// preprocessing: a run directory needs no pretrained file to be scored.
FeatureSet trunkFeatures(const Config& cfg, models::FeatureExtractor& net, const std::vector<std::string>& paths);

/// F's initial trunk as training builds it (eval mode): model.arch + model.weights, or
/// random weights drawn after seeding with train.seed (the global generator is restored).
std::shared_ptr<models::FeatureExtractor> initialTrunk(const Config& cfg);

/// The same for uint8 images that have no files (e.g. pseudo-anomalies); not cached.
torch::Tensor trunkFeaturesOf(const Config& cfg, const torch::Tensor& images);

/// Φ's features (encoder.*), L2-normalized when encoder.l2_normalize. encoder.type
/// backbone is F's initial trunk (trunkFeatures), or `trunk` when given (a run's copy).
FeatureSet frozenFeatures(const Config& cfg, const std::vector<std::string>& paths,
                          models::FeatureExtractor* trunk = nullptr);

/// data::loadImages at `side` with `interpolation`, data.threads decoding threads and,
/// when data.image_cache, the on-disk image cache (under encoder.cache_dir);
/// remembers every decoded image for the rest of the process.
data::ImageBatch loadImagesOnce(const Config& cfg, const std::vector<std::string>& paths, int side,
                                Interpolation interpolation);

/// Forget the in-memory images and features (the disk cache stays).
void clearInputMemory();

/// Where this process's input time went, since it started: decoding images (or reading
/// them from the image cache), embedding them (F's trunk, Φ), and everything else of
/// getting features (reading and writing the feature cache, assembling rows).
struct InputStats {
  int64_t decoded_images = 0;
  double decode_seconds = 0.0;
  int64_t embedded_images = 0;
  double embed_seconds = 0.0;
  double feature_seconds = 0.0;  ///< all of trunkFeatures/frozenFeatures, embedding and decoding included
};
InputStats inputStats();

/// The one-vs-all split of a config's data section (data.root, source, target,
/// normal_class, pool_fraction, contamination, split_seed); clear errors when unset.
data::ProtocolSplit splitFor(const DataConfig& d);

/// A set of files as the trainer takes it: decoded images, or trunk features (cached)
/// when F's whole trunk is frozen (of `trunk` when given, else F's initial trunk).
/// Unreadable files are left out (and listed).
struct Inputs {
  torch::Tensor rows;
  std::vector<std::string> paths;
  std::vector<std::string> skipped;
};
Inputs trainerInputs(const Config& cfg, bool head_only, const std::vector<std::string>& paths,
                     models::FeatureExtractor* trunk = nullptr);

}  // namespace shiftad::api
