#include "common/ParallelFor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace shiftad {

namespace {

/// One call's items, shared with the workers that help with it. A worker may take its
/// task after the call has returned: it then finds no item left and never calls `fn`.
struct Items {
  size_t n = 0;
  const std::function<void(size_t)>* fn = nullptr;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex m;
  std::condition_variable all_done;

  void work() {
    for (size_t i = next++; i < n; i = next++) {
      (*fn)(i);
      if (++done == n) {
        std::lock_guard<std::mutex> lock(m);
        all_done.notify_all();
      }
    }
  }

  void waitForAll() {
    std::unique_lock<std::mutex> lock(m);
    all_done.wait(lock, [this] { return done.load() == n; });
  }
};

/// Threads kept for the life of the process and shared by every call. A thread made and
/// ended per call cost a service that scored a few files at a time its memory: OpenCV
/// keeps per-thread data for every thread that ever called it (cv::cvtColor's
/// parallel_for_) and frees none when the thread ends (about 0.8 KB a call on 2 cores,
/// growing with the cores; opencv/opencv#9745). The pool grows to the most helpers any
/// call asked for. Never destroyed: a worker may be inside a call when the process exits.
class Workers {
 public:
  static Workers& shared() {
    static auto* workers = new Workers;  // leaked on purpose (see above)
    return *workers;
  }

  /// `helpers` tasks that each work on `items`.
  void post(const std::shared_ptr<Items>& items, size_t helpers) {
    {
      std::lock_guard<std::mutex> lock(m_);
      while (threads_.size() < helpers) threads_.emplace_back([this] { serve(); });
      for (size_t h = 0; h < helpers; ++h) tasks_.push_back(items);
    }
    ready_.notify_all();
  }

 private:
  void serve() {
    for (;;) {
      std::shared_ptr<Items> items;
      {
        std::unique_lock<std::mutex> lock(m_);
        ready_.wait(lock, [this] { return !tasks_.empty(); });
        items = std::move(tasks_.front());
        tasks_.pop_front();
      }
      items->work();
    }
  }

  std::mutex m_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<Items>> tasks_;
  std::vector<std::thread> threads_;
};

std::atomic<int> g_default_threads{0};

}  // namespace

void setDefaultThreads(int threads) { g_default_threads = std::max(0, threads); }

int defaultThreads() {
  const int set = g_default_threads.load();
  return set > 0 ? set : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  const size_t workers = std::clamp<size_t>(static_cast<size_t>(threads > 0 ? threads : defaultThreads()), 1, n);
  if (workers == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto items = std::make_shared<Items>();
  items->n = n;
  items->fn = &fn;
  Workers::shared().post(items, workers - 1);
  items->work();  // the caller works too: its items get done even while every worker is busy elsewhere
  items->waitForAll();
}

}  // namespace shiftad
