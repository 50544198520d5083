#include "io/FeatureCache.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/AtomicFile.h"
#include "common/CacheTrim.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/LogOnce.h"
#include "common/Hash.h"
#include "io/SafeTensors.h"

namespace fs = std::filesystem;

namespace shiftad::io {
namespace {

/// The encoder and, per file, its absolute path, size, mtime and ctime. The ctime is
/// there because the mtime can be set back (`rsync -a`, `cp -p`, tar, `touch -r`): an
/// image re-exported at the same size and mtime kept its stale features. The ctime
/// cannot be set; it also changes on chmod or a move, which only costs a recompute.
std::string cacheKey(const std::string& encoder_id, const std::vector<std::string>& files) {
  std::string text = encoder_id + "\n";
  for (const auto& f : files) {
    struct stat st {};
    const bool known = ::stat(f.c_str(), &st) == 0;
    text += fmt::format("{}\t{}\t{}.{}\t{}.{}\n", fs::absolute(f).string(), known ? st.st_size : -1, st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  }
  // Two differently seeded hashes: 128 bits make an accidental collision negligible.
  return fmt::format("{:016x}{:016x}", fnv1a(text), fnv1a(text, kFnv1aSecondSeed));
}

/// XXH64 of the cached tensors' bytes, stored in the entry's metadata and checked on
/// every read: a byte changed in place (same size, valid header) must be a miss.
std::string payloadChecksum(const torch::Tensor& features, const torch::Tensor& valid) {
  const auto f = features.contiguous();
  const auto v = valid.contiguous();
  const uint64_t h = xxh64(f.data_ptr(), f.nbytes(), xxh64(v.data_ptr(), v.nbytes()));
  return fmt::format("{:016x}", h);
}

}  // namespace

std::string defaultCacheDir() {
  // A relative XDG_CACHE_HOME is invalid and ignored, as the XDG Base Directory spec says.
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x && fs::path(x).is_absolute())
    return (fs::path(x) / "shiftad").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "shiftad").string();
  logOnce(spdlog::level::info,
          "neither XDG_CACHE_HOME nor HOME is set: caching features and decoded images under ./.shiftad-cache (set "
          "encoder.cache_dir to choose the folder)");
  return ".shiftad-cache";
}

torch::Tensor cachedFeatures(const std::string& dir, const std::string& encoder_id,
                             const std::vector<std::string>& files, const std::function<torch::Tensor()>& compute) {
  return cachedFeatureRows(dir, encoder_id, files,
                           [&] {
                             auto f = compute();
                             return FeatureRows{f, torch::ones({f.dim() ? f.size(0) : 0}, torch::kUInt8)};
                           })
      .features;
}

FeatureRows cachedFeatureRows(const std::string& dir_in, const std::string& encoder_id,
                              const std::vector<std::string>& files, const std::function<FeatureRows()>& compute) {
  const std::string dir = dir_in.empty() ? defaultCacheDir() : dir_in;
  const std::string key = cacheKey(encoder_id, files);
  const fs::path path = fs::path(dir) / ("features-" + key + ".safetensors");
  if (fs::exists(path)) {
    try {
      auto file = readSafeTensors(path.string());
      const auto it = file.tensors.find("features");
      const auto valid = file.tensors.find("valid");
      const auto n = static_cast<int64_t>(files.size());
      if (it != file.tensors.end() && it->second.dim() == 2 && it->second.size(0) == n && valid != file.tensors.end() &&
          valid->second.dim() == 1 && valid->second.size(0) == n && file.metadata["encoder"] == encoder_id &&
          file.metadata["key"] == key && file.metadata["checksum"] == payloadChecksum(it->second, valid->second)) {
        log::info("features of {} images read from the cache {}", files.size(), path.string());
        touchCacheEntry(path.string());  // used: trimCache removes the least recently used first
        return {it->second, valid->second.to(torch::kUInt8)};
      }
      log::warn(
          "feature cache entry {} is damaged or outdated (shape, encoder, key or checksum wrong); recomputing "
          "and rewriting it",
          path.string());
    } catch (const std::exception& e) {
      log::warn("feature cache entry {} is unreadable ({}); recomputing", path.string(), e.what());
    }
  }
  auto rows = compute();
  const auto& features = rows.features;
  SHIFTAD_CHECK(features.dim() == 2 && features.size(0) == static_cast<int64_t>(files.size()) &&
                    rows.valid.numel() == features.size(0),
                "the encoder returned {} rows for {} images", features.dim() ? features.size(0) : 0, files.size());
  std::error_code ec;
  fs::create_directories(dir, ec);
  try {
    const auto valid = rows.valid.to(torch::kUInt8).contiguous();
    // As the image cache: never the last 1 GiB, which the run needs for its checkpoints.
    const auto why = cacheSpaceShortfall(dir, features.nbytes() + valid.nbytes());
    SHIFTAD_CHECK(why.empty(), "{}", why);
    // Not fsync'ed: an entry lost or torn by a power loss fails its checksum, a miss.
    writeSafeTensors(path.string(), {{"features", features.contiguous()}, {"valid", valid}},
                     {{"encoder", encoder_id},
                      {"key", key},  // an entry copied under another entry's name is then a miss
                      {"images", std::to_string(files.size())},
                      {"checksum", payloadChecksum(features, valid)}},
                     Durability::kUnsynced);
  } catch (const std::exception& e) {
    // A cache that cannot be written costs time, never the run.
    log::warn("cannot write the feature cache {}: {}", path.string(), e.what());
  }
  return rows;
}

}  // namespace shiftad::io
