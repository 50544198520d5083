// What a process computes once per image and may reuse: decoded images (per side and
// resize filter) and features (per encoder and preprocessing), kept in memory per
// file, plus where the time of getting them went. One object, passed to whatever
// decodes or embeds (api/Features.h); a Detector owns one, and a benchmark shares one
// between all its runs so that each image is decoded and embedded once per process.
// The disk caches (io/FeatureCache, data/ImageCache) are separate and shared between
// processes.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/types.h>

#include "io/FeatureCache.h"
#include "method/PrincipalBasis.h"
#include "shiftad/Detector.h"
#include "shiftad/Error.h"

namespace shiftad::api {

/// Thrown between two chunks of an embedding when the cache's stop flag is set: a
/// bench preparing whole domains, or a fit embedding its source and pool, stops within
/// a chunk, not after every image. A Stopped: a fit ends with it, nothing trained.
class EmbeddingStopped : public Stopped {
 public:
  using Stopped::Stopped;
};

/// Features of image files: rows in the order of `paths`, unreadable files left out.
struct FeatureSet {
  torch::Tensor features;            ///< N x D float
  std::vector<std::string> paths;    ///< the rows' files
  std::vector<std::string> skipped;  ///< unreadable files
};

/// Rows per key (an encoder id, or an image side and filter), per file; thread-safe.
/// Also the PCA head's principal bases (model.head_init: pca), memoised by content: a
/// benchmark trains several variants on the same source and pool.
class InputCache {
 public:
  /// The rows of `paths` under `key` if every one is held (unreadable files, held as
  /// such, go to out.skipped).
  bool recall(const std::string& key, const std::vector<std::string>& paths, FeatureSet& out) const;

  /// Hold row i of `rows` for paths[i] under `key` (an invalid row: the file is unreadable).
  void remember(const std::string& key, const std::vector<std::string>& paths, const io::FeatureRows& rows);

  /// The paths of `paths` not held under `key`, in order.
  std::vector<std::string> missing(const std::string& key, const std::vector<std::string>& paths) const;

  /// Drop every row of these files, under every key.
  void forget(const std::vector<std::string>& paths);

  /// Drop the rows of these files under `key` only (e.g. decoded pixels, once embedded).
  void forget(const std::string& key, const std::vector<std::string>& paths);

  /// Drop every row (the time statistics and the trunk fingerprints stay).
  void clear();

  void addStats(const std::function<void(InputStats&)>& add);
  InputStats stats() const;

  /// The content fingerprint of an initial trunk, by what determines it (building a
  /// pretrained trunk reads its weights file); nullopt when not known yet.
  std::optional<std::string> trunkFingerprint(const std::string& key) const;
  void setTrunkFingerprint(const std::string& key, const std::string& fingerprint);

  method::PrincipalBasisCache& principalBases() { return principal_bases_; }

  /// Whether inputs also go through the disk caches (the image cache when
  /// data.image_cache, the feature cache in encoder.cache_dir), read and written: true
  /// by default; a detector loaded to score turns it off on its own cache
  /// (LoadOptions::disk_caches), since new images would fill them without end.
  void setDiskCaches(bool on) { disk_caches_ = on; }
  bool diskCaches() const { return disk_caches_; }

  /// How many images are decoded, embedded and let go at a time when features are
  /// computed (api::trunkFeatures, frozenFeatures): the pixels held at once. Rounded up
  /// to whole inference batches, so the features are those of embedding all at once.
  void setEmbedChunk(size_t images) { embed_chunk_ = images; }
  size_t embedChunk() const { return embed_chunk_; }

  /// While not null, computing features checks `flag` before each chunk and throws
  /// EmbeddingStopped once it is set (the rows of the chunks done stay in memory).
  void setStopFlag(const std::atomic<bool>* flag) { stop_flag_ = flag; }
  bool stopping() const {
    const auto* flag = stop_flag_.load();
    return flag != nullptr && flag->load();
  }

 private:
  std::atomic<const std::atomic<bool>*> stop_flag_{nullptr};
  std::atomic<bool> disk_caches_{true};
  std::atomic<size_t> embed_chunk_{4096};
  mutable std::mutex rows_mutex_;
  std::map<std::string, std::unordered_map<std::string, torch::Tensor>> rows_;
  mutable std::mutex stats_mutex_;
  InputStats stats_;
  mutable std::mutex fingerprints_mutex_;
  std::map<std::string, std::string> trunk_fingerprints_;
  method::PrincipalBasisCache principal_bases_;
};

/// For its scope, `inputs` embeds kChunk images at a time and stops between two chunks
/// (EmbeddingStopped) on a stop request (stopRequested(): SIGINT, SIGTERM): seconds of a
/// MobileNetV2 on one core, not minutes of a whole domain (the features are the same at
/// any chunk: whole batches). What the scope ends with is the cache's own chunk and flag.
class StoppableEmbedding {
 public:
  static constexpr size_t kChunk = 256;
  explicit StoppableEmbedding(InputCache& inputs);
  ~StoppableEmbedding();
  StoppableEmbedding(const StoppableEmbedding&) = delete;
  StoppableEmbedding& operator=(const StoppableEmbedding&) = delete;

 private:
  InputCache& inputs_;
  size_t chunk_;
};

}  // namespace shiftad::api
