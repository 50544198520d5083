// A run directory is self-contained and portable, and no command replaces what it did
// not create (README, "Run directories"; docs/reliability.md). Drives the `shiftad`
// binary from other working directories, as a user would.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shiftad/RunFiles.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::readText;
using shiftad::test::runCliIn;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

namespace {

/// The synthetic benchmark, written once by the CLI for every test of this file.
const std::string& synthRoot() {
  static TempDir dir;
  static const std::string root = [] {
    const auto r = runCliIn("synth -q --out " + (dir / "data"));
    EXPECT_EQ(r.status, 0) << r.output;
    return dir / "data";
  }();
  return root;
}

/// A file's identity for comparisons: its size and a hash of its bytes.
std::string digest(const std::string& path) {
  const auto bytes = readText(path);
  return std::to_string(bytes.size()) + ":" + std::to_string(std::hash<std::string>{}(bytes));
}

/// Every file of a folder (recursively) and its digest: "the same run" means this. A
/// killed process leaves its lock file, which the next one takes over (RunLock): not
/// part of the run.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "lock")
      out[fs::relative(e.path(), dir).string()] = digest(e.path().string());
  return out;
}

/// Files that identify a trained detector (metrics and summary hold wall times).
std::map<std::string, std::string> modelFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const char* f : {"config.yaml", "model.safetensors", "center.safetensors"}) out[f] = digest(dir + "/" + f);
  return out;
}

/// Entries of `parent` whose name starts with '.' (where a replacement is built).
std::set<std::string> hidden(const std::string& parent) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(parent))
    if (e.path().filename().string()[0] == '.') out.insert(e.path().filename().string());
  return out;
}

std::string tinyYaml(int epochs, int seed) {
  return "data: {root: " + synthRoot() + ", source: source, target: target, normal_class: circle}\n" +
         "model: {width: 8}\n" + "train: {epochs: " + std::to_string(epochs) + ", seed: " + std::to_string(seed) +
         ", checkpoint_every: 1}\n";
}

/// `train --config CONFIG --out OUT`, with and without --overwrite, in `tmp`: refused
/// (exit 1, the output naming each of `needles`), and OUT's files exactly as they were.
void expectTrainRefusesAndKeeps(const TempDir& tmp, const std::string& config, const std::string& out,
                                const std::vector<std::string>& needles) {
  const auto before = snapshot(tmp / out);
  for (const char* extra : {"", " --overwrite"}) {
    const auto r = runCliIn("train -q --config " + config + " --out " + out + extra, tmp.path());
    EXPECT_EQ(r.status, 1) << r.output;
    for (const auto& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << n << ": " << r.output;
    EXPECT_EQ(snapshot(tmp / out), before) << extra;
  }
}

}  // namespace

