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

/// The features of `files` under `encoder_id`: a row per file, read from the file's
/// entry DIR/features/<encoder>/<ab>/<key>.f32 where it holds a valid one; `compute` is
/// called once, on the files no entry holds (each once, in the caller's order: a cold
/// cache embeds the batches of an uncached call, bit for bit), and its rows are written
/// to their entries (atomically). One entry per file, so any list of embedded files
/// hits, whatever its order, subset or repeats: a pool split anew, grown by one image or
/// drawn at another contamination embeds only the images never embedded. The key hashes
/// the file's absolute path, size, modification and change time, so an edited image is
/// a miss; <encoder> hashes the encoder id. An entry holds an XXH64 of its row, its
/// encoder id and its key, verified on every read: a damaged entry, or one copied under
/// another's name, is recomputed and rewritten (one warning per call). Entries are not
/// fsync'ed (a lost or torn one is a miss).
torch::Tensor cachedFeatures(const std::string& dir, const std::string& encoder_id,
                             const std::vector<std::string>& files,
                             const std::function<torch::Tensor(const std::vector<std::string>& missing)>& compute);

/// Rows of features for files some of which may be unreadable: `features` has one row
/// per file (zeros where invalid), `valid` (uint8, one per file) marks the real rows.
struct FeatureRows {
  torch::Tensor features;
  torch::Tensor valid;
};

/// cachedFeatures for FeatureRows (the validity mask is cached with the features). An
/// invalid row's entry holds no features: it comes back as zeros of the valid rows'
/// width (of `compute`'s width, 1 for an encoder that never ran, when none is valid).
FeatureRows cachedFeatureRows(const std::string& dir, const std::string& encoder_id,
                              const std::vector<std::string>& files,
                              const std::function<FeatureRows(const std::vector<std::string>& missing)>& compute);

}  // namespace shiftad::io
