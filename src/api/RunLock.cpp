#include "api/RunLock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/Error.h"
#include "common/Log.h"
#include "common/Rename.h"
#include "common/StaleTemporary.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

/// Field 22 of /proc/PID/stat (clock ticks after boot when PID started): with the pid,
/// it names one process, even after the pid is reused. "" if unknown.
std::string processStartTime(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');  // the command name (field 2) may hold spaces and ')'
  if (paren == std::string::npos) return "";
  std::istringstream rest(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return field;
  return "";
}

std::string hostName() {
  char name[256] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string();
}

/// Which pids this process sees ("pid:[4026531836]"): two containers on one host (and
/// one host name, with --uts=host or a shared volume) each have their own pid 1.
std::string pidNamespace() {
  std::error_code ec;
  const auto link = fs::read_symlink("/proc/self/ns/pid", ec);
  return ec ? "" : link.string();
}

/// This boot of the machine (a UUID): no process of another boot is alive.
std::string bootId() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  f >> id;
  return id;
}

/// What a lock file says: "PID\nstart START\nhost HOST\npidns NS\nboot ID\n". Locks of
/// older versions hold fewer lines (the pid only, or no pidns and boot: "").
struct LockOwner {
  long pid = 0;  ///< 0 if none (e.g. its writer died between create and write)
  std::string start, host, pidns, boot;
  bool foreign = false;  ///< text that no shiftad lock holds: a user's file named "lock"
};

std::string lockText() {
  std::string text = fmt::format("{}\n", ::getpid());
  const std::pair<const char*, std::string> lines[] = {
      {"start", processStartTime(::getpid())}, {"host", hostName()}, {"pidns", pidNamespace()}, {"boot", bootId()}};
  for (const auto& [key, value] : lines)
    if (!value.empty() && value.find_first_of(" \t\n") == std::string::npos) text += fmt::format("{} {}\n", key, value);
  return text;
}

/// Whether the lock's `field` was written where it differs from here (unknown: no).
bool differs(const std::string& written, const std::string& here) {
  return !written.empty() && !here.empty() && written != here;
}

LockOwner readLock(const std::string& path) {
  std::ifstream f(path);
  LockOwner o;
  if (!(f >> o.pid)) {
    // Empty: a writer of an older version died between create and write. Anything else
    // is not a lock shiftad wrote.
    o.pid = 0;
    o.foreign = std::ifstream(path).peek() != std::char_traits<char>::eof();
    return o;
  }
  for (std::string key, value; f >> key >> value;) {
    if (key == "start") o.start = value;
    if (key == "host") o.host = value;
    if (key == "pidns") o.pidns = value;
    if (key == "boot") o.boot = value;
  }
  return o;
}

/// Create `path` only if it does not exist, holding lockText(). False if it exists.
/// The text is written to a temporary file first and linked to `path` (link fails if
/// `path` exists): an O_EXCL create followed by a write would show an empty lock to a
/// concurrent start, which would take it for the lock of a process that died before
/// writing it, and take it over (two runs in one folder: seen in
/// RunLock.ConcurrentStartsIntoOneFolderLetExactlyOneTrain).
bool createExclusive(const std::string& path) {
  const std::string tmp = temporaryPathFor(path);
  const std::string text = lockText();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SHIFTAD_CHECK(fd >= 0, "cannot create the lock file '{}': {}", tmp, std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) ::unlink(tmp.c_str());
  SHIFTAD_CHECK(ok, "cannot write the lock file '{}' (disk full?)", tmp);
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int error = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  SHIFTAD_CHECK(error == EEXIST, "cannot create the lock file '{}': {}", path, std::strerror(error));
  return false;
}

/// Where the lock's process runs when its pid cannot be checked from here: "on host
/// 'H'" (a shared file system) or, for a lock naming a pid of this boot, "in another PID
/// namespace ..." (another container with this host name: its pid, often 1, names
/// another process here or none, and a live trainer was taken for a dead one); "" when
/// here.
std::string elsewhere(const LockOwner& o) {
  if (!o.host.empty() && o.host != hostName()) return fmt::format("on host '{}'", o.host);
  if (o.pid > 0 && differs(o.pidns, pidNamespace()) && !differs(o.boot, bootId()))
    return "in another PID namespace (another container on this host)";
  return "";
}

