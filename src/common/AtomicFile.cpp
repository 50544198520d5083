#include "common/AtomicFile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "common/Error.h"
#include "common/Log.h"
#include "common/StaleTemporary.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

std::string temporaryFor(const std::string& path, TemporaryName temporary) {
  if (temporary == TemporaryName::kPerProcess) return temporaryPathFor(path);
  return temporaryPathFor(path) + fmt::format(".{}", std::hash<std::thread::id>{}(std::this_thread::get_id()));
}

/// Run `fill` (which writes `tmp`), then rename `tmp` over `path`; on any error remove
/// `tmp` and rethrow. Once `path` is written, the temporaries earlier writers of it left
/// when killed go (StaleTemporary.h); a cache entry's (kPerThread) are the cache trim's,
/// which walks those folders anyway, not a listing of the folder per entry written.
void commitOrRemove(const std::string& tmp, const std::string& path, Durability durability, TemporaryName temporary,
                    const std::function<void()>& fill) {
  try {
    fill();
    std::error_code ec;
    commitRename(tmp, path, ec, durability);
    SHIFTAD_CHECK(!ec, "cannot rename '{}' over '{}': {}", tmp, path, ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  if (temporary != TemporaryName::kPerProcess) return;
  if (const int n = removeStaleTemporariesOf(path))
    log::info("removed {} temporary file(s) of '{}' that killed writes had left ({}.tmp-PID)", n, path, path);
}

}  // namespace

void keepModeAndGroup(const std::string& from, const std::string& to) {
  struct stat old {};
  if (::stat(from.c_str(), &old) != 0) return;
  // A folder's set-group-id bit is kept (its files take its group); a file's set-id bits are not.
  [[maybe_unused]] const int mode = ::chmod(to.c_str(), old.st_mode & (S_ISDIR(old.st_mode) ? 07777 : 0777));
  [[maybe_unused]] const int group = ::chown(to.c_str(), static_cast<uid_t>(-1), old.st_gid);
}

void writeFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write, Durability durability,
                     TemporaryName temporary) {
  const std::string tmp = temporaryFor(path, temporary);
  commitOrRemove(tmp, path, durability, temporary, [&] {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    // The file the user named first: the temporary is ours.
    SHIFTAD_CHECK(f.is_open(),
                  "cannot write '{}': its temporary '{}' cannot be created: {} (does the folder exist and "
                  "is it writable?)",
                  path, tmp, std::strerror(errno));
    write(f);
    f.flush();
    f.close();
    SHIFTAD_CHECK(!f.fail(), "cannot write '{}': writing its temporary '{}' failed (disk full?)", path, tmp);
    keepModeAndGroup(path, tmp);
  });
}

void writeFileAtomic(const std::string& path, std::string_view bytes, Durability durability) {
  writeFileAtomic(
      path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); },
      durability);
}

void copyFileAtomic(const std::string& from, const std::string& to) {
  const std::string tmp = temporaryPathFor(to);
  commitOrRemove(tmp, to, Durability::kSynced, TemporaryName::kPerProcess, [&] {
    std::error_code ec;
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    SHIFTAD_CHECK(!ec, "cannot copy '{}' to '{}' (through its temporary '{}'): {}", from, to, tmp, ec.message());
  });
}

std::string cacheSpaceShortfall(const std::string& folder, uintmax_t bytes) {
  std::error_code ec;
  const auto space = std::filesystem::space(folder, ec);
  if (ec) return "";
  constexpr uintmax_t reserve = uintmax_t{1} << 30;
  if (space.available >= bytes + reserve) return "";
  return fmt::format("its file system has {:.1f} MB free, and the cache leaves at least {:.0f} MB",
                     static_cast<double>(space.available) / 1e6, static_cast<double>(reserve) / 1e6);
}

}  // namespace shiftad
