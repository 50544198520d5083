// parallelFor: every item once, on at most the threads asked for, the caller among them,
// the others kept from call to call.
#include <atomic>
#include <chrono>
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

TEST(ParallelFor, TheSameThreadsServeCallAfterCall) {
  // A thread made per call is a new thread to whatever keeps per-thread data (OpenCV
  // does, and never frees it: a service scoring a few files at a time grew without end).
  // A thread's first item sets its thread_local flag once; new threads set it again.
  static std::atomic<int> first_items{0};
  const auto mark = [](size_t) {
    thread_local bool seen = false;
    if (!seen) seen = true, ++first_items;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // every thread gets items
  };
  shiftad::parallelFor(64, 3, mark);  // the threads this test may add: 2 helpers and the caller
  const int after_one_call = first_items.load();
  for (int call = 0; call < 100; ++call) shiftad::parallelFor(64, 3, mark);
  EXPECT_EQ(first_items.load(), after_one_call) << "threads made after the first call";
  EXPECT_GE(after_one_call, 2) << "the helpers took no item: the test shows nothing";
}

TEST(ParallelFor, CallsFromSeveralThreadsAtOnceEachGetEveryItemOnce) {
  std::vector<std::vector<std::atomic<int>>> calls(4);
  for (auto& c : calls) c = std::vector<std::atomic<int>>(500);
  std::vector<std::thread> callers;
  for (size_t t = 0; t < calls.size(); ++t)
    callers.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        shiftad::parallelFor(calls[t].size(), 3, [&](size_t i) { ++calls[t][i]; });
    });
  for (auto& c : callers) c.join();
  for (size_t t = 0; t < calls.size(); ++t)
    for (size_t i = 0; i < calls[t].size(); ++i) ASSERT_EQ(calls[t][i].load(), 20) << t << " " << i;
}

TEST(ParallelFor, NoThreadsAskedForMeansTheDefaultThatSetDefaultThreadsSets) {
  // A host that tells the library to use one thread (setThreads, --threads 1) decodes on
  // one: before, decoding (data.threads 0) took every core whatever the host said.
  // `wait`: the first items wait (up to 5 s) until a second thread has taken one, so that
  // on a loaded machine, where the helpers start late, they still get items.
  const auto threadsUsed = [](bool wait) {
    std::mutex m;
    std::set<std::thread::id> ids;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    shiftad::parallelFor(256, 0, [&](size_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));  // every thread gets items
      {
        std::lock_guard<std::mutex> lock(m);
        ids.insert(std::this_thread::get_id());
      }
      while (wait && std::chrono::steady_clock::now() < deadline) {
        std::lock_guard<std::mutex> lock(m);
        if (ids.size() >= 2) break;
      }
    });
    return ids;
  };
  shiftad::setDefaultThreads(1);
  EXPECT_EQ(shiftad::defaultThreads(), 1);
  EXPECT_EQ(threadsUsed(false), std::set<std::thread::id>{std::this_thread::get_id()}) << "one thread: the caller";
  shiftad::setDefaultThreads(3);
  EXPECT_EQ(shiftad::defaultThreads(), 3);
  const auto three = threadsUsed(true);
  EXPECT_LE(three.size(), 3u);
  EXPECT_GE(three.size(), 2u) << "the helpers took no item: the test shows nothing";
  shiftad::setDefaultThreads(0);
  EXPECT_EQ(shiftad::defaultThreads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}
