// On-disk cache of frozen-encoder features, so repeated runs on the same images with
// the same encoder do not recompute them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace shiftad::io {

/// $XDG_CACHE_HOME/shiftad, else $HOME/.cache/shiftad, else ./.shiftad-cache.
std::string defaultCacheDir();

/// The features of `files` under `encoder_id`: read from DIR/features-<key>.safetensors
/// when present and valid, else `compute()`d and written there (atomically). The key
/// hashes the encoder id and every file's absolute path, size and modification time,
/// so an edited image or encoder invalidates the entry. The entry holds an XXH64 of
/// its tensors' bytes (metadata "checksum"), verified on every read: a damaged entry is
/// recomputed and rewritten with a warning. Entries are not fsync'ed (a lost or torn
/// one is a miss). `compute` must return one row per file, in order.
torch::Tensor cachedFeatures(const std::string& dir, const std::string& encoder_id,
                             const std::vector<std::string>& files, const std::function<torch::Tensor()>& compute);

/// Rows of features for files some of which may be unreadable: `features` has one row
/// per file (zeros where invalid), `valid` (uint8, one per file) marks the real rows.
struct FeatureRows {
  torch::Tensor features;
  torch::Tensor valid;
};

/// cachedFeatures for FeatureRows (the validity mask is cached with the features).
FeatureRows cachedFeatureRows(const std::string& dir, const std::string& encoder_id,
                              const std::vector<std::string>& files, const std::function<FeatureRows()>& compute);

}  // namespace shiftad::io
