// The commit point of every atomic write: a file is written under a temporary name,
// then renamed over its final name, so a reader sees the old file or the new one.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
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

/// Rename `from` over `to` (atomic within one file system); `ec` as std::filesystem.
inline void commitRename(const std::filesystem::path& from, const std::filesystem::path& to, std::error_code& ec) {
  faultPointBeforeCommit();
  std::filesystem::rename(from, to, ec);
}

}  // namespace shiftad
