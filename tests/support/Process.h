// Child processes for fault-injection tests: start the `shiftad` CLI, signal it, wait.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace shiftad::test {

/// Start `BINARY_DIR/shiftad ARGS...` with stdout and stderr going to `log`; returns its pid.
pid_t spawnCli(const std::vector<std::string>& args, const std::string& log);

/// Wait for `pid`: its exit status, or -SIGNAL when a signal ended it.
int waitExit(pid_t pid);

/// True once `pid` has ended (then `status` holds what waitExit would return).
bool exited(pid_t pid, int& status);

/// The pid of a process that has exited and been reaped (for stale-lock tests).
pid_t deadPid();

/// The whole text of a file ("" if missing).
std::string readText(const std::string& path);

}  // namespace shiftad::test
