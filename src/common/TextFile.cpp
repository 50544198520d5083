#include "common/TextFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/AtomicFile.h"
#include "common/Error.h"

namespace shiftad {

std::string readText(const std::string& path) {
  // Opened without blocking and checked to be a regular file before a byte is read: a
  // run's config.yaml, pool.txt or calibration.json replaced by a pipe blocked the load
  // forever, by a link to /dev/zero it grew the process to gigabytes, and a folder read
  // as an empty file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  // errno from the open: "Permission denied" (a run copied with a umask of 077), "No such file".
  SHIFTAD_CHECK(fd >= 0, "cannot read '{}': {}; check the path and its permissions", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    SHIFTAD_THROW(
        "cannot read '{}': not a regular file (a folder, pipe, socket or device); replace it with the file that "
        "belongs there",
        path);
  }
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      SHIFTAD_CHECK(n == 0, "cannot read '{}': {}", path, std::strerror(err));
      return text;
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

void writeTextAtomic(const std::string& path, const std::string& text) { writeFileAtomic(path, text); }

}  // namespace shiftad
