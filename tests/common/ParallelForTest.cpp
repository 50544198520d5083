// parallelFor: every item once, on at most the threads asked for, the caller among them.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/ParallelFor.h"

TEST(ParallelFor, CallsEveryItemOnceOnAtMostTheThreadsAskedForTheCallerAmongThem) {
  for (int threads : {1, 3}) {
    std::vector<std::atomic<int>> calls(1000);
    std::mutex m;
    std::set<std::thread::id> ids;
    shiftad::parallelFor(calls.size(), threads, [&](size_t i) {
      ++calls[i];
      std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    });
    for (size_t i = 0; i < calls.size(); ++i) ASSERT_EQ(calls[i].load(), 1) << "item " << i << ", " << threads;
    EXPECT_LE(ids.size(), static_cast<size_t>(threads));
    if (threads == 1) EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
  }
}

TEST(ParallelFor, NoItemsNoCall) {
  int calls = 0;
  shiftad::parallelFor(0, 4, [&](size_t) { ++calls; });
  shiftad::parallelFor(0, 0, [&](size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}
