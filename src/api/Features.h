// Inputs computed once per image: decoded images, F's pretrained trunk features
// (training the head alone, model.freeze: -1) and the frozen encoder Φ's features.
// Features are cached on disk (io/FeatureCache) and, within a process, in memory per
// image, so a benchmark that trains on many subsets of the same domains decodes and
// embeds each image once.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "data/ImageTensors.h"
#include "data/Protocol.h"
#include "shiftad/Config.h"

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
/// mode). With random weights the key includes train.seed.
FeatureSet trunkFeatures(const Config& cfg, const std::vector<std::string>& paths);

/// The same for uint8 images that have no files (e.g. pseudo-anomalies); not cached.
torch::Tensor trunkFeaturesOf(const Config& cfg, const torch::Tensor& images);

/// Φ's features (encoder.*), L2-normalized when encoder.l2_normalize. encoder.type
/// backbone is F's initial trunk (trunkFeatures).
FeatureSet frozenFeatures(const Config& cfg, const std::vector<std::string>& paths);

/// data::loadImages at `side` with `interpolation`, data.threads decoding threads and,
/// when data.image_cache, the on-disk image cache (under encoder.cache_dir);
/// remembers every decoded image for the rest of the process.
data::ImageBatch loadImagesOnce(const Config& cfg, const std::vector<std::string>& paths, int side,
                                const std::string& interpolation);

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
/// when F's whole trunk is frozen. Unreadable files are left out (and listed).
struct Inputs {
  torch::Tensor rows;
  std::vector<std::string> paths;
  std::vector<std::string> skipped;
};
Inputs trainerInputs(const Config& cfg, bool head_only, const std::vector<std::string>& paths);

}  // namespace shiftad::api
