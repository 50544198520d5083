// The run lock (api/RunLock) as train() meets it: a live lock keeps a second run out,
// a stale one (dead pid, reused pid) is taken over, another host's lock is never touched.
// Concurrent CLI starts into one folder: tests/integration/ReliabilityTest.cpp.
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "api/RunLock.h"
#include "common/Error.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;
using shiftad::test::tinyConfigFile;

TEST(RunLock, ALiveLockKeepsASecondRunOut) {
  TempDir tmp;
  const auto cfg = shiftad::loadConfig(tinyConfigFile(tmp, 1));
  fs::create_directories(tmp / "run");
  shiftad::test::writeFile(tmp / "run/lock", std::to_string(::getpid()) + "\n");  // this process is alive
  try {
    shiftad::train(cfg, tmp / "run");
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("in use by process " + std::to_string(::getpid())), std::string::npos) << msg;
    EXPECT_NE(msg.find(tmp / "run"), std::string::npos) << msg;
  }
  EXPECT_TRUE(fs::exists(tmp / "run/lock")) << "someone else's lock is left alone";
  EXPECT_FALSE(fs::exists(tmp / "run/config.yaml")) << "nothing is written into a locked run";
}

TEST(RunLock, AStaleLockIsTakenOverAndReleased) {
  TempDir tmp;
  const auto cfg = shiftad::loadConfig(tinyConfigFile(tmp, 1));
  fs::create_directories(tmp / "run");
  shiftad::test::writeFile(tmp / "run/lock", std::to_string(shiftad::test::deadPid()) + "\n");
  shiftad::train(cfg, tmp / "run");
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / "run/lock"));
}

TEST(RunLock, TakingOverAStaleLockRemovesTheTemporaryFilesItsProcessLeft) {
  // A process killed while writing leaves NAME.tmp-PID: with its lock taken over they are
  // nobody's. Another process's are left alone.
  TempDir tmp;
  const auto dead = std::to_string(shiftad::test::deadPid()), live = std::to_string(::getpid());
  for (const auto& name : {"checkpoint.safetensors.tmp-" + dead, "metrics.jsonl.tmp-" + dead,
                           "checkpoint.safetensors.tmp-" + live, "checkpoint.safetensors.tmp-" + dead + "7"})
    shiftad::test::writeFile(tmp / "run/" + name, "partial");
  shiftad::test::writeFile(tmp / "run/lock", dead + "\n");
  {
    const shiftad::api::RunLock lock(tmp / "run", "run directory");
    EXPECT_FALSE(fs::exists(tmp / "run/checkpoint.safetensors.tmp-" + dead));
    EXPECT_FALSE(fs::exists(tmp / "run/metrics.jsonl.tmp-" + dead));
    EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors.tmp-" + live)) << "a live process's";
    EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors.tmp-" + dead + "7")) << "another pid's";
  }
  // A live lock is not taken over: nothing of its process's is touched.
  shiftad::test::writeFile(tmp / "run/lock", live + "\n");
  EXPECT_THROW(shiftad::api::RunLock(tmp / "run", "run directory"), shiftad::Error);
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors.tmp-" + live));
}

