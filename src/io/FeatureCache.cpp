#include "io/FeatureCache.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/AtomicFile.h"
#include "common/CacheTrim.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/LogOnce.h"
#include "common/Hash.h"
#include "common/MappedFile.h"

namespace fs = std::filesystem;

namespace shiftad::io {
namespace {

// An entry: magic (8), format version (1), valid (1), reserved (2), width in floats
// (4), XXH64 of the row, the encoder id and the key (8); then `width` float32 (none for
// an invalid row). Little-endian. Version 2: rows only of images libjpeg read without
// damage (data/JpegDecode.h); version 1 held features of damaged JPEGs as valid rows.
// Entries of other versions are misses, rewritten quietly.
constexpr char kMagic[8] = {'S', 'H', 'I', 'F', 'T', 'F', '3', '2'};
constexpr uint8_t kVersion = 2;
constexpr size_t kHeaderBytes = 24;

/// A file's identity: its absolute path, size, mtime and ctime. The ctime is there
/// because the mtime can be set back (`rsync -a`, `cp -p`, tar, `touch -r`): an image
/// re-exported at the same size and mtime kept its stale features. The ctime cannot be
/// set; it also changes on chmod or a move, which only costs a recompute.
std::string identityOf(const std::string& file) {
  struct stat st {};
  const bool known = ::stat(file.c_str(), &st) == 0;
  return fmt::format("{}\t{}\t{}.{}\t{}.{}", fs::absolute(file).string(), known ? st.st_size : -1, st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/// The files' distinct identities in the order they first appear, each one's entry
/// key, the file that names it, and each file's place among them.
struct Distinct {
  std::vector<std::string> keys;
  std::vector<size_t> first_file;
  std::vector<int64_t> of_file;
};

Distinct distinctOf(const std::vector<std::string>& files) {
  Distinct d;
  std::unordered_map<std::string, int64_t> seen;
  d.of_file.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const auto id = identityOf(files[i]);
    const auto [it, added] = seen.emplace(id, static_cast<int64_t>(d.keys.size()));
    if (added) {
      // Two differently seeded hashes: 128 bits make an accidental collision negligible.
      d.keys.push_back(fmt::format("{:016x}{:016x}", fnv1a(id), fnv1a(id, kFnv1aSecondSeed)));
      d.first_file.push_back(i);
    }
    d.of_file.push_back(it->second);
  }
  return d;
}

/// The checksum of an entry: its row's bytes, its encoder and its key, so that bytes
/// changed in place and a valid entry copied under another name are both damage.
uint64_t checksumOf(const std::string& encoder_id, const std::string& key, const float* row, size_t width) {
  return xxh64(row, width * sizeof(float), xxh64(key.data(), key.size(), xxh64(encoder_id.data(), encoder_id.size())));
}

std::array<unsigned char, kHeaderBytes> header(bool valid, uint32_t width, uint64_t checksum) {
  std::array<unsigned char, kHeaderBytes> h{};
  std::memcpy(h.data(), kMagic, sizeof(kMagic));
  h[8] = kVersion;
  h[9] = valid ? 1 : 0;
  for (int i = 0; i < 4; ++i) h[12 + i] = static_cast<unsigned char>(width >> (8 * i));
  for (int i = 0; i < 8; ++i) h[16 + i] = static_cast<unsigned char>(checksum >> (8 * i));
  return h;
}

/// Where an encoder's entries are: DIR/features/<hash of its id>/<ab>/<key>.f32.
class EntryFolder {
 public:
  EntryFolder(const fs::path& dir, const std::string& encoder_id)
      : encoder_id_(encoder_id), folder_(dir / "features" / fmt::format("{:016x}", fnv1a(encoder_id))) {}

  fs::path pathOf(const std::string& key) const { return folder_ / key.substr(0, 2) / (key + ".f32"); }
  const fs::path& folder() const { return folder_; }

  /// The entry's row into `row` (resized to its width; empty for an invalid row).
  /// False on a miss; `damaged` counts entries that were there but wrong.
  bool read(const std::string& key, std::vector<float>& row, bool& valid, size_t& damaged) const {
    const auto path = pathOf(key).string();
    const MappedFile m(path);
    if (!m.exists()) return false;
    const unsigned char* h = m.data();
    if (m.size() >= kHeaderBytes && std::memcmp(h, kMagic, sizeof(kMagic)) == 0 && h[8] == kVersion) {
      uint32_t width = 0;
      for (int i = 0; i < 4; ++i) width |= static_cast<uint32_t>(h[12 + i]) << (8 * i);
      valid = h[9] == 1;
      // A valid row has features, an invalid one none.
      if (m.size() == kHeaderBytes + width * sizeof(float) && (valid ? width > 0 : width == 0)) {
        row.resize(width);
        // An invalid row's empty vector may have no buffer: never a null pointer to memcpy or the hash.
        static const float kNoRow = 0.0f;
        const float* copy = row.empty() ? &kNoRow : row.data();
        if (!row.empty()) std::memcpy(row.data(), h + kHeaderBytes, row.size() * sizeof(float));
        // What is hashed is the copy, so what passes is what is returned.
        const auto expected = header(valid, width, checksumOf(encoder_id_, key, copy, row.size()));
        if (std::memcmp(h, expected.data(), kHeaderBytes) == 0) {
          touchCacheEntry(path);  // used: trimCache removes the least recently used first
          return true;
        }
      }
    }
    // An entry of another format version (written by another shiftad) is a miss, not damage.
    const bool other_version = m.size() >= 9 && std::memcmp(h, kMagic, sizeof(kMagic)) == 0 && h[8] != kVersion;
    if (!other_version) ++damaged;
    return false;
  }

  /// Writes the entry (atomically, per thread; not fsync'ed: after a power loss an entry
  /// is there, missing or fails its checksum). Throws shiftad::Error.
  void write(const std::string& key, const float* row, uint32_t width, bool valid) const {
    const auto path = pathOf(key);
    if (created_.insert(path.parent_path().string()).second) fs::create_directories(path.parent_path());
    const uint32_t stored = valid ? width : 0;
    const auto h = header(valid, stored, checksumOf(encoder_id_, key, row, stored));
    writeFileAtomic(
        path,
        [&](std::ostream& out) {
          out.write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size()));
          out.write(reinterpret_cast<const char*>(row), static_cast<std::streamsize>(stored * sizeof(float)));
        },
        Durability::kUnsynced, TemporaryName::kPerThread);
  }

