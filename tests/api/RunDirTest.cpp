// What a run directory holds (api/RunDir): the files shiftad writes there and the user's.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/RunDir.h"
#include "shiftad/Error.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

TEST(RunDir, TemporaryFilesOfKilledWritesCountAsTheRunsOwn) {
  // A write killed before its rename leaves NAME.tmp-PID (NAME.tmp from older versions):
  // the run's own file, so the folder can still be resumed or replaced. A .tmp name
  // that is not one of a run's files, or with a suffix that is not a pid, is foreign.
  TempDir tmp;
  shiftad::api::markRunFolder(tmp / "run");
  for (const char* name : {"config.yaml", "config.yaml.tmp-4242", "model.safetensors.tmp", "lock.tmp-7",
                           "notes.txt.tmp-12", "summary.json.tmp-x1"})
    shiftad::test::writeFile(tmp / (std::string("run/") + name), "x");
  const auto st = shiftad::api::inspectRunDir(tmp / "run");
  EXPECT_EQ(st.foreign, (std::vector<std::string>{"notes.txt.tmp-12", "summary.json.tmp-x1"}));
  EXPECT_TRUE(st.is_run);
}

TEST(RunDir, WithoutShiftadsMarkerFilesNamedLikeARunsAreTheUsers) {
  // A user's folder holding their config.yaml and a model.safetensors of their own: not
  // a run (nothing in it may be replaced), whatever the names. The lock is the one
  // taken by this process (RunLock refuses a foreign one).
  TempDir tmp;
  for (const char* name : {"config.yaml", "model.safetensors", "summary.json", "lock"})
    shiftad::test::writeFile(tmp / (std::string("exp/") + name), "x");
  auto st = shiftad::api::inspectRunDir(tmp / "exp");
  EXPECT_EQ(st.foreign, (std::vector<std::string>{"config.yaml", "model.safetensors", "summary.json"}));
  EXPECT_FALSE(st.is_run);
  EXPECT_FALSE(st.has_config);
  EXPECT_FALSE(shiftad::api::isShiftadRunFolder(tmp / "exp"));
  // Its marker makes it one.
  shiftad::api::markRunFolder(tmp / "exp");
  st = shiftad::api::inspectRunDir(tmp / "exp");
  EXPECT_TRUE(st.foreign.empty());
  EXPECT_TRUE(st.is_run);
}

TEST(RunDir, AFolderInTheWayOfAReplacementIsDeletedOnlyWhenItIsShiftads) {
  TempDir tmp;
  shiftad::test::writeFile(tmp / ".run.replacement/thesis.txt", "mine");
  EXPECT_THROW(shiftad::api::removeOwnFolder(tmp / ".run.replacement"), shiftad::Error);
  EXPECT_TRUE(fs::exists(tmp / ".run.replacement/thesis.txt"));
  // A replacement killed while it was built: run files only, its marker not yet there.
  shiftad::test::writeFile(tmp / ".b.replacement/config.yaml", "x");
  shiftad::test::writeFile(tmp / ".b.replacement/metrics.jsonl.tmp-12", "x");
  shiftad::api::removeOwnFolder(tmp / ".b.replacement");
  EXPECT_FALSE(fs::exists(tmp / ".b.replacement"));
  shiftad::api::markRunFolder(tmp / ".c.replacement");
  shiftad::test::writeFile(tmp / ".c.replacement/anything", "x");
  shiftad::api::removeOwnFolder(tmp / ".c.replacement");
  EXPECT_FALSE(fs::exists(tmp / ".c.replacement"));
  shiftad::api::removeOwnFolder(tmp / "missing");  // nothing to do
}

