// A lock file that keeps two processes from writing the same run directory.
#pragma once

#include <string>

namespace shiftad::api {

constexpr const char* kLockFile = "lock";

/// Holds RUN_DIR/lock (linked into place whole, so never seen empty) while alive. The lock names its process:
/// pid, start time (/proc/PID/stat field 22), host name, PID namespace and boot id. It is
/// stale, and taken over with a warning, when it was written before this boot, or that
/// pid is gone (kill(pid, 0) fails with ESRCH: killed or crashed) or now names another
/// process (same pid, other start time: the pid was reused). A live lock, or one of
/// another host (a shared file system) or another PID namespace (another container):
/// its pid cannot be checked from here, is an Error naming the directory and the pid.
/// Locks of older versions hold the pid only: live while that pid is. `what` names the
/// folder in messages ("run directory", "bench folder").
class RunLock {
 public:
  explicit RunLock(const std::string& run_dir, const std::string& what = "run directory");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string path_;
};

/// The process whose live lock RUN_DIR holds ("process PID", "process PID on host
/// 'HOST'"): a training still writing it; "" when none (no lock, or a stale one).
std::string trainingProcess(const std::string& run_dir);

}  // namespace shiftad::api
