// The commit point of every atomic write: a file is written under a temporary name,
// then renamed over its final name, so a reader sees the old file or the new one.
// Durable commits (the default) also survive a power loss: the file's data is fsync'ed
// before the rename (else the rename can reach the disk before the data, leaving an
// empty or partial file under the final name) and its folder after (else the rename
// itself can be lost). Caches commit without fsync: a lost or torn entry is a checksum
// failure, that is a miss (docs/reliability.md).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <string>
#include <system_error>

namespace shiftad {

/// Fault injection for the tests of kills at commit points: with
/// SHIFTAD_FAULT_KILL_AT_RENAME=N in the environment, the process kills itself
/// (SIGKILL, as a crash or the OOM killer would) just before its N-th commit.
inline void faultPointBeforeCommit() {
  static const long kill_at = [] {
    const char* v = std::getenv("SHIFTAD_FAULT_KILL_AT_RENAME");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  static long commits = 0;
  if (kill_at > 0 && ++commits == kill_at) ::kill(::getpid(), SIGKILL);
}

/// Test-only counter of successful fsync calls made by syncPath (there is no strace in
/// the tests; they check that a durable commit syncs the file and its folder).
inline std::atomic<long>& fsyncCount() {
  static std::atomic<long> count{0};
  return count;
}

/// fsync a file or a folder by path; `ec` set on failure.
inline void syncPath(const std::filesystem::path& path, std::error_code& ec) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec.assign(errno, std::generic_category());
    return;
  }
  if (::fsync(fd) != 0)
    ec.assign(errno, std::generic_category());
  else
    ++fsyncCount();
  ::close(fd);
}

/// `name` with room for `extra` more bytes within a file name's limit (NAME_MAX, 255
/// bytes): as it is when it fits, else its first bytes and a hash of the whole, so that
/// two long names stay two names.
inline std::string nameWithRoomFor(const std::string& name, size_t extra) {
  constexpr size_t kNameMax = 255, kHashed = 17;  // "-" and 16 hex digits
  if (name.size() + extra <= kNameMax) return name;
  char hash[kHashed + 1];
  std::snprintf(hash, sizeof(hash), "-%016zx", std::hash<std::string>{}(name));
  return name.substr(0, kNameMax - extra - kHashed) + hash;
}

/// The room temporaryPathFor leaves after ".tmp-PID" for a thread's suffix (AtomicFile.h):
/// "." and a size_t in decimal.
inline constexpr size_t kThreadSuffixRoom = 21;

/// The temporary name an atomic write of `path` uses: PATH.tmp-PID, so two processes
/// writing the same file never share (and rename away) each other's temporary file. A
/// file name of 241-255 bytes had no room for the suffix ("File name too long"): it is
/// shortened (nameWithRoomFor), with room for a thread's suffix too (AtomicFile.h).
inline std::string temporaryPathFor(const std::filesystem::path& path) {
  const std::string suffix = ".tmp-" + std::to_string(::getpid());
  const auto name = path.filename().string();
  const auto fitting = nameWithRoomFor(name, suffix.size() + kThreadSuffixRoom);
  if (fitting == name) return path.string() + suffix;
  return (path.parent_path() / (fitting + suffix)).string();
}

enum class Durability { kSynced, kUnsynced };

/// The steps of a commit around `rename(ec)`, which puts `from` at `to`: kSynced fsyncs
/// `from` first and `to`'s folder after, so the new file is on disk when this returns
/// without error.
template <class Rename>
void commitBy(const std::filesystem::path& from, const std::filesystem::path& to, std::error_code& ec,
              Durability durability, Rename&& rename) {
  ec.clear();
  if (durability == Durability::kSynced) {
    syncPath(from, ec);
    if (ec) return;
  }
  faultPointBeforeCommit();
  rename(ec);
  if (ec || durability == Durability::kUnsynced) return;
  const auto folder = to.has_parent_path() ? to.parent_path() : std::filesystem::path(".");
  syncPath(folder, ec);
}

/// Rename `from` over `to` (atomic within one file system); `ec` as std::filesystem.
/// kSynced: fsync `from` first and `to`'s folder after, so the new file is on disk
/// when this returns without error.
inline void commitRename(const std::filesystem::path& from, const std::filesystem::path& to, std::error_code& ec,
                         Durability durability = Durability::kSynced) {
  commitBy(from, to, ec, durability, [&](std::error_code& e) { std::filesystem::rename(from, to, e); });
}

/// Put `from` at `to` unless a file has that name: `ec` is std::errc::file_exists then
/// (`from` stays). The atomic renameat2(RENAME_NOREPLACE) where the file system has it,
/// else a hard link and the removal of `from` (atomic too), else, on a file system
/// without either, a check and a rename.
inline void renameNoReplace(const std::filesystem::path& from, const std::filesystem::path& to, std::error_code& ec) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
    ec.assign(errno, std::generic_category());
    return;
  }
  if (::link(from.c_str(), to.c_str()) == 0) {
    ::unlink(from.c_str());
    return;
  }
  if (errno == EEXIST || (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)) {
    ec.assign(errno, std::generic_category());
    return;
  }
  if (std::filesystem::exists(to, ec) || ec) {
    if (!ec) ec = std::make_error_code(std::errc::file_exists);
    return;
  }
  std::filesystem::rename(from, to, ec);
}

/// commitRename, but never over a file (renameNoReplace).
inline void commitRenameNoReplace(const std::filesystem::path& from, const std::filesystem::path& to,
                                  std::error_code& ec, Durability durability = Durability::kSynced) {
  commitBy(from, to, ec, durability, [&](std::error_code& e) { renameNoReplace(from, to, e); });
}

}  // namespace shiftad