/// Why the lock of `o` is stale ("" if it is live). A lock whose process runs elsewhere
/// is never judged from here: an Error.
std::string staleReason(const LockOwner& o, const std::string& what, const std::string& run_dir,
                        const std::string& path) {
  const auto where = elsewhere(o);
  SHIFTAD_CHECK(where.empty(),
                "{} '{}' is in use by process {} {} (lock file '{}'); wait for it to finish or write to another "
                "directory. If that process is gone, delete the lock file",
                what, run_dir, o.pid, where, path);
  // An empty lock (a process killed between creating and writing it, before link()
  // made creation atomic) names no process.
  if (o.pid <= 0) return "a process it does not name (the lock file holds no pid)";
  if (differs(o.boot, bootId())) return fmt::format("process {}, from before this machine restarted", o.pid);
  if (!processAlive(o.pid)) return fmt::format("process {}, which is gone", o.pid);
  const std::string now = o.start.empty() ? "" : processStartTime(o.pid);
  if (!now.empty() && now != o.start)
    return fmt::format("process {} (that pid now names another process, started later)", o.pid);
  return "";
}

}  // namespace

std::string trainingProcess(const std::string& run_dir) {
  const auto path = (fs::path(run_dir) / kLockFile).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return "";
  const auto owner = readLock(path);
  if (owner.foreign || owner.pid <= 0) return "";
  if (const auto where = elsewhere(owner); !where.empty()) return fmt::format("process {} {}", owner.pid, where);
  return staleReason(owner, "run directory", run_dir, path).empty() ? fmt::format("process {}", owner.pid) : "";
}

namespace {

/// The temporary files (NAME.tmp-PID: common/AtomicFile, io/SafeTensors) that process
/// `pid` left in `dir` when it died mid-write: nobody's once its stale lock is taken
/// over. Under a scheduler that kills a job again and again, every kill during a
/// checkpoint's write left a checkpoint-sized file that no later run removed.
void removeTemporariesOf(const std::string& dir, long pid) {
  std::vector<fs::path> left;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    long writer = 0;
    if (isTemporaryName(it->path().filename().string(), "", writer) && writer == pid && it->is_regular_file(ec))
      left.push_back(it->path());
  }
  for (const auto& path : left)
    if (fs::remove(path, ec))
      log::info("removed '{}', a temporary file process {} left when it stopped", path.string(), pid);
}

}  // namespace

RunLock::RunLock(const std::string& run_dir, const std::string& what)
    : path_((fs::path(run_dir) / kLockFile).string()) {
  fs::create_directories(run_dir);
  // Two attempts: the second after removing a stale lock (if another process takes it
  // over in between, its lock is live and we fail).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (createExclusive(path_)) return;
    const LockOwner owner = readLock(path_);
    SHIFTAD_CHECK(!owner.foreign,
                  "'{}' is not a shiftad lock file, and shiftad never deletes files it did not create; choose another "
                  "folder, or move that file away",
                  path_);
    const std::string stale = staleReason(owner, what, run_dir, path_);
    SHIFTAD_CHECK(!stale.empty(),
                  "{} '{}' is in use by process {} (lock file '{}'); wait for it to finish, stop it, or "
                  "write to another directory",
                  what, run_dir, owner.pid, path_);
    log::warn("{} '{}': taking over the stale lock of {}", what, run_dir, stale);
    std::error_code ec;
    fs::remove(path_, ec);
    if (owner.pid > 0) removeTemporariesOf(run_dir, owner.pid);
  }
  SHIFTAD_THROW("{} '{}': could not take the lock '{}' (another process keeps taking it)", what, run_dir, path_);
}

RunLock::~RunLock() {
  std::error_code ec;
  fs::remove(path_, ec);
}

}  // namespace shiftad::api
