// Progress of long work (decoding, embedding, scoring, bench runs): count, rate, ETA.
// On a terminal one line is rewritten in place (\r); otherwise, as in a log file or CI,
// a plain line is logged now and then. Work that ends quickly prints nothing. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace shiftad {

struct ProgressOptions {
  /// stderr is a terminal: redraw one line in place. Default: isatty(stderr).
  bool terminal = false;
  /// Terminal: redraw at most this often, and not before this much time has passed.
  double redraw_seconds = 0.5;
  /// Plain output: a line every this many seconds.
  double plain_seconds = 10.0;
  /// Seconds, monotonic. Default: std::chrono::steady_clock.
  std::function<double()> clock;
  /// Where a line goes; `last` is the final line of the work. Default: terminal ->
  /// "\r" + line to stderr (a newline after the last); plain -> spdlog::info.
  std::function<void(const std::string& line, bool last)> sink;
};

/// The defaults above, with terminal = isatty(stderr) and nothing shown below info level
/// (-q).
ProgressOptions defaultProgressOptions();

/// The defaults, but plain lines (every plain_seconds, through the log) on a terminal
/// too: for a count advanced between pieces of work that show their own progress, whose
/// redrawn terminal line a second redrawn line would overwrite.
ProgressOptions plainProgressOptions();

/// Prints nothing: for callers that put status() or eta() in lines of their own.
ProgressOptions silentProgressOptions();

/// "45s", "3m05s", "1h02m".
std::string formatDuration(double seconds);

/// Thread-safe: workers may call advance() concurrently.
class Progress {
 public:
  /// `what`: the work, e.g. "decoding images"; `total`: units of work (0: unknown).
  Progress(std::string what, int64_t total, ProgressOptions options = defaultProgressOptions());
  /// finish()es; when an exception unwinds the work, a terminal line is only ended
  /// ("(stopped)"), so that the error is printed on a line of its own.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `n` more units done; prints when it is time to.
  void advance(int64_t n = 1);
  /// The last line (final count, total time, rate) if anything was printed before;
  /// a terminal line is ended with a newline. Idempotent.
  void finish();

  int64_t done() const;
  /// Units per second so far (0 before any time has passed).
  double rate() const;
  /// Seconds left at the current rate (< 0 when unknown).
  double eta() const;
  /// "480/958 (50%), 19.2/s, ETA 25s": the part after `what`.
  std::string status() const;

 private:
  std::string statusLocked() const;
  double etaLocked(double seconds) const;

  std::string what_;
  int64_t total_;
  ProgressOptions opt_;
  mutable std::mutex mutex_;
  double start_ = 0.0;
  double last_print_ = 0.0;
  int64_t done_ = 0;
  int64_t printed_at_ = 0;  ///< `done_` at the last print
  bool printed_ = false;
  bool finished_ = false;
};

}  // namespace shiftad
