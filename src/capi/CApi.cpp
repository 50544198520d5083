// The C API (include/shiftad/shiftad_c.h) over shiftad::Detector: an opaque handle,
// status codes instead of exceptions, and the last error kept per thread.
#include <atomic>
#include <cmath>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/Error.h"
#include "common/ErrorLine.h"
#include "shiftad/shiftad.h"
#include "shiftad/shiftad_c.h"

struct shiftad_detector {
  explicit shiftad_detector(shiftad::Detector d) : detector(std::move(d)) {}
  shiftad::Detector detector;
  std::mutex lock;  ///< a Detector is used from one thread at a time: calls on a handle queue here
  std::atomic<std::thread::id> holder{};  ///< the thread whose call holds `lock`, while one does
};

namespace {

/// The message of the last failed call on this thread ("" after a success).
thread_local std::string last_error;

/// Runs `body` with every exception turned into the last error: nothing crosses the C
/// boundary. `failed` is what the C function returns then.
template <typename T, typename Body>
T guarded(T failed, Body&& body) noexcept {
  last_error.clear();
  try {
    return body();
  } catch (const std::bad_alloc&) {
    last_error = "out of memory; score fewer images per call";
  } catch (const std::exception& e) {
    last_error = shiftad::errorLine(e.what());  // as the CLI's error line: a path's control characters escaped
  } catch (...) {
    last_error = "an unknown error (not a std::exception) inside libshiftad";
  }
  if (last_error.empty()) last_error = "an error without a message inside libshiftad";
  return failed;
}

/// One call's hold on a handle. A log callback that calls the library on the handle
/// whose call is logging (its thread already holds the lock) waited on itself for good:
/// refused instead, as the header says.
class HandleCall {
 public:
  HandleCall(shiftad_detector* handle, const char* function) : handle_(handle) {
    if (handle->holder.load() == std::this_thread::get_id())
      throw shiftad::Error(std::string(function) +
                           ": called from a log callback during a call on the same detector, which that call is "
                           "using; call it on another handle (shiftad_load the run again), or after the call returns");
    hold_ = std::unique_lock<std::mutex>(handle->lock);
    handle->holder = std::this_thread::get_id();
  }
  ~HandleCall() { handle_->holder = std::thread::id(); }  // before hold_ unlocks
  HandleCall(const HandleCall&) = delete;
  HandleCall& operator=(const HandleCall&) = delete;

 private:
  shiftad_detector* handle_;
  std::unique_lock<std::mutex> hold_;
};

void requireArgument(bool ok, const std::string& what) {
  if (!ok) throw shiftad::Error(what);
}

/// Null pointers are refused before anything reads them; count 0 needs no arrays.
void requireBatch(const shiftad_detector* detector, const void* inputs, size_t count, const void* results,
                  const char* function) {
  requireArgument(detector != nullptr, std::string(function) + ": the detector is NULL; load one first");
  requireArgument(count == 0 || (inputs != nullptr && results != nullptr),
                  std::string(function) + ": the input or result array is NULL for a batch of " +
                      std::to_string(count) + " images");
  // Above any array a process can hold (a negative count cast to size_t): said, not a
  // bare length error of the first allocation.
  constexpr size_t kMaxBatch = size_t{1} << 31;
  requireArgument(count <= kMaxBatch, std::string(function) + ": count = " + std::to_string(count) +
                                          " images is above " + std::to_string(kMaxBatch) +
                                          " (a negative count cast to size_t?); score in batches");
}

/// One image's outcome in the C struct.
shiftad_result resultOf(const shiftad::ImageScore& s) { return {s.score, 1, s.normalised_score, s.anomalous ? 1 : 0}; }

}  // namespace

extern "C" {

const char* shiftad_version(void) { return SHIFTAD_VERSION; }

const char* shiftad_last_error(void) { return last_error.c_str(); }

int shiftad_set_threads(int threads) {
  return guarded(SHIFTAD_ERROR, [&] {
    // The library's range, under this function's name (a negative count and too many gave
    // two messages, one without the name).
    requireArgument(threads >= 0 && threads <= shiftad::kMaxThreads,
                    "shiftad_set_threads: threads = " + std::to_string(threads) + " must be 0 (all cores) or in [1, " +
                        std::to_string(shiftad::kMaxThreads) + "]");
    shiftad::setThreads(threads);
    return SHIFTAD_OK;
  });
}

namespace {

int levelOf(spdlog::level::level_enum level) {
  if (level >= spdlog::level::err) return SHIFTAD_LOG_ERROR;
  return level == spdlog::level::warn ? SHIFTAD_LOG_WARNING : SHIFTAD_LOG_INFO;
}

/// Hands each of the library's lines to a C caller's callback: a C, Python or Go host
/// has no spdlog to route them with. One line at a time, in order: a thread delivers
/// the lines queued while it holds the turn. A thread that finds the turn taken queues
/// its line and goes on, never waiting for it: the callback may call the library on
/// another handle, whose holder, waiting here for the turn while it logs, held up the
/// callback for good (hunt14-a). A line the callback's own call logs is delivered at
/// once, nested, on its thread.
class CallbackSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  CallbackSink(shiftad_log_callback callback, void* user_data) : callback_(callback), user_data_(user_data) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (deliverer_.load() == std::this_thread::get_id()) {
      callback_(levelOf(msg.level), text.c_str(), user_data_);  // nested in this thread's callback
      return;
    }
    {
      const std::lock_guard<std::mutex> lock(queue_mutex_);
      queue_.emplace_back(levelOf(msg.level), std::move(text));
    }
    deliverQueued();
  }
  void flush_() override {}

 private:
  using Line = std::pair<int, std::string>;

  void deliverQueued() {
    for (;;) {
      std::unique_lock<std::mutex> turn(turn_mutex_, std::try_to_lock);
      if (!turn.owns_lock()) return;  // the thread that has it delivers this line too
      deliverer_ = std::this_thread::get_id();
      for (Line line; nextLine(line);) callback_(line.first, line.second.c_str(), user_data_);
      deliverer_ = std::thread::id();
      turn.unlock();
      // A line queued after the last look, by a thread that found the turn still taken.
      const std::lock_guard<std::mutex> lock(queue_mutex_);
      if (queue_.empty()) return;
    }
  }

  bool nextLine(Line& line) {
    const std::lock_guard<std::mutex> lock(queue_mutex_);
    if (queue_.empty()) return false;
    line = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }

  shiftad_log_callback callback_;
  void* user_data_;
  std::mutex turn_mutex_;  // held by the thread delivering
  std::atomic<std::thread::id> deliverer_{};
  std::mutex queue_mutex_;
  std::deque<Line> queue_;
};

}  // namespace

