#include "StandardStreams.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace shiftad::cli {
namespace {
bool stdout_closed = false;
}

void openClosedStandardStreams() {
  // In order: open() takes the lowest free descriptor, which is the one found closed.
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) continue;  // nothing better to do
    if (fd == 1) stdout_closed = true;
  }
}

bool standardOutputWasClosed() { return stdout_closed; }

void flushStandardOutput() {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  if (flushed && !std::ferror(stdout)) return;
  // A write that failed earlier set the error flag; the flush then may have had nothing left to write.
  const std::string reason = errno != 0 ? std::strerror(errno) : "a write failed";
  throw std::runtime_error("cannot write to standard output (" + reason +
                           "): what it received is incomplete; free space where it goes, or send it elsewhere");
}

}  // namespace shiftad::cli
