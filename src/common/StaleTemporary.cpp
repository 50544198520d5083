#include "common/StaleTemporary.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>

#include "common/Rename.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

bool allDigits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

bool processAlive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

bool isTemporaryName(const std::string& name, const std::string& target, long& pid) {
  const auto at = name.rfind(".tmp-");
  if (at == std::string::npos || at == 0) return false;
  const size_t digits = at + 5, dot = name.find('.', digits);
  const size_t pid_end = dot == std::string::npos ? name.size() : dot;
  if (!allDigits(name, digits, pid_end) || pid_end - digits > 9) return false;
  if (dot != std::string::npos && !allDigits(name, dot + 1, name.size())) return false;
  if (!target.empty()) {
    // A 241-255-byte name was shortened to leave room for the writer's suffixes
    // (temporaryPathFor: ".tmp-PID" and a thread's).
    const auto stem = name.substr(0, at);
    if (stem != target && stem != nameWithRoomFor(target, pid_end - at + kThreadSuffixRoom)) return false;
  }
  pid = std::stol(name.substr(digits, pid_end - digits));
  return true;
}

bool isStaleTemporary(const fs::path& path, long pid) {
  if (pid == static_cast<long>(::getpid()) || processAlive(pid)) return false;
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(path, ec)) || ec) return false;
  const auto modified = fs::last_write_time(path, ec);
  return !ec && fs::file_time_type::clock::now() - modified > kStaleTemporaryAge;
}

int removeStaleTemporariesOf(const fs::path& target) {
  const auto folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const auto name = target.filename().string();
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    long pid = 0;
    std::error_code gone;
    if (isTemporaryName(it->path().filename().string(), name, pid) && isStaleTemporary(it->path(), pid) &&
        fs::remove(it->path(), gone))
      ++removed;
  }
  return removed;
}

}  // namespace shiftad
