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
