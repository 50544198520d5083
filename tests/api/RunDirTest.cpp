// What a run directory holds (api/RunDir): the files shiftad writes there and the user's.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/RunDir.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

TEST(RunDir, TemporaryFilesOfKilledWritesCountAsTheRunsOwn) {
  // A write killed before its rename leaves NAME.tmp-PID (NAME.tmp from older versions):
  // the run's own file, so the folder can still be resumed or replaced. A .tmp name
  // that is not one of a run's files, or with a suffix that is not a pid, is foreign.
  TempDir tmp;
  fs::create_directories(tmp / "run");
  for (const char* name : {"config.yaml", "config.yaml.tmp-4242", "model.safetensors.tmp", "lock.tmp-7",
                           "notes.txt.tmp-12", "summary.json.tmp-x1"})
    shiftad::test::writeFile(tmp / (std::string("run/") + name), "x");
  const auto st = shiftad::api::inspectRunDir(tmp / "run");
  EXPECT_EQ(st.foreign, (std::vector<std::string>{"notes.txt.tmp-12", "summary.json.tmp-x1"}));
  EXPECT_TRUE(st.is_run);
}