 private:
  std::string encoder_id_;
  fs::path folder_;
  mutable std::set<std::string> created_;
};

/// The rows being put together, one per distinct file: allocated at the width of the
/// first valid row met, so an invalid row (no features) never decides it.
class RowTable {
 public:
  explicit RowTable(int64_t n) : n_(n), valid_(torch::zeros({n}, torch::kUInt8)) {}

  void set(int64_t u, const std::vector<float>& row) {
    allocate(static_cast<int64_t>(row.size()));
    SHIFTAD_CHECK(features_.size(1) == static_cast<int64_t>(row.size()), "{}", widthClash(row.size()));
    std::memcpy(features_[u].data_ptr<float>(), row.data(), row.size() * sizeof(float));
    valid_[u] = 1;
  }

  /// `rows` (one per `at`, in order) from `compute`: adopted whole when they are every
  /// row in order (a cold cache: no copy), else copied in.
  void setComputed(const std::vector<int64_t>& at, const torch::Tensor& features, const torch::Tensor& valid) {
    const bool any_valid = valid.any().item<bool>();
    if (!features_.defined() && static_cast<int64_t>(at.size()) == n_) {
      features_ = features;
      valid_ = valid;
      return;
    }
    if (!any_valid) return;  // zeros of whatever width: nothing to copy
    allocate(features.size(1));
    SHIFTAD_CHECK(features_.size(1) == features.size(1), "{}", widthClash(features.size(1)));
    const auto index = torch::tensor(at, torch::kLong);
    features_.index_copy_(0, index, features);  // an invalid row is zeros (FeatureRows)
    valid_.index_copy_(0, index, valid);
  }

  /// The rows in the caller's order of files (no copy when that is the table's order).
  FeatureRows result(const std::vector<int64_t>& of_file, int64_t fallback_width) {
    allocate(fallback_width);
    bool in_order = static_cast<int64_t>(of_file.size()) == n_;
    for (size_t i = 0; in_order && i < of_file.size(); ++i) in_order = of_file[i] == static_cast<int64_t>(i);
    if (in_order) return {features_, valid_};
    const auto index = torch::tensor(of_file, torch::kLong);
    return {features_.index_select(0, index), valid_.index_select(0, index)};
  }