int shiftad_set_log(shiftad_log_callback callback, void* user_data, int min_level) {
  return guarded(SHIFTAD_ERROR, [&] {
    requireArgument(min_level >= SHIFTAD_LOG_INFO && min_level <= SHIFTAD_LOG_NONE,
                    "shiftad_set_log: min_level = " + std::to_string(min_level) +
                        " must be SHIFTAD_LOG_INFO (0), _WARNING (1), _ERROR (2) or _NONE (3)");
    spdlog::sink_ptr sink = callback ? spdlog::sink_ptr(std::make_shared<CallbackSink>(callback, user_data))
                                     : std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("shiftad", std::move(sink));
    constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::info, spdlog::level::warn, spdlog::level::err,
                                                     spdlog::level::off};
    logger->set_level(kLevels[min_level]);
    // The library's logger is the one registered under its name (common/Log.h).
    spdlog::drop("shiftad");
    spdlog::register_logger(logger);
    return SHIFTAD_OK;
  });
}

shiftad_detector* shiftad_load(const char* run_dir) {
  return guarded<shiftad_detector*>(nullptr, [&] {
    requireArgument(run_dir != nullptr, "shiftad_load: the run directory is NULL");
    // Each file's outcome comes back in its result (scored = 0): never a failed call.
    shiftad::LoadOptions options;
    options.max_skipped = std::numeric_limits<double>::infinity();
    return new shiftad_detector(shiftad::Detector::load(run_dir, options));
  });
}

void shiftad_free(shiftad_detector* detector) { delete detector; }

int shiftad_input_size(const shiftad_detector* detector) {
  return guarded(-1, [&] {
    requireArgument(detector != nullptr, "shiftad_input_size: the detector is NULL; load one first");
    return detector->detector.config().data.image_size;
  });
}

double shiftad_threshold(shiftad_detector* detector) {
  return guarded(std::numeric_limits<double>::quiet_NaN(), [&] {
    requireArgument(detector != nullptr, "shiftad_threshold: the detector is NULL; load one first");
    const HandleCall call(detector, "shiftad_threshold");
    return detector->detector.threshold();
  });
}

int shiftad_score_images(shiftad_detector* detector, const shiftad_image* images, size_t count,
                         shiftad_result* results) {
  return guarded(SHIFTAD_ERROR, [&] {
    requireBatch(detector, images, count, results, "shiftad_score_images");
    std::vector<shiftad::ImageView> views;
    views.reserve(count);
    for (size_t i = 0; i < count; ++i)
      views.push_back({images[i].width, images[i].height, images[i].stride, images[i].rgb});
    std::vector<shiftad::ImageScore> scores;
    {
      const HandleCall call(detector, "shiftad_score_images");
      scores = detector->detector.decide(views);
    }
    for (size_t i = 0; i < count; ++i) results[i] = resultOf(scores[i]);
    return SHIFTAD_OK;
  });
}

int shiftad_score_files(shiftad_detector* detector, const char* const* paths, size_t count, shiftad_result* results) {
  return guarded(SHIFTAD_ERROR, [&] {
    requireBatch(detector, paths, count, results, "shiftad_score_files");
    std::vector<std::string> files;
    files.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      requireArgument(paths[i] != nullptr,
                      "shiftad_score_files: path " + std::to_string(i) + " of " + std::to_string(count) + " is NULL");
      files.emplace_back(paths[i]);
    }
    shiftad::ScoreResult scored;
    {
      const HandleCall call(detector, "shiftad_score_files");
      scored = detector->detector.score(files);
    }
    // Scores come back without the skipped files: look each path up (a file listed
    // twice scores the same twice).
    std::unordered_map<std::string, const shiftad::ImageScore*> by_path;
    for (const auto& s : scored.scores) by_path.emplace(s.path, &s);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    for (size_t i = 0; i < count; ++i) {
      const auto it = by_path.find(files[i]);
      results[i] = it != by_path.end() ? resultOf(*it->second) : shiftad_result{nan, 0, nan, 0};
    }
    return SHIFTAD_OK;
  });
}

}  // extern "C"