TEST(RunDir, ARunGivenThroughALinkIsReplacedWhereTheLinkPointsAndTheLinkKept) {
  // `--out link --overwrite`, link -> runs/real: the replacement is built beside the
  // real run and trades places with it; the link stays a link to the new run (it once
  // became a real folder, leaving the old run and its lock behind the old target).
  TempDir tmp;
  shiftad::api::markRunFolder(tmp / "runs/real");
  shiftad::test::writeFile(tmp / "runs/real/config.yaml", "old");
  shiftad::test::writeFile(tmp / "runs/real/lock", "1");
  fs::create_directory_symlink(tmp / "runs/real", tmp / "link");
  const auto replacement = shiftad::api::replacementDir(tmp / "link");
  EXPECT_EQ(replacement, tmp / "runs/.real.replacement");
  shiftad::api::markRunFolder(replacement);
  shiftad::test::writeFile(replacement + "/config.yaml", "new");
  shiftad::api::replaceRun(tmp / "link", replacement);
  EXPECT_TRUE(fs::is_symlink(tmp / "link"));
  EXPECT_EQ(shiftad::test::readText(tmp / "link/config.yaml"), "new");
  EXPECT_EQ(shiftad::test::readText(tmp / "runs/real/config.yaml"), "new");
  EXPECT_FALSE(fs::exists(tmp / "runs/real/lock"));
  EXPECT_FALSE(fs::exists(replacement));
  EXPECT_EQ(shiftad::api::replacementDir(tmp / "link/."), replacement);
}

