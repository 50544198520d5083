// Leftovers of killed atomic writes (common/StaleTemporary): which names are a writer's
// temporaries, and that the next write of the same file removes those of dead writers
// only (not a live process's, not a recent one's, not another file's or a user's).
#include "common/StaleTemporary.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/AtomicFile.h"
#include "common/Rename.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// The pid of a process that has exited and been reaped.
long deadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

/// A file modified `age` ago.
void leftover(const std::string& path, std::chrono::seconds age) {
  shiftad::test::writeFile(path, std::string(100, 'x'));
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

constexpr std::chrono::seconds kOld{11 * 60}, kRecent{60};

}  // namespace

TEST(StaleTemporary, ATemporaryNameIsTheTargetTmpAPidAndPerhapsAThread) {
  long pid = 0;
  EXPECT_TRUE(shiftad::isTemporaryName("out.csv.tmp-123", "out.csv", pid));
  EXPECT_EQ(pid, 123);
  EXPECT_TRUE(shiftad::isTemporaryName("a.u8.tmp-77.18446744073709551615", "a.u8", pid));
  EXPECT_EQ(pid, 77);
  EXPECT_TRUE(shiftad::isTemporaryName("anything.tmp-5", "", pid)) << "no target: of any file";
  for (const char* other : {"out.csv", "out.csv.tmp-", "out.csv.tmp-12a", "out.csv.tmp-notes", "out.csv.tmp-1.x",
                            "out.csv.tmp-1234567890", "other.csv.tmp-123", "xout.csv.tmp-123", ".tmp-123"})
    EXPECT_FALSE(shiftad::isTemporaryName(other, "out.csv", pid)) << other;
  // A 250-byte name is shortened to make room for the suffixes: still its temporary.
  const std::string long_name(250, 'n');
  const auto tmp = fs::path(shiftad::temporaryPathFor(fs::path("/d") / long_name)).filename().string();
  ASSERT_LE(tmp.size(), 255u);
  EXPECT_TRUE(shiftad::isTemporaryName(tmp, long_name, pid));
  EXPECT_EQ(pid, ::getpid());
  EXPECT_FALSE(shiftad::isTemporaryName(tmp, std::string(250, 'm'), pid));
}

TEST(StaleTemporary, AWriteRemovesWhatKilledWritesOfTheSameFileLeftAndNothingElse) {
  TempDir tmp;
  const auto dead = std::to_string(deadPid());
  const std::string long_name(250, 'n');
  const auto long_tmp = fs::path(shiftad::temporaryPathFor(tmp / long_name)).filename().string();
  const auto long_dead = long_tmp.substr(0, long_tmp.rfind(".tmp-") + 5) + dead;
  const std::vector<std::string> stale = {"out.csv.tmp-" + dead, "out.csv.tmp-" + dead + ".42"};
  const std::vector<std::string> kept = {
      "out.csv.tmp-1",              // pid 1 is alive: its writer may be writing
      "other.csv.tmp-" + dead,      // another file's: its own next write removes it
      "out.csv.tmp-notes",          // a user's file
      "out.csv.tmp-" + dead + "5",  // another (live or dead) pid, recent: below
  };
  for (const auto& name : stale) leftover(tmp / name, kOld);
  leftover(tmp / long_dead, kOld);
  for (size_t i = 0; i + 1 < kept.size(); ++i) leftover(tmp / kept[i], kOld);
  leftover(tmp / kept.back(), kRecent);                         // could be a writer on another host, still filling it
  fs::create_directories(tmp / ("out.csv.tmp-" + dead + "9"));  // a folder: never ours
  fs::last_write_time(tmp / ("out.csv.tmp-" + dead + "9"), fs::file_time_type::clock::now() - kOld);

  shiftad::writeFileAtomic(tmp / "out.csv", std::string("a,b\n"));
  for (const auto& name : stale) EXPECT_FALSE(fs::exists(tmp / name)) << name;
  EXPECT_TRUE(fs::exists(tmp / long_dead)) << "another file's (the long name) until it is written";
  for (const auto& name : kept) EXPECT_TRUE(fs::exists(tmp / name)) << name;
  EXPECT_TRUE(fs::is_directory(tmp / ("out.csv.tmp-" + dead + "9")));

  shiftad::writeFileAtomic(tmp / long_name, std::string("x"));
  EXPECT_FALSE(fs::exists(tmp / long_dead)) << "a shortened temporary name is its file's";
  leftover(tmp / ("out.csv.tmp-" + dead), kOld);
  shiftad::copyFileAtomic(tmp / long_name, tmp / "out.csv");
  EXPECT_FALSE(fs::exists(tmp / ("out.csv.tmp-" + dead))) << "a copy is a write too";
}
