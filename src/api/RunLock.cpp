#include "api/RunLock.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "common/Error.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

/// Create `path` only if it does not exist, holding our pid. False if it exists.
bool createExclusive(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    SHIFTAD_CHECK(errno == EEXIST, "cannot create the lock file '{}': {}", path, std::strerror(errno));
    return false;
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  const bool ok = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  ::close(fd);
  SHIFTAD_CHECK(ok, "cannot write the lock file '{}' (disk full?)", path);
  return true;
}

/// The pid in a lock file; 0 if it holds none (e.g. its writer died between create and write).
long lockOwner(const std::string& path) {
  std::ifstream f(path);
  long pid = 0;
  f >> pid;
  return f ? pid : 0;
}

bool alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

}  // namespace

RunLock::RunLock(const std::string& run_dir) : path_((fs::path(run_dir) / kLockFile).string()) {
  fs::create_directories(run_dir);
  // Two attempts: the second after removing a stale lock (if another process takes it
  // over in between, its lock is live and we fail).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (createExclusive(path_)) return;
    const long owner = lockOwner(path_);
    SHIFTAD_CHECK(!alive(owner),
                  "run directory '{}' is in use by process {} (lock file '{}'); wait for it to finish, stop it, or "
                  "write to another directory",
                  run_dir, owner, path_);
    spdlog::warn("run directory '{}': taking over the stale lock of process {}, which is gone", run_dir, owner);
    std::error_code ec;
    fs::remove(path_, ec);
  }
  SHIFTAD_THROW("run directory '{}': could not take the lock '{}' (another process keeps taking it)", run_dir, path_);
}

RunLock::~RunLock() {
  std::error_code ec;
  fs::remove(path_, ec);
}

}  // namespace shiftad::api
