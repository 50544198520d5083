#include "support/Process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace shiftad::test {
namespace {

int decode(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? -WTERMSIG(raw) : -1000; }

/// `BINARY_DIR/shiftad ARGS...` as execv takes it, built before fork(): after it, only exec.
class CliArgv {
 public:
  explicit CliArgv(const std::vector<std::string>& args) : all_{std::string(SHIFTAD_BINARY_DIR) + "/shiftad"} {
    all_.insert(all_.end(), args.begin(), args.end());
    for (auto& a : all_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
  }
  CliArgv(const CliArgv&) = delete;
  CliArgv& operator=(const CliArgv&) = delete;

  /// In the child: become the CLI (exit status 127 where that fails).
  [[noreturn]] void exec() {
    ::execv(all_.front().c_str(), argv_.data());
    ::_exit(127);
  }

 private:
  std::vector<std::string> all_;
  std::vector<char*> argv_;
};

}  // namespace

CliResult runCliIn(const std::string& args, const std::string& cwd, const std::string& env) {
  std::string cmd = std::string(SHIFTAD_BINARY_DIR) + "/shiftad " + args + " 2>&1";
  if (!env.empty()) cmd = "env " + env + " " + cmd;
  if (!cwd.empty()) cmd = "cd '" + cwd + "' && " + cmd;
  CliResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int raw = ::pclose(pipe);
  // The shell reports a child killed by signal S as exit status 128 + S.
  r.status = decode(raw);
  if (r.status > 128 && r.status < 128 + 65) r.status = -(r.status - 128);
  return r;
}

pid_t spawnCli(const std::vector<std::string>& args, const std::string& log, const std::string& cwd) {
  CliArgv cli(args);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    cli.exec();
  }
  ::close(fd);
  return pid;
}

CliRun runCli(const std::vector<std::string>& args, const std::string& dir, bool unprivileged) {
  // The CLI re-executes itself once to set this (main.cpp); set here, a run starts once.
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  CliArgv cli(args);
  const std::string out = dir + "/cli.stdout", err = dir + "/cli.stderr";
  const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fo, STDOUT_FILENO);
    ::dup2(fe, STDERR_FILENO);
    constexpr uid_t kNobody = 65534;
    if (unprivileged && ::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(126);
    cli.exec();
  }
  ::close(fo);
  ::close(fe);
  CliRun r;
  r.exit = waitExit(pid);
  r.out = readText(out);
  r.err = readText(err);
  return r;
}

CliPipe::CliPipe(const std::vector<std::string>& args, const std::string& err_log) {
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);  // as runCli: the CLI starts once
  ::signal(SIGPIPE, SIG_IGN);                 // a child that ended early is an error to read, not our death
  CliArgv cli(args);
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) return;
  const int fe = ::open(err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(to_child[0], STDIN_FILENO);
    ::dup2(from_child[1], STDOUT_FILENO);
    ::dup2(fe, STDERR_FILENO);
    cli.exec();
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  ::close(fe);
  in_ = to_child[1];
  out_ = from_child[0];
}

CliPipe::~CliPipe() {
  if (pid_ > 0) finish();
  if (out_ >= 0) ::close(out_);
}

void CliPipe::write(const std::string& text) {
  size_t done = 0;
  while (in_ >= 0 && done < text.size()) {
    const auto n = ::write(in_, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

bool CliPipe::readLine(std::string& line, int timeout_ms) {
  for (;;) {
    if (const auto eol = pending_.find('\n'); eol != std::string::npos) {
      line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      return true;
    }
    pollfd p{out_, POLLIN, 0};
    if (out_ < 0 || ::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const auto n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

int CliPipe::finish() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
  // Its output read to the end before waiting (a full pipe would block it); readLine
  // still gives the lines.
  char buf[4096];
  for (ssize_t n; out_ >= 0 && (n = ::read(out_, buf, sizeof buf)) > 0;) pending_.append(buf, static_cast<size_t>(n));
  const int status = pid_ > 0 ? waitExit(pid_) : -1000;
  pid_ = -1;
  return status;
}

int waitExit(pid_t pid) {
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  return decode(raw);
}

bool exited(pid_t pid, int& status) {
  int raw = 0;
  if (::waitpid(pid, &raw, WNOHANG) != pid) return false;
  status = decode(raw);
  return true;
}

pid_t deadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  waitExit(pid);
  return pid;
}

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace shiftad::test