namespace {

/// Field 22 of /proc/self/stat, read here independently of RunLock.
std::string ownStartTime() {
  const auto stat = shiftad::test::readText("/proc/self/stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) rest >> field;
  return field;
}

std::string ownHost() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

/// train() into tmp/run over a lock file holding `lock`; the error message, "" if it trained.
std::string trainOverLock(const TempDir& tmp, const std::string& lock, std::string& log) {
  const auto cfg = shiftad::loadConfig(tinyConfigFile(tmp, 1));
  fs::create_directories(tmp / "run");
  shiftad::test::writeFile(tmp / "run/lock", lock);
  testing::internal::CaptureStdout();  // spdlog's default logger writes to stdout
  testing::internal::CaptureStderr();
  std::string error;
  try {
    shiftad::train(cfg, tmp / "run");
  } catch (const shiftad::Error& e) {
    error = e.what();
  }
  log = testing::internal::GetCapturedStderr();
  log += testing::internal::GetCapturedStdout();
  return error;
}

}  // namespace

TEST(RunLock, ALockWhosePidWasReusedIsTakenOverWithAWarning) {
  TempDir tmp;
  // pid 1 is alive (init), but it did not start at tick 1: its pid was "reused".
  ASSERT_NE(shiftad::test::readText("/proc/1/stat"), "");
  std::string log;
  const auto error = trainOverLock(tmp, "1\nstart 1\nhost " + ownHost() + "\n", log);
  EXPECT_EQ(error, "");
  EXPECT_NE(log.find("taking over the stale lock of process 1"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / "run/lock"));
}

TEST(RunLock, AnEmptyLockIsTakenOverNamingNoProcess) {
  // Left by a writer of an older version killed between create and write.
  TempDir tmp;
  std::string log;
  EXPECT_EQ(trainOverLock(tmp, "", log), "");
  EXPECT_NE(log.find("taking over the stale lock of a process it does not name"), std::string::npos) << log;
  EXPECT_EQ(log.find("process 0"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
}

TEST(RunLock, ALockNamingALiveProcessWithItsStartTimeBlocks) {
  TempDir tmp;
  std::string log;
  const auto error =
      trainOverLock(tmp, std::to_string(::getpid()) + "\nstart " + ownStartTime() + "\nhost " + ownHost() + "\n", log);
  EXPECT_NE(error.find("in use by process " + std::to_string(::getpid())), std::string::npos) << error;
  EXPECT_TRUE(fs::exists(tmp / "run/lock"));
  EXPECT_FALSE(fs::exists(tmp / "run/config.yaml"));
}

TEST(RunLock, ALockOfAnotherHostIsNeverTakenOverAndNamesTheHost) {
  TempDir tmp;
  std::string log;
  // A dead pid: on this machine it would be stale, but it names a process elsewhere.
  const auto lock = std::to_string(shiftad::test::deadPid()) + "\nstart 42\nhost other-machine\n";
  const auto error = trainOverLock(tmp, lock, log);
  EXPECT_NE(error.find("on host 'other-machine'"), std::string::npos) << error;
  EXPECT_NE(error.find("delete the lock file"), std::string::npos) << error;
  EXPECT_EQ(shiftad::test::readText(tmp / "run/lock"), lock) << "another host's lock is left alone";
}

TEST(RunLock, ALockOfAnotherPidNamespaceIsNeverTakenOver) {
  // A trainer in another container on this host (the same host name): its pid (often 1)
  // names another process here, or none. It was taken for dead and two processes
  // trained one folder.
  const auto own_namespace = fs::read_symlink("/proc/self/ns/pid").string();
  ASSERT_NE(own_namespace, "pid:[1]");
  TempDir tmp;
  std::string log;
  const auto lock = "1\nstart 1\nhost " + ownHost() + "\npidns pid:[1]\n";  // pid 1 here is another process
  const auto error = trainOverLock(tmp, lock, log);
  EXPECT_NE(error.find("in use by process 1 in another PID namespace"), std::string::npos) << error;
  EXPECT_NE(error.find("delete the lock file"), std::string::npos) << error;
  EXPECT_EQ(shiftad::test::readText(tmp / "run/lock"), lock) << "its lock is left alone";
  // Our own lock says which namespace (and boot) it was written in.
  const shiftad::api::RunLock own(tmp / "other", "run directory");
  const auto text = shiftad::test::readText(tmp / "other/lock");
  EXPECT_NE(text.find("\npidns " + own_namespace + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nboot " + shiftad::test::readText("/proc/sys/kernel/random/boot_id")), std::string::npos)
      << text;
}

TEST(RunLock, ALockFromBeforeTheMachineRestartedIsTakenOver) {
  // Its pid and start time may name a live process of this boot (pid 1 started at the
  // same tick after every boot), which kept the folder locked for good.
  const auto stat = shiftad::test::readText("/proc/1/stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 1));
  std::string init_start;
  for (int i = 3; i <= 22; ++i) rest >> init_start;
  TempDir tmp;
  std::string log;
  const auto lock = "1\nstart " + init_start + "\nhost " + ownHost() + "\nboot 00000000-0000-0000-0000-000000000000\n";
  EXPECT_EQ(trainOverLock(tmp, lock, log), "");
  EXPECT_NE(log.find("process 1, from before this machine restarted"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
  // The same lock of this boot is live: pid 1 with its start time.
  std::string again;
  const auto live = "1\nstart " + init_start + "\nhost " + ownHost() + "\n";
  TempDir tmp2;
  EXPECT_NE(trainOverLock(tmp2, live, again).find("in use by process 1"), std::string::npos);
}

TEST(RunLock, AnOldFormatLockHoldingOnlyALivePidStillBlocks) {
  TempDir tmp;
  std::string log;
  const auto error = trainOverLock(tmp, "1\n", log);  // pid 1 is alive; no start time to tell reuse
  EXPECT_NE(error.find("in use by process 1 "), std::string::npos) << error;
  EXPECT_EQ(shiftad::test::readText(tmp / "run/lock"), "1\n");
}
