// Lines of standard input, read from its descriptor so that a stream can take every
// line already waiting without blocking on the next: `shiftad score --images - --out -`
// scores the paths a program sends together as one batch, and a lone path at once.
#pragma once

#include <cstddef>
#include <string>

namespace shiftad::cli {

class StdinLines {
 public:
  /// Bytes kept of one line: more than any path (4096), so that such a line is still
  /// seen as too long, while a line that never ends (binary data piped in) does not
  /// fill the memory.
  static constexpr size_t kMaxKept = size_t{1} << 16;

  /// The next line, without its '\n', into `line`; false at the end of the input, or,
  /// when `wait` is false, when no whole line has arrived yet. A last line without
  /// '\n' counts. A line longer than kMaxKept is cut there (cut() says so).
  bool next(std::string& line, bool wait);
  /// Whether the line next() gave was cut at kMaxKept bytes.
  bool cut() const { return cut_; }

 private:
  /// Append what the descriptor has; false at its end or, without `wait`, when nothing
  /// is there now.
  bool fill(bool wait);
  /// The buffer holds a whole line, a line past kMaxKept, or the rest of the input.
  bool lineReady() const;

  std::string buffer_;
  bool ended_ = false;
  bool cut_ = false;
  bool dropping_ = false;  ///< discarding the rest of a line cut at kMaxKept
};

}  // namespace shiftad::cli
