#include "common/Progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/Log.h"

namespace shiftad {

ProgressOptions defaultProgressOptions() {
  ProgressOptions o;
  // Redrawn on stderr only where the log lines go there too: a host that routes them
  // elsewhere (shiftad_set_log's callback) saw progress in its terminal and never in its log.
  o.terminal = ::isatty(STDERR_FILENO) == 1 && libraryLogsToStderr();
  o.clock = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  if (!libraryLogger()->should_log(spdlog::level::info)) {
    o.sink = [](const std::string&, bool) {};  // -q: warnings and errors only
  } else if (o.terminal) {
    o.sink = [](const std::string& line, bool last) {
      // \033[K clears what a longer previous line left behind.
      std::fprintf(stderr, "\r%s\033[K%s", printable(line).c_str(), last ? "\n" : "");
      std::fflush(stderr);
    };
  } else {
    o.sink = [](const std::string& line, bool) { log::info("{}", line); };
  }
  return o;
}

ProgressOptions plainProgressOptions() {
  ProgressOptions o = defaultProgressOptions();
  if (o.terminal && libraryLogger()->should_log(spdlog::level::info))
    o.sink = [](const std::string& line, bool) { log::info("{}", line); };
  o.terminal = false;
  return o;
}

ProgressOptions silentProgressOptions() {
  ProgressOptions o = defaultProgressOptions();
  o.sink = [](const std::string&, bool) {};
  return o;
}

std::string formatDuration(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

namespace {

std::string formatRate(double per_second) {
  if (per_second <= 0.0) return "";
  if (per_second >= 10.0) return fmt::format("{:.0f}/s", per_second);
  if (per_second >= 1.0) return fmt::format("{:.1f}/s", per_second);
  return fmt::format("{:.1f}s each", 1.0 / per_second);  // slow units (bench runs) read better this way
}

}  // namespace

Progress::Progress(std::string what, int64_t total, ProgressOptions options)
    : what_(std::move(what)), total_(std::max<int64_t>(0, total)), opt_(std::move(options)) {
  if (!opt_.clock || !opt_.sink) {
    const auto d = defaultProgressOptions();
    if (!opt_.clock) opt_.clock = d.clock;
    if (!opt_.sink) opt_.sink = d.sink;
  }
  start_ = last_print_ = opt_.clock();
}

Progress::~Progress() {
  if (std::uncaught_exceptions() == 0) {
    finish();
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (printed_ && opt_.terminal) opt_.sink(what_ + ": " + statusLocked() + " (stopped)", true);
}

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  done_ += n;
  const double now = opt_.clock();
  const double every = opt_.terminal ? opt_.redraw_seconds : opt_.plain_seconds;
  if (now - last_print_ < every || done_ == printed_at_) return;
  last_print_ = now;
  printed_at_ = done_;
  printed_ = true;
  opt_.sink(what_ + ": " + statusLocked(), false);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (!printed_) return;  // quick work stays silent
  const double seconds = opt_.clock() - start_;
  const double r = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const std::string rate = formatRate(r);
  opt_.sink(fmt::format("{}: {} done in {}{}", what_, done_, formatDuration(seconds), rate.empty() ? "" : ", " + rate),
            true);
}

int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

double Progress::rate() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const double seconds = opt_.clock() - start_;
  return seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
}

double Progress::eta() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return etaLocked(opt_.clock() - start_);
}

double Progress::etaLocked(double seconds) const {
  if (total_ == 0 || done_ == 0 || seconds <= 0) return -1.0;
  return static_cast<double>(std::max<int64_t>(0, total_ - done_)) * seconds / static_cast<double>(done_);
}

std::string Progress::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return statusLocked();
}

std::string Progress::statusLocked() const {
  const double seconds = opt_.clock() - start_;
  const double r = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  std::string s = total_ > 0 ? fmt::format("{}/{} ({:.0f}%)", done_, total_,
                                           100.0 * static_cast<double>(done_) / static_cast<double>(total_))
                             : fmt::format("{}", done_);
  if (const auto rate = formatRate(r); !rate.empty()) s += ", " + rate;
  if (const double eta = etaLocked(seconds); eta >= 0) s += ", ETA " + formatDuration(eta);
  return s;
}

}  // namespace shiftad