TEST(Portability, ARunScoresAndEvaluatesFromAnyFolderAfterItAndItsPretrainedFilesMove) {
  TempDir tmp;
  // "Pretrained" trunk weights for F: the small CNN of a first run, in the user's folder.
  writeFile(tmp / "seed.yaml", tinyYaml(1, 7));
  auto r = runCliIn("train -q --config seed.yaml --out seedrun", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  fs::create_directories(tmp / "project/weights");
  fs::copy_file(tmp / "seedrun/model.safetensors", tmp / "project/weights/trunk.safetensors");

  // Every path in the config is relative to the config file's folder.
  const auto data_rel = fs::relative(synthRoot(), tmp / "project").string();
  writeFile(tmp / "project/my.yaml", "data: {root: " + data_rel +
                                         ", source: source, target: target, normal_class: circle, image_cache: false}\n"
                                         "model: {width: 8, weights: weights/trunk.safetensors, freeze: -1}\n"
                                         "encoder: {type: backbone, cache_dir: cache}\n"
                                         "train: {epochs: 2}\n");
  fs::create_directories(tmp / "elsewhere");
  // Trained from another folder: the config's paths still resolve against its own.
  r = runCliIn("train -q --config ../project/my.yaml --out ../runs/head", tmp / "elsewhere");
  ASSERT_EQ(r.status, 0) << r.output;
  r = runCliIn("train -q --config ../project/my.yaml --variant frozen_knn --out ../runs/knn", tmp / "elsewhere");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "project/cache")) << "encoder.cache_dir resolved against the config's folder";
  // The run records absolute paths.
  const auto config = readText(tmp / "runs/head/config.yaml");
  EXPECT_NE(config.find("root: " + fs::canonical(synthRoot()).string()), std::string::npos) << config;
  EXPECT_NE(config.find("weights: " + fs::canonical(tmp / "project/weights/trunk.safetensors").string()),
            std::string::npos)
      << config;

  std::string list;
  for (const auto& e : fs::recursive_directory_iterator(synthRoot() + "/target"))
    if (e.is_regular_file()) list += e.path().string() + "\n";
  writeFile(tmp / "images.txt", list);
  std::map<std::string, std::string> before;
  for (const char* run : {"head", "knn"}) {
    r = runCliIn(std::string("score -q --model runs/") + run + " --images images.txt --out " + run + ".csv",
                 tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    before[run] = readText(tmp / (std::string(run) + ".csv"));
  }
  const auto eval_before = runCliIn("eval -q --model runs/head", tmp.path());
  ASSERT_EQ(eval_before.status, 0) << eval_before.output;

  // The runs move; the pretrained weights, the config and the feature cache are gone.
  fs::rename(tmp / "runs", tmp / "moved");
  fs::remove_all(tmp / "project");
  for (const char* run : {"head", "knn"}) {
    r = runCliIn(std::string("score -q --model ../moved/") + run + " --images ../images.txt --out " + run + ".csv",
                 tmp / "elsewhere");
    ASSERT_EQ(r.status, 0) << run << ": " << r.output;
    EXPECT_EQ(readText(tmp / ("elsewhere/" + std::string(run) + ".csv")), before[run]) << run;
  }
  const auto eval_after = runCliIn("eval -q --model ../moved/head", tmp / "elsewhere");
  ASSERT_EQ(eval_after.status, 0) << eval_after.output;
  // The same figures (the line ends with the scores file's path, which moved).
  const auto figures = [](const std::string& out) { return out.substr(0, out.find("; scores")); };
  EXPECT_EQ(figures(eval_after.output), figures(eval_before.output));
}

TEST(Overwrite, TrainRefusesAFolderThatIsNotARunAndNeverTouchesItsFiles) {
  TempDir tmp;
  writeFile(tmp / "cfg.yaml", tinyYaml(1, 0));
  writeFile(tmp / "afile", "mine\n");
  const auto onto_file = runCliIn("train -q --config cfg.yaml --out afile", tmp.path());
  EXPECT_EQ(onto_file.status, 1) << onto_file.output;
  EXPECT_NE(onto_file.output.find("'afile' is a file"), std::string::npos) << onto_file.output;
  EXPECT_EQ(readText(tmp / "afile"), "mine\n");
  writeFile(tmp / "mine/config.yaml", "my own notes\n");
  writeFile(tmp / "mine/notes.txt", "keep me\n");
  expectTrainRefusesAndKeeps(tmp, "cfg.yaml", "mine", {"notes.txt", "mine"});
}