 private:
  void allocate(int64_t width) {
    if (!features_.defined()) features_ = torch::zeros({n_, std::max<int64_t>(width, 1)}, torch::kFloat);
  }
  std::string widthClash(size_t width) const {
    return fmt::format(
        "feature cache entries of one encoder hold rows {} and {} wide: delete the cache's features/ folder",
        features_.size(1), width);
  }

  int64_t n_;
  torch::Tensor features_, valid_;
};

/// `compute`'s rows of the missing distinct files, put in `table` and written to their
/// entries. A cache that cannot be written costs time, never the run: one warning,
/// and no further writes.
int64_t computeMissing(const EntryFolder& entries, const Distinct& d, const std::vector<std::string>& files,
                       const std::vector<int64_t>& missing,
                       const std::function<FeatureRows(const std::vector<std::string>&)>& compute, RowTable& table) {
  std::vector<std::string> paths;
  paths.reserve(missing.size());
  for (const auto u : missing) paths.push_back(files[d.first_file[static_cast<size_t>(u)]]);
  auto rows = compute(paths);
  SHIFTAD_CHECK(rows.features.dim() == 2 && rows.features.size(0) == static_cast<int64_t>(paths.size()) &&
                    rows.valid.numel() == rows.features.size(0),
                "the encoder returned {} rows for {} images", rows.features.dim() ? rows.features.size(0) : 0,
                paths.size());
  const auto features = rows.features.to(torch::kFloat).contiguous();
  const auto valid = rows.valid.to(torch::kUInt8).contiguous();
  rows = {};
  const auto width = static_cast<uint32_t>(features.size(1));
  try {
    fs::create_directories(entries.folder());
    // As the image cache: never the last 1 GiB, which the run needs for its checkpoints.
    const auto why = cacheSpaceShortfall(entries.folder().string(),
                                         static_cast<uintmax_t>(paths.size()) * (kHeaderBytes + width * sizeof(float)));
    SHIFTAD_CHECK(why.empty(), "{}", why);
    const float* row = features.data_ptr<float>();
    const uint8_t* is_valid = valid.data_ptr<uint8_t>();
    for (size_t i = 0; i < missing.size(); ++i, row += width)
      entries.write(d.keys[static_cast<size_t>(missing[i])], row, width, is_valid[i] != 0);
  } catch (const std::exception& e) {
    log::warn("cannot write the feature cache under {}: {}", entries.folder().string(), e.what());
  }
  table.setComputed(missing, features, valid);
  return width;
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
                             const std::vector<std::string>& files,
                             const std::function<torch::Tensor(const std::vector<std::string>&)>& compute) {
  return cachedFeatureRows(dir, encoder_id, files,
                           [&](const std::vector<std::string>& missing) {
                             auto f = compute(missing);
                             return FeatureRows{f, torch::ones({f.dim() ? f.size(0) : 0}, torch::kUInt8)};
                           })
      .features;
}

FeatureRows cachedFeatureRows(const std::string& dir_in, const std::string& encoder_id,
                              const std::vector<std::string>& files,
                              const std::function<FeatureRows(const std::vector<std::string>&)>& compute) {
  if (files.empty()) return compute(files);
  const fs::path dir = dir_in.empty() ? defaultCacheDir() : dir_in;
  const EntryFolder entries(dir, encoder_id);
  const auto d = distinctOf(files);
  const auto n = static_cast<int64_t>(d.keys.size());
  RowTable table(n);
  std::vector<int64_t> missing;
  std::vector<float> row;
  size_t damaged = 0;
  for (int64_t u = 0; u < n; ++u) {
    bool valid = false;
    if (!entries.read(d.keys[static_cast<size_t>(u)], row, valid, damaged))
      missing.push_back(u);
    else if (valid)
      table.set(u, row);
  }
  if (missing.size() < d.keys.size())
    log::info("features of {} of {} images read from the cache {}", d.keys.size() - missing.size(), d.keys.size(),
              entries.folder().string());
  if (damaged > 0)
    log::warn(
        "feature cache: {} damaged entr{} under {} (checksum, size or header wrong) ignored; recomputing and "
        "rewriting {}",
        damaged, damaged == 1 ? "y" : "ies", entries.folder().string(), damaged == 1 ? "it" : "them");
  const int64_t width = missing.empty() ? 1 : computeMissing(entries, d, files, missing, compute, table);
  return table.result(d.of_file, width);
}

}  // namespace shiftad::io
