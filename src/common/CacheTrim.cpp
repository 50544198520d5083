#include "common/CacheTrim.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <filesystem>
#include <string_view>
#include <vector>

#include "common/StaleTemporary.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

struct Entry {
  fs::path path;
  uintmax_t bytes = 0;
  fs::file_time_type used;
};

bool endsWith(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

/// Whether `name` is an entry's temporary (NAME.tmp-PID.THREAD) that a killed writer
/// left: removed on the spot, never counted as an entry.
bool removedStaleTemporary(const fs::directory_entry& e, const std::string& name, uintmax_t& removed) {
  long pid = 0;
  if (!isTemporaryName(name, "", pid)) return false;
  const auto target = name.substr(0, name.rfind(".tmp-"));
  const bool ours = (target.rfind("features-", 0) == 0 && endsWith(target, ".safetensors")) ||
                    endsWith(target, ".u8") || endsWith(target, ".f32");
  std::error_code ec;
  if (ours && isStaleTemporary(e.path(), pid) && fs::remove(e.path(), ec)) ++removed;
  return true;
}

void add(std::vector<Entry>& out, const fs::directory_entry& e) {
  std::error_code ec;
  if (!e.is_regular_file(ec)) return;  // never a link, a folder or a FIFO: only our files
  const auto bytes = e.file_size(ec);
  if (ec) return;
  const auto used = e.last_write_time(ec);
  if (!ec) out.push_back({e.path(), bytes, used});
}

/// The entries FOLDER/*/*/*EXTENSION (a folder per transform or encoder, then per
/// first two letters of the key), and their stale temporaries, removed.
void shardedEntries(const fs::path& folder, const std::string& extension, std::vector<Entry>& out, uintmax_t& stale) {
  std::error_code ec;
  for (fs::directory_iterator kind(folder, ec), end; !ec && kind != end; kind.increment(ec)) {
    std::error_code sub;
    for (fs::directory_iterator shard(kind->path(), sub); !sub && shard != end; shard.increment(sub)) {
      std::error_code files;
      for (fs::directory_iterator f(shard->path(), files); !files && f != end; f.increment(files)) {
        const auto name = f->path().filename().string();
        if (!removedStaleTemporary(*f, name, stale) && endsWith(name, extension)) add(out, *f);
      }
    }
  }
}

/// The cache's entries: root/images/*/*/*.u8, root/features/*/*/*.f32 and the single
/// files of earlier versions' feature sets, root/features-*.safetensors. Their stale
/// temporaries on the way are removed and counted in `stale`.
std::vector<Entry> entries(const fs::path& root, uintmax_t& stale) {
  std::vector<Entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (removedStaleTemporary(*it, name, stale)) continue;
    if (name.rfind("features-", 0) == 0 && endsWith(name, ".safetensors")) add(out, *it);
  }
  shardedEntries(root / "images", ".u8", out, stale);
  shardedEntries(root / "features", ".f32", out, stale);
  return out;
}

}  // namespace

bool isCacheFolder(const std::string& dir) {
  const auto anyChild = [&](const char* sub, const std::function<bool(const std::string&)>& named) {
    std::error_code ec;
    for (fs::directory_iterator it(fs::path(dir) / sub, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && named(it->path().filename().string())) return true;
    return false;
  };
  const auto all = [](std::string_view n, int (*is)(int)) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [is](unsigned char c) { return is(c) != 0; });
  };
  const auto sideAndTransform = [&](const std::string& n) {  // "224-bilinear"
    const auto dash = n.find('-');
    return dash != std::string::npos && all(std::string_view(n).substr(0, dash), std::isdigit) &&
           all(std::string_view(n).substr(dash + 1), std::islower);
  };
  const auto encoderHash = [&](const std::string& n) {  // fnv1a of the encoder id, "{:016x}"
    return n.size() == 16 && all(n, std::isxdigit);
  };
  return anyChild("images", sideAndTransform) || anyChild("features", encoderHash);
}

CacheTrim trimCache(const std::string& root, uintmax_t max_bytes) {
  CacheTrim r;
  auto all = entries(root, r.stale_temporaries);
  for (const auto& e : all) r.kept_bytes += e.bytes;
  if (max_bytes == 0 || r.kept_bytes <= max_bytes) return r;
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  const uintmax_t target = max_bytes / 10 * 9;
  for (const auto& e : all) {
    if (r.kept_bytes <= target) break;
    std::error_code ec;
    if (!fs::remove(e.path, ec)) continue;
    ++r.entries;
    r.bytes += e.bytes;
    r.kept_bytes -= e.bytes;
  }
  return r;
}

void touchCacheEntry(const std::string& path) {
  [[maybe_unused]] const int ignored = ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

}  // namespace shiftad
