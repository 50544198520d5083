#include "common/ParallelFor.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace shiftad {

void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t workers =
      std::clamp<size_t>(threads > 0 ? static_cast<size_t>(threads) : cores, 1, std::max<size_t>(1, n));
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace shiftad
