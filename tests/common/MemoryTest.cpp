// The memory left to the process (common/Memory): /proc/meminfo and cgroup files written
// here by hand, the byte counts worked out by hand.
#include "common/Memory.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

TEST(Memory, FreeMemoryAndSwapWithinTheContainerLimit) {
  TempDir t;
  writeFile(t / "meminfo", "MemTotal:       2000 kB\nMemFree:  10 kB\nMemAvailable:   1000 kB\nSwapFree:   24 kB\n");
  const std::string none = t / "no-cgroup";
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", none), uint64_t{1024} * 1024);
  // cgroup v2: the limit less what the group uses, when that is smaller; "max" is none.
  fs::create_directories(t / "v2");
  writeFile(t / "v2/memory.max", "500000\n");
  writeFile(t / "v2/memory.current", "100000\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2"), 400000u);
  writeFile(t / "v2/memory.max", "max\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2"), uint64_t{1024} * 1024);
  // cgroup v1: "no limit" is a number near 2^63; a real one counts.
  fs::create_directories(t / "v1/memory");
  writeFile(t / "v1/memory/memory.limit_in_bytes", "9223372036854771712\n");
  writeFile(t / "v1/memory/memory.usage_in_bytes", "5\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v1"), uint64_t{1024} * 1024);
  writeFile(t / "v1/memory/memory.limit_in_bytes", "65\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v1"), 60u);
  // Unknown (not Linux, or a kernel without MemAvailable): nothing to check against.
  EXPECT_FALSE(shiftad::availableMemoryBytes(t / "missing", none).has_value());
  writeFile(t / "old", "MemTotal: 2000 kB\nMemFree: 10 kB\n");
  EXPECT_FALSE(shiftad::availableMemoryBytes(t / "old", none).has_value());
}

TEST(Memory, WorkThatCannotFitIsRefusedWithTheNumbers) {
  const auto msg = errorOf([] { shiftad::checkFitsInMemory(2'500'000'000, 1'000'000'000, "the 10 images", "do X"); });
  EXPECT_EQ(msg,
            "the 10 images need about 2.5 GB of memory, and 1.0 GB are available (free memory and swap, within any "
            "container limit); do X");
  EXPECT_NO_THROW(shiftad::checkFitsInMemory(1'000'000'000, 1'000'000'000, "w", "a"));
  EXPECT_NO_THROW(shiftad::checkFitsInMemory(UINT64_MAX, std::nullopt, "w", "a"));  // unknown: not refused
}

TEST(Memory, TheLimitOfTheProcesssOwnGroupAndOfEveryGroupAboveItCount) {
  // A Slurm job (--mem) or a systemd slice sets the limit on the process's own group,
  // not on the mount's root, which has none (/proc/self/cgroup names the group).
  TempDir t;
  writeFile(t / "meminfo", "MemAvailable:   1000000 kB\nSwapFree: 0 kB\n");
  const uint64_t all = uint64_t{1000000} * 1024;
  // A group's limit and usage, in v2's files or v1's.
  const auto group = [&](const std::string& dir, const std::string& limit, const std::string& usage, bool v1) {
    writeFile(t / dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"), limit + "\n");
    writeFile(t / dir + (v1 ? "/memory.usage_in_bytes" : "/memory.current"), usage + "\n");
  };
  // cgroup v2: job_1/step_0 has none of its own; job_1's 5000 - 1000 binds.
  group("v2/job_1", "5000", "1000", false);
  group("v2/job_1/step_0", "max", "900", false);
  writeFile(t / "self-v2", "0::/job_1/step_0\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2", t / "self-v2"), 4000u);
  // The smallest of the limits on the way: the step's own, once it has one.
  group("v2/job_1/step_0", "1500", "900", false);
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2", t / "self-v2"), 600u);
  // cgroup v1: the memory controller's line, under memory/; other controllers' ignored.
  group("v1/memory/slice/app", "9223372036854771712", "10", true);
  group("v1/memory/slice", "700", "200", true);
  group("v1/cpu/slice", "1", "0", true);
  writeFile(t / "self-v1", "5:cpu,cpuacct:/slice\n4:memory:/slice/app\n0::/\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v1", t / "self-v1"), 500u);
  // A group outside the cgroup namespace, or no such file: the mount's root alone.
  writeFile(t / "self-out", "0::/../../job_1\n");
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2", t / "self-out"), all);
  EXPECT_EQ(shiftad::availableMemoryBytes(t / "meminfo", t / "v2", t / "missing"), all);
}