TEST(Overwrite, AFinishedRunIsReplacedOnlyWithOverwrite) {
  TempDir tmp;
  writeFile(tmp / "one.yaml", tinyYaml(1, 0));
  writeFile(tmp / "two.yaml", tinyYaml(2, 1));
  ASSERT_EQ(runCliIn("train -q --config one.yaml --out run", tmp.path()).status, 0);
  const auto old = snapshot(tmp / "run");
  auto r = runCliIn("train -q --config two.yaml --out run", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(snapshot(tmp / "run"), old);

  r = runCliIn("train -q --config two.yaml --out run --overwrite", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(runCliIn("train -q --config two.yaml --out fresh", tmp.path()).status, 0);
  EXPECT_EQ(modelFiles(tmp / "run"), modelFiles(tmp / "fresh"));
  EXPECT_TRUE(hidden(tmp.path()).empty()) << "the replacement folder was left behind";
}

TEST(Overwrite, AReplacementKilledAtAnyCommitLeavesTheOldRunOrTheNewRun) {
  TempDir tmp;
  writeFile(tmp / "one.yaml", tinyYaml(1, 0));
  writeFile(tmp / "two.yaml", tinyYaml(2, 1));
  ASSERT_EQ(runCliIn("train -q --threads 1 --config one.yaml --out run", tmp.path()).status, 0);
  ASSERT_EQ(runCliIn("train -q --threads 1 --config two.yaml --out new", tmp.path()).status, 0);
  const auto old_run = snapshot(tmp / "run");
  const auto new_model = modelFiles(tmp / "new");
  const auto new_calibration = digest(tmp / "new/calibration.json");

  int kills = 0;
  for (int n = 1; n < 60; ++n) {
    const auto r = runCliIn("train -q --threads 1 --config two.yaml --out run --overwrite", tmp.path(),
                            "SHIFTAD_FAULT_KILL_AT_RENAME=" + std::to_string(n));
    if (r.status == 0) break;
    ASSERT_EQ(r.status, -9) << "commit " << n << ": " << r.output;
    // Killed after the swap: the new run, complete, with the calibration committed with it.
    if (modelFiles(tmp / "run") == new_model) {
      EXPECT_EQ(digest(tmp / "run/calibration.json"), new_calibration) << "killed at commit " << n;
      continue;
    }
    ++kills;
    // Killed before the new run was complete: the old run, untouched.
    EXPECT_EQ(snapshot(tmp / "run"), old_run) << "killed at commit " << n;
  }
  EXPECT_GE(kills, 6) << "a replacement commits config, checkpoints, weights, summary and calibration";
  EXPECT_EQ(modelFiles(tmp / "run"), new_model);
  EXPECT_TRUE(hidden(tmp.path()).empty());

  // A replacement interrupted half-way resumes into place with --resume.
  ASSERT_EQ(runCliIn("train -q --threads 1 --config one.yaml --out run --overwrite", tmp.path()).status, 0);
  const auto r = runCliIn("train -q --threads 1 --config two.yaml --out run --overwrite", tmp.path(),
                          "SHIFTAD_FAULT_KILL_AT_RENAME=" + std::to_string(kills - 1));
  ASSERT_EQ(r.status, -9) << r.output;
  ASSERT_EQ(runCliIn("train -q --threads 1 --resume run", tmp.path()).status, 0);
  EXPECT_EQ(modelFiles(tmp / "run"), new_model);
  EXPECT_TRUE(hidden(tmp.path()).empty());
}

TEST(Overwrite, ScoreNeverWritesOverItsInputsOrAnExistingFileUnasked) {
  TempDir tmp;
  writeFile(tmp / "cfg.yaml", tinyYaml(1, 0));
  ASSERT_EQ(runCliIn("train -q --config cfg.yaml --out run", tmp.path()).status, 0);
  fs::create_directories(tmp / "imgs");
  fs::copy(synthRoot() + "/target/circle", tmp / "imgs");
  const auto images = snapshot(tmp / "imgs");
  const auto first = fs::directory_iterator(tmp / "imgs")->path().string();

  // The output is one of the images.
  auto r = runCliIn("score -q --model run --images imgs --out " + first + " --overwrite", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(first), std::string::npos) << r.output;
  // The output is the list of images.
  writeFile(tmp / "list.txt", first + "\n");
  const auto list = readText(tmp / "list.txt");
  r = runCliIn("score -q --model run --images list.txt --out list.txt --overwrite", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(readText(tmp / "list.txt"), list);
  // The output is a folder.
  r = runCliIn("score -q --model run --images imgs --out imgs", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(snapshot(tmp / "imgs"), images);

  // An existing file is replaced only with --overwrite, and only one shiftad wrote (or
  // an empty one): a user's file stays, named directly or through a link.
  writeFile(tmp / "scores.csv", "mine\n");
  r = runCliIn("score -q --model run --images imgs --out scores.csv", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(readText(tmp / "scores.csv"), "mine\n");
  fs::create_symlink("scores.csv", tmp / "link.csv");
  for (const char* out : {"scores.csv", "link.csv"}) {
    r = runCliIn(std::string("score -q --model run --images imgs --out ") + out + " --overwrite", tmp.path());
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("is not a file shiftad wrote"), std::string::npos) << r.output;
    EXPECT_EQ(readText(tmp / "scores.csv"), "mine\n");
  }
  writeFile(tmp / "scores.csv", "");
  r = runCliIn("score -q --model run --images imgs --out scores.csv --overwrite", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(readText(tmp / "scores.csv").rfind("path,score,normalised_score,anomalous\n", 0), 0u);
  r = runCliIn("score -q --model run --images imgs --out link.csv --overwrite", tmp.path());  // now shiftad's
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_symlink(tmp / "link.csv"));
  // Nothing temporary is left anywhere.
  for (const auto& e : fs::recursive_directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(Overwrite, AUsersRunFileNamesAreNotARunWithoutShiftadsMarker) {
  // A user's experiment folder holding their own config.yaml (and files named like a
  // run's): `--out` that folder must refuse and touch nothing, with or without --overwrite.
  TempDir tmp;
  writeFile(tmp / "exp/config.yaml", tinyYaml(1, 0));
  writeFile(tmp / "exp/summary.json", "{\"mine\": true}\n");
  writeFile(tmp / "exp/lock", "my notes on locks\n");
  const auto before = snapshot(tmp / "exp");
  expectTrainRefusesAndKeeps(tmp, "exp/config.yaml", "exp", {"exp"});
  EXPECT_EQ(readText(tmp / "exp/lock"), "my notes on locks\n");
  // Nor is it a run to resume.
  const auto r = runCliIn("train -q --resume exp", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(snapshot(tmp / "exp"), before);
  // A run shiftad wrote carries its marker, and stays replaceable.
  ASSERT_EQ(runCliIn("train -q --config exp/config.yaml --out run", tmp.path()).status, 0);
  EXPECT_TRUE(fs::exists(tmp / ("run/" + std::string(shiftad::kRunMarkerFile))));
  EXPECT_EQ(runCliIn("train -q --config exp/config.yaml --out run --overwrite", tmp.path()).status, 0);
}

TEST(Overwrite, AUsersFolderWhereAReplacementIsBuiltIsNeverDeleted) {
  TempDir tmp;
  writeFile(tmp / "cfg.yaml", tinyYaml(1, 0));
  ASSERT_EQ(runCliIn("train -q --config cfg.yaml --out run", tmp.path()).status, 0);
  const auto old = snapshot(tmp / "run");
  for (const char* name : {".run.replacement", ".run.replacement.old"}) {
    writeFile(tmp / (std::string(name) + "/thesis.txt"), "three years\n");
    const auto r = runCliIn("train -q --config cfg.yaml --out run --overwrite", tmp.path());
    EXPECT_EQ(r.status, 1) << name << ": " << r.output;
    EXPECT_NE(r.output.find(name), std::string::npos) << r.output;
    EXPECT_EQ(readText(tmp / (std::string(name) + "/thesis.txt")), "three years\n") << name;
    EXPECT_EQ(snapshot(tmp / "run"), old) << name;
    fs::remove_all(tmp / name);
  }
}

TEST(Overwrite, ResumingAFinishedRunChangesNothing) {
  TempDir tmp;
  writeFile(tmp / "cfg.yaml", tinyYaml(1, 0));
  ASSERT_EQ(runCliIn("train -q --config cfg.yaml --out run", tmp.path()).status, 0);
  ASSERT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors")) << "the case that recalibrated the run";
  const auto before = snapshot(tmp / "run");
  const auto r = runCliIn("train -q --resume run", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("finished run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(snapshot(tmp / "run"), before);
}

TEST(Overwrite, ScoreAndExportNeverWriteIntoTheRunOrOverAPipe) {
  TempDir tmp;
  writeFile(tmp / "cfg.yaml", tinyYaml(1, 0));
  ASSERT_EQ(runCliIn("train -q --config cfg.yaml --out run", tmp.path()).status, 0);
  const auto run = snapshot(tmp / "run");
  const auto images = synthRoot() + "/target/circle";
  for (const char* f : {"run/model.safetensors", "run/config.yaml", "run/new.csv"}) {
    auto r = runCliIn("score -q --model run --images " + images + " --out " + f + " --overwrite", tmp.path());
    EXPECT_EQ(r.status, 1) << f << ": " << r.output;
    EXPECT_NE(r.output.find("inside the run directory"), std::string::npos) << r.output;
    r = runCliIn(std::string("export -q --model run --out ") + f + " --overwrite", tmp.path());
    EXPECT_EQ(r.status, 1) << f << ": " << r.output;
  }
  EXPECT_EQ(snapshot(tmp / "run"), run);
  ASSERT_EQ(mkfifo((tmp / "pipe").c_str(), 0600), 0);
  const auto r = runCliIn("score -q --model run --images " + images + " --out pipe --overwrite", tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_fifo(tmp / "pipe"));
  // A link is written through and kept; /dev/stdout (a link into /proc) is refused, never
  // replaced by a file (it was: every later program writing to it wrote into that file).
  writeFile(tmp / "real.csv", "path,score,normalised_score,anomalous\n");  // an earlier score's, of no image
  fs::create_symlink("real.csv", tmp / "latest.csv");
  ASSERT_EQ(runCliIn("score -q --model run --images " + images + " --out latest.csv --overwrite", tmp.path()).status,
            0);
  EXPECT_TRUE(fs::is_symlink(tmp / "latest.csv"));
  EXPECT_GT(readText(tmp / "real.csv").size(), std::string("path,score,normalised_score,anomalous\n").size());
  fs::create_symlink("/proc/self/fd/1", tmp / "stdout");
  const auto out = runCliIn("score -q --model run --images " + images + " --out stdout --overwrite", tmp.path());
  EXPECT_EQ(out.status, 1) << out.output;
  EXPECT_NE(out.output.find("a process's open file"), std::string::npos) << out.output;
  EXPECT_TRUE(fs::is_symlink(tmp / "stdout"));
}

TEST(Overwrite, ARunReplacedFromInsideItselfAsDotIsSwappedIn) {
  // rename() refuses ".": the swap renames the run by its full name.
  TempDir tmp;
  writeFile(tmp / "one.yaml", tinyYaml(1, 0));
  writeFile(tmp / "two.yaml", tinyYaml(2, 1));
  ASSERT_EQ(runCliIn("train -q --config one.yaml --out run", tmp.path()).status, 0);
  ASSERT_EQ(runCliIn("train -q --config two.yaml --out fresh", tmp.path()).status, 0);
  const auto r = runCliIn("train -q --config ../two.yaml --out . --overwrite", tmp / "run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(modelFiles(tmp / "run"), modelFiles(tmp / "fresh"));
  EXPECT_TRUE(hidden(tmp.path()).empty()) << "the replacement or the old run was left behind";
  // The calling shell is still in the removed folder: it is told how to enter the new one.
  EXPECT_NE(r.output.find("a shell started there is still in the old, removed folder"), std::string::npos) << r.output;
}
