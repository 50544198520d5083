// Child processes for fault-injection tests: start the `shiftad` CLI, signal it, wait.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace shiftad::test {

/// Start `BINARY_DIR/shiftad ARGS...` with stdout and stderr going to `log`, in folder
/// `cwd` ("": here); returns its pid.
pid_t spawnCli(const std::vector<std::string>& args, const std::string& log, const std::string& cwd = "");

/// What a finished `shiftad` run printed and returned.
struct CliRun {
  int exit = 0;     ///< exit status, or -SIGNAL
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Run `BINARY_DIR/shiftad ARGS...` to its end, stdout and stderr captured apart (in
/// files under `dir`). With `unprivileged`, a root caller runs it as user nobody, so
/// that file permissions apply as they do to users.
CliRun runCli(const std::vector<std::string>& args, const std::string& dir, bool unprivileged = false);

/// A `shiftad` process talked to through pipes, as a program that keeps one running
/// does: lines written to its stdin, lines read from its stdout; stderr to a file.
class CliPipe {
 public:
  CliPipe(const std::vector<std::string>& args, const std::string& err_log);
  ~CliPipe();  ///< closes its stdin and waits for it
  CliPipe(const CliPipe&) = delete;
  CliPipe& operator=(const CliPipe&) = delete;

  void write(const std::string& text);
  /// The next line of its stdout, without the line end; false when none is complete
  /// within `timeout_ms` or the output ended.
  bool readLine(std::string& line, int timeout_ms);
  /// Close its stdin (the end of its input), read its output to the end (readLine still
  /// gives it) and wait: its exit status, or -SIGNAL.
  int finish();

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string pending_;
};

/// Wait for `pid`: its exit status, or -SIGNAL when a signal ended it.
int waitExit(pid_t pid);

/// True once `pid` has ended (then `status` holds what waitExit would return).
bool exited(pid_t pid, int& status);

/// The pid of a process that has exited and been reaped (for stale-lock tests).
pid_t deadPid();

/// What `shiftad ARGS` printed and how it ended.
struct CliResult {
  int status = 0;      ///< exit code, or -SIGNAL when a signal ended it
  std::string output;  ///< stdout and stderr together
};

/// Run `[ENV] BINARY_DIR/shiftad ARGS` through the shell in folder `cwd` ("" : here);
/// `env` is prefixed as shell assignments, e.g. "SHIFTAD_FAULT_KILL_AT_RENAME=3".
CliResult runCliIn(const std::string& args, const std::string& cwd = "", const std::string& env = "");

/// The whole text of a file ("" if missing).
std::string readText(const std::string& path);

}  // namespace shiftad::test