TEST(RunDir, AReplacedRunKeepsItsFoldersPermissionsAndGroup) {
  // `train --overwrite` on a run made private (0750) or shared with a group: the new run
  // was a new folder with the umask's permissions and the writer's group.
  TempDir tmp;
  shiftad::api::markRunFolder(tmp / "run");
  ASSERT_EQ(::chmod((tmp / "run").c_str(), 02750), 0);
  const bool root = ::geteuid() == 0;
  if (root) ASSERT_EQ(::chown((tmp / "run").c_str(), static_cast<uid_t>(-1), 4321), 0);
  const auto replacement = shiftad::api::replacementDir(tmp / "run");
  shiftad::api::markRunFolder(replacement);
  shiftad::test::writeFile(replacement + "/config.yaml", "new");
  shiftad::api::replaceRun(tmp / "run", replacement);
  struct stat st {};
  ASSERT_EQ(::stat((tmp / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
  if (root) EXPECT_EQ(st.st_gid, 4321u);
  EXPECT_EQ(shiftad::test::readText(tmp / "run/config.yaml"), "new");
}

TEST(RunDir, ARunOfA250ByteNameCanBeReplaced) {
  // ".NAME.replacement" (and ".old" after it) was too long: such a run could be made
  // but never replaced with --overwrite.
  TempDir tmp;
  const auto run = tmp / std::string(250, 'r');
  shiftad::api::markRunFolder(run);
  shiftad::test::writeFile(run + "/config.yaml", "old");
  const auto replacement = shiftad::api::replacementDir(run);
  EXPECT_LE(fs::path(replacement).filename().string().size() + 4, 255u);
  EXPECT_NE(replacement, shiftad::api::replacementDir(tmp / std::string(249, 'r') + "s")) << "two names, two folders";
  shiftad::api::markRunFolder(replacement);
  shiftad::test::writeFile(replacement + "/config.yaml", "new");
  shiftad::api::replaceRun(run, replacement);
  EXPECT_EQ(shiftad::test::readText(run + "/config.yaml"), "new");
  EXPECT_FALSE(fs::exists(replacement));
}

TEST(RunDir, AProcessInsideTheRunItReplacesIsInTheNewRunAfterwards) {
  // `train --out . --overwrite`: the swap moves the process's working folder (the old run)
  // aside and removes it; a relative path afterwards must reach the new run, not fail.
  TempDir tmp;
  shiftad::api::markRunFolder(tmp / "run");
  shiftad::test::writeFile(tmp / "run/config.yaml", "old");
  const auto replacement = shiftad::api::replacementDir(tmp / "run");
  shiftad::api::markRunFolder(replacement);
  shiftad::test::writeFile(replacement + "/config.yaml", "new");
  const auto before = fs::current_path();
  fs::current_path(tmp / "run");
  shiftad::api::replaceRun(".", replacement);
  std::error_code ec;
  const auto now = fs::current_path(ec);
  const auto relative = fs::exists("config.yaml", ec) ? shiftad::test::readText("config.yaml") : std::string("gone");
  fs::current_path(before);
  EXPECT_EQ(now, fs::canonical(tmp / "run"));
  EXPECT_EQ(relative, "new");
}

TEST(RunDir, AFolderHoldingNoRunFileYetIsEmptyNotOneToTrainAgain) {
  // A training makes its folder, then links its lock into place from a temporary file: a
  // load in that instant saw a folder without config.yaml and said "train again".
  TempDir tmp;
  fs::create_directories(tmp / "run");
  const auto load = [&] { shiftad::api::loadRun(tmp / "run"); };
  for (const std::string& lock_being_written : {std::string(), "lock.tmp-" + std::to_string(::getpid())}) {
    if (!lock_being_written.empty()) shiftad::test::writeFile(tmp / ("run/" + lock_being_written), "1\n");
    const auto error = shiftad::test::errorOf(load);
    EXPECT_NE(error.find("'" + tmp / "run" + "' is empty: no run is there yet"), std::string::npos) << error;
    EXPECT_NE(error.find("load it again"), std::string::npos) << error;
    EXPECT_EQ(error.find("train again"), std::string::npos) << error;
  }
  // A file of the user's: a folder that holds something, but no run.
  shiftad::test::writeFile(tmp / "run/notes.txt", "x");
  const auto error = shiftad::test::errorOf(load);
  EXPECT_NE(error.find("has no config.yaml (incomplete or not a shiftad run"), std::string::npos) << error;
}

TEST(RunDir, PoolDiagnosticsAreTheLastEpochsAndSkipATornLine) {
  // Two aligned epochs, then a line cut by a kill: the second epoch's values, each field
  // from its own key (the estimate is written, not recomputed from the share).
  TempDir tmp;
  shiftad::test::writeFile(
      tmp / "metrics.jsonl",
      R"({"epoch":1,"dominant_share":0.5,"dominant_purity_diagnostic":0.9,"contamination_estimate":0.5,"contamination_diagnostic":0.1})"
      "\n"
      R"({"epoch":2,"dominant_share":0.7,"dominant_purity_diagnostic":0.95,"contamination_estimate":0.31,"contamination_diagnostic":0.12})"
      "\n"
      R"({"epoch":3,"dominant_sh)");
  const auto d = shiftad::api::readPoolDiagnostics(tmp.path());
  ASSERT_TRUE(d.present);
  EXPECT_DOUBLE_EQ(d.dominant_share, 0.7);
  EXPECT_DOUBLE_EQ(d.dominant_purity, 0.95);
  EXPECT_DOUBLE_EQ(d.contamination_estimate, 0.31);
  EXPECT_DOUBLE_EQ(d.contamination, 0.12);
}

TEST(RunDir, PoolDiagnosticsAbsentForARunThatAlignsNothing) {
  TempDir tmp;
  EXPECT_FALSE(shiftad::api::readPoolDiagnostics(tmp.path()).present);  // no metrics file
  shiftad::test::writeFile(tmp / "metrics.jsonl", R"({"epoch":1,"loss":0.2,"dominant_size":0,"dominant_share":0.0})"
                                                  "\n");
  EXPECT_FALSE(shiftad::api::readPoolDiagnostics(tmp.path()).present);  // source_only's lines
}

TEST(RunDir, PoolDiagnosticsNameTheFileAndKeyOfAHandEditedLine) {
  // The four keys are written together; a line with one of them but not another
  // (or not a number) was edited by hand: a shiftad::Error naming the file and the key.
  TempDir tmp;
  shiftad::test::writeFile(
      tmp / "metrics.jsonl",
      R"({"epoch":1,"dominant_share":0.5,"dominant_purity_diagnostic":0.9,"contamination_diagnostic":0.1})"
      "\n");
  try {
    shiftad::api::readPoolDiagnostics(tmp.path());
    FAIL() << "a line without contamination_estimate was accepted";
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'contamination_estimate'"), std::string::npos) << e.what();
  }
  shiftad::test::writeFile(
      tmp / "metrics.jsonl",
      R"({"dominant_share":"half","dominant_purity_diagnostic":0.9,"contamination_estimate":0.5,"contamination_diagnostic":0.1})"
      "\n");
  EXPECT_THROW(shiftad::api::readPoolDiagnostics(tmp.path()), shiftad::Error);
}
