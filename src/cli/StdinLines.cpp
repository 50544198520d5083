#include "StdinLines.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <poll.h>
#include <unistd.h>

namespace shiftad::cli {

bool StdinLines::lineReady() const {
  return buffer_.find('\n') != std::string::npos || buffer_.size() > kMaxKept || (ended_ && !buffer_.empty());
}

bool StdinLines::fill(bool wait) {
  if (ended_) return false;
  if (!wait) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;  // nothing yet (or poll failed: read when waiting)
  }
  char chunk[1 << 14];
  ssize_t n;
  do n = ::read(STDIN_FILENO, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw std::runtime_error(std::string("cannot read standard input: ") + std::strerror(errno));
  if (n == 0) ended_ = true;
  buffer_.append(chunk, static_cast<size_t>(n));
  return n > 0;
}

bool StdinLines::next(std::string& line, bool wait) {
  for (;;) {
    // The rest of a line already given (cut): read past it, keeping nothing.
    while (dropping_) {
      const auto end = buffer_.find('\n');
      buffer_.erase(0, end == std::string::npos ? buffer_.size() : end + 1);
      if (end != std::string::npos)
        dropping_ = false;
      else if (!fill(wait))
        return false;
    }
    if (lineReady()) break;
    if (!fill(wait) && !lineReady()) return false;
  }
  const auto end = buffer_.find('\n');
  cut_ = end == std::string::npos ? buffer_.size() > kMaxKept : end > kMaxKept;
  const size_t take = cut_ ? kMaxKept : (end == std::string::npos ? buffer_.size() : end);
  line.assign(buffer_, 0, take);
  if (cut_) {
    buffer_.erase(0, take);
    dropping_ = true;
  } else {
    buffer_.erase(0, end == std::string::npos ? buffer_.size() : end + 1);
  }
  return true;
}

}  // namespace shiftad::cli
