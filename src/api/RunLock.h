// A lock file that keeps two processes from writing the same run directory.
#pragma once

#include <string>

namespace shiftad::api {

constexpr const char* kLockFile = "lock";

/// Holds RUN_DIR/lock (created exclusively, holding this process' pid) while alive.
/// A lock whose process is gone (kill(pid, 0) fails with ESRCH: it was killed or
/// crashed) is stale and taken over with a warning; a live one is an Error naming the
/// directory and the pid.
class RunLock {
 public:
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string path_;
};

}  // namespace shiftad::api
