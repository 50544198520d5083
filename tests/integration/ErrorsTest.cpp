// Every error a user can cause ends as ONE line on stderr, "shiftad: error: ...",
// naming the input (key or path), with a documented exit status (README.md, "Exit
// status"): 1 for bad input, data or runs, 2 for a bad command line. No LibTorch
// backtrace, no uncaught filesystem exception. Each case drives the `shiftad` binary.
#include <sys/wait.h>

#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/Synth.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::CliRun;
using shiftad::test::TempDir;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

/// `r` failed with `exit`, and stderr's error is one line, the last, naming every one of
/// `needles`; with `only_line`, nothing else was printed on stderr (-q runs).
void expectError(const CliRun& r, int exit, const std::vector<std::string>& needles, bool only_line = true) {
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit, exit);
  const auto ls = lines(r.err);
  ASSERT_FALSE(ls.empty());
  if (only_line) EXPECT_EQ(ls.size(), 1u);
  int errors = 0;
  for (const auto& l : ls) {
    errors += l.rfind("shiftad: error: ", 0) == 0;
    for (const char* trace : {"Exception raised from", "frame #", "terminate called", "what():", "filesystem error"})
      EXPECT_EQ(l.find(trace), std::string::npos) << "a backtrace or raw exception: " << l;
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(ls.back().rfind("shiftad: error: ", 0), 0u) << "the error must be the last line";
  for (const auto& n : needles) EXPECT_NE(ls.back().find(n), std::string::npos) << "lacks '" << n << "'";
}

const std::string& dataRoot() { return shiftad::test::smallSynthRoot(); }

/// A config on `root` (source -> target, normal class circle) that trains in a second.
std::string configFile(const TempDir& tmp, const std::string& root, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> ov = {
      "data.root=" + root,        "data.source=source",     "data.target=target",
      "data.normal_class=circle", "model.width=4",          "train.epochs=0",
      "train.batch_size=8",       "data.image_cache=false", "encoder.cache_dir=" + (tmp / "cache")};
  ov.insert(ov.end(), extra.begin(), extra.end());
  const auto path = tmp / "cfg.yaml";
  shiftad::test::writeFile(path, shiftad::dumpConfig(shiftad::parseConfig("", ov)));
  return path;
}

/// `shiftad train` of configFile(tmp, dataRoot(), extra) into tmp/run: whether it
/// succeeded (its stderr reported when not).
bool trainRun(const TempDir& tmp, const std::vector<std::string>& extra = {}) {
  const auto r = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--config", configFile(tmp, dataRoot(), extra), "--out", tmp / "run"},
      tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  return r.exit == 0;
}

/// A copy of the data root whose images of `domain`/`cls` are all replaced by junk.
std::string rootWithJunkClass(const TempDir& tmp, const std::string& domain, const std::string& cls) {
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  for (const auto& f : fs::directory_iterator(fs::path(root) / domain / cls))
    shiftad::test::writeFile(f.path().string(), "not an image");
  return root;
}

}  // namespace

TEST(Errors, UsageErrorsExitTwoWithOneLine) {
  TempDir tmp;
  expectError(shiftad::test::runCli({}, tmp.path()), 2, {"subcommand", "shiftad --help"});
  expectError(shiftad::test::runCli({"trian", "--out", "r"}, tmp.path()), 2,
              {"unknown subcommand 'trian'", "shiftad --help"});
  expectError(shiftad::test::runCli({"train", "-q", "--bogus"}, tmp.path()), 2, {"--bogus", "shiftad train --help"});
  expectError(shiftad::test::runCli({"score", "-q", "--model", "x", "--out", "y"}, tmp.path()), 2, {"--images"});
  // A mistyped option beside a missing required one: the mistyped one is named first.
  expectError(shiftad::test::runCli({"score", "-q", "--modle", "x", "--images", "y"}, tmp.path()), 2,
              {"unknown argument '--modle'", "--model is required", "shiftad score --help"});
  for (const char* shard : {"3/2", "0/2", "1", "a/b"})
    expectError(shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", "--shard", shard}, tmp.path()), 2,
                {"--shard: '" + std::string(shard) + "' is not I/N"});
  expectError(
      shiftad::test::runCli({"train", "-q", "--config", tmp / "missing.yaml", "--out", tmp / "run"}, tmp.path()), 2,
      {tmp / "missing.yaml"});
  // Numbers as the config reads them: decimal, no leading zero (CLI11 alone read "010"
  // as octal 8 and "0x10" as 16), in range, the range written plainly (not the
  // hundreds of digits of a double limit). Each refused before any work.
  const std::vector<std::pair<std::vector<std::string>, std::string>> numbers = {
      {{"synth", "--out", tmp / "s", "--seed", "010"}, "'010' is not a whole number in [0, 2147483647]"},
      {{"synth", "--out", tmp / "s", "--seed", "-1"}, "'-1' is not a whole number"},
      {{"synth", "--out", tmp / "s", "--seed", ""}, "'' is not a whole number"},
      {{"bench", "--suite", "synthetic", "--out", tmp / "b", "--seeds", "0x10"}, "'0x10' is not a whole number"},
      {{"config", "--threads", "5 "}, "'5 ' is not a whole number in [0, 1024]"},
      {{"config", "--threads", "2048"}, "'2048' is not a whole number in [0, 1024]"},
      {{"classify", "--weights", tmp / "c.yaml", "--image", tmp / "c.yaml", "--topk", "0"},
       "'0' is not a whole number in [1, 1048576]"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--dist-timeout", "1e10"},
       "'1e10' is not a number of seconds in [0.001, 604800]"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--dist-timeout", "nan"}, "'nan' is not a number"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--master", "127.0.0.1:29559x"},
       "'127.0.0.1:29559x' is not HOST:PORT with a port in [1, 65535]"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--master", "127.0.0.1:70000"}, "is not HOST:PORT"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--dist-timeout", "1e-9"},
       "'1e-9' is not a number of seconds in [0.001, 604800]"},
      // Data-parallel options that cannot mean what they say: each process trained alone,
      // or every one took rank 0.
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--rank", "1"}, "there is none: give --world-size N"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--master", "127.0.0.1:29500"},
       "there is none: give --world-size N"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--world-size", "2"},
       "--world-size 2 needs this process's rank"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--world-size", "2", "--rank", "2"},
       "--rank 2 is not a rank of a world of 2"},
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--world-size", "1", "--rank", "1"},
       "--rank 1 is not a rank of a world of 1"},
      // A --set that is not key=value, on every command taking one (it was exit 1, as bad data).
      {{"train", "--config", tmp / "c.yaml", "--out", tmp / "r", "--set", "train.lr"},
       "'train.lr': expected section.key=value"},
      {{"config", "--set", "=1"}, "'=1': expected section.key=value"},
      {{"bench", "--suite", "synthetic", "--out", tmp / "b", "--set", "nokeyvalue"}, "'nokeyvalue': expected"},
      {{"eval", "--model", tmp / "r", "--set", "data.root"}, "'data.root': expected section.key=value"},
  };
  shiftad::test::writeFile(tmp / "c.yaml", "");
  for (const auto& [args, says] : numbers) expectError(shiftad::test::runCli(args, tmp.path()), 2, {says});
  EXPECT_FALSE(fs::exists(tmp / "s")) << "synth wrote data before refusing its seed";
}

TEST(Errors, HelpDocumentsTheExitStatus) {
  TempDir tmp;
  const auto r = shiftad::test::runCli({"--help"}, tmp.path());
  EXPECT_EQ(r.exit, 0);
  for (const char* code : {"Exit status", "  0 ", "  1 ", "  2 ", "  130 ", "  143 "})
    EXPECT_NE(r.out.find(code), std::string::npos) << code << " not in:\n" << r.out;
}

TEST(Errors, ConfigErrorsNameTheFileAndKey) {
  TempDir tmp;
  shiftad::test::writeFile(tmp / "bad.yaml", "data: [1\n");
  expectError(shiftad::test::runCli({"config", "-q", "--config", tmp / "bad.yaml"}, tmp.path()), 1,
              {tmp / "bad.yaml", "invalid YAML at line"});
  shiftad::test::writeFile(tmp / "unknown.yaml", "cluster:\n  kk: 3\n");
  expectError(shiftad::test::runCli({"config", "-q", "--config", tmp / "unknown.yaml"}, tmp.path()), 1,
              {tmp / "unknown.yaml", "'cluster.kk'", "cluster.k"});
  shiftad::test::writeFile(tmp / "type.yaml", "train:\n  epochs: ten\n");
  expectError(shiftad::test::runCli({"config", "-q", "--config", tmp / "type.yaml"}, tmp.path()), 1,
              {tmp / "type.yaml", "'train.epochs'", "'ten'", "an integer"});
  // Out of range numbers name the key and the range, even beyond float32 and size_t.
  for (const char* set : {"train.svdd_eps=1e300", "data.max_skipped=1e300", "align.lambda=-1"}) {
    const std::string key = std::string(set).substr(0, std::string(set).find('='));
    expectError(shiftad::test::runCli({"config", "-q", "--set", set}, tmp.path()), 1,
                {"'" + key + "'", "a number in ["});
  }
}

TEST(Errors, EveryFileOfASetUnreadableIsOneLineNotATensorError) {
  TempDir tmp;
  const auto root = rootWithJunkClass(tmp, "source", "circle");
  const auto r = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--config", configFile(tmp, root), "--out", tmp / "run"}, tmp.path());
  // The unreadable files are warned about (the first few, then a count) before the error.
  expectError(r, 1, {"none of the 10 source images could be read", (fs::path(root) / "source/circle").string()},
              /*only_line=*/false);
  EXPECT_NE(r.err.find("... and 5 more unreadable images"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("reshape"), std::string::npos) << r.err;
}

TEST(Errors, AnEncoderGivingNaNFeaturesIsNamed) {
  // It failed as "a two-component mixture needs 2 distinct values", or as the run's own
  // reference.safetensors holding NaN.
  TempDir tmp;
  shiftad::test::runPython("errors_tuple_encoder.py", tmp.path());
  const auto encoder = tmp / "nan_encoder.pt";
  for (const char* method : {"score.method=frozen_mean", "cluster.space=frozen"}) {
    const auto cfg = configFile(
        tmp, dataRoot(), {"encoder.type=torchscript", "encoder.path=" + encoder, "encoder.image_size=32", method});
    const auto r =
        shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run"}, tmp.path());
    expectError(r, 1, {"encoder.path '" + encoder + "' returned NaN or Inf features for"});
  }
}

TEST(Errors, TupleReturningEncoderSaysWhatItReturned) {
  TempDir tmp;
  shiftad::test::runPython("errors_tuple_encoder.py", tmp.path());
  const auto encoder = tmp / "tuple_encoder.pt";
  const auto cfg = configFile(
      tmp, dataRoot(),
      {"encoder.type=torchscript", "encoder.path=" + encoder, "encoder.image_size=32", "score.method=frozen_mean"});
  const auto r =
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run"}, tmp.path());
  expectError(r, 1,
              {"encoder.path '" + encoder + "'", "returned a tuple of 2", "[10 x 8]", "expected one N x D tensor"});
}

TEST(Errors, MissingRunAndNonImageFolder) {
  TempDir tmp;
  shiftad::test::writeFile(tmp / "notes/a.txt", "text");
  expectError(
      shiftad::test::runCli(
          {"score", "-q", "--model", tmp / "no-run", "--images", tmp / "notes", "--out", tmp / "s.csv"}, tmp.path()),
      1, {tmp / "no-run"});
  ASSERT_TRUE(trainRun(tmp));
  expectError(
      shiftad::test::runCli({"score", "-q", "--model", tmp / "run", "--images", tmp / "notes", "--out", tmp / "s.csv"},
                            tmp.path()),
      1, {tmp / "notes", "holds no image"});
  expectError(shiftad::test::runCli({"eval", "-q", "--model", tmp / "no-run"}, tmp.path()), 1, {tmp / "no-run"});
}

/// `shiftad ARGS` through the shell with stdout sent to `stdout_to` (a shell
/// redirection's target, "&-" for closed) and stderr captured.
CliRun runWithStdout(const TempDir& tmp, const std::string& args, const std::string& stdout_to) {
  const auto err = tmp / "stderr.txt";
  const auto cmd = std::string(SHIFTAD_BINARY_DIR) + "/shiftad " + args + " 2>'" + err + "' >" + stdout_to;
  CliRun r;
  const int raw = std::system(cmd.c_str());
  r.exit = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.err = shiftad::test::readText(err);
  return r;
}

TEST(Errors, OutputThatDoesNotReachStandardOutputIsAnError) {
  // `shiftad score --out - > scores.csv` on a full disk wrote part of the CSV and exited 0.
  TempDir tmp;
  ASSERT_TRUE(trainRun(tmp));
  const auto images = dataRoot() + "/target/star";
  const auto score = "score -q --threads 1 --model '" + tmp / "run" + "' --images '" + images + "' --out -";
  expectError(runWithStdout(tmp, score, "/dev/full"), 1, {"cannot write to standard output", "No space left"});
  expectError(runWithStdout(tmp, "check-data -q --threads 1 '" + dataRoot() + "'", "/dev/full"), 1,
              {"cannot write to standard output"});
  shiftad::test::writeFile(tmp / "paths.txt", fs::directory_iterator(images)->path().string() + "\n");
  const auto stream = "score -q --model '" + tmp / "run" + "' --images - --out - < '" + tmp / "paths.txt" + "'";
  expectError(runWithStdout(tmp, stream, "/dev/full"), 1, {"cannot write to standard output"});
  // Closed, it would hand descriptor 1 to the first file opened: refused before any work.
  expectError(runWithStdout(tmp, score, "&-"), 1, {"standard output is closed", "--out FILE"});
  EXPECT_EQ(runWithStdout(tmp, score, "/dev/null").exit, 0);
}

TEST(Errors, OutputsThatCannotBeWrittenAndInterruptedRunsAreNamedBeforeAnyWork) {
  TempDir tmp;
  ASSERT_TRUE(trainRun(tmp));
  const auto images = dataRoot() + "/target/circle";
  const auto score = [&](const std::string& out, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"score",     "-q",       "--threads", "1",     "--model",
                                     tmp / "run", "--images", images,      "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return shiftad::test::runCli(args, tmp.path());
  };
  // Before scoring, not at the write: an empty path, a missing folder, a path ending in '/'.
  expectError(score(""), 1, {"--out is empty"});
  expectError(score(tmp / "nodir/s.csv"), 1, {"its folder '" + (tmp / "nodir") + "' does not exist"});
  expectError(score(tmp / "s.csv/"), 1, {"is a folder"});
  expectError(score(tmp / "scores.png"), 1, {"--out '" + (tmp / "scores.png") + "' is named like an image (.png)"});
  expectError(shiftad::test::runCli({"export", "-q", "--model", tmp / "run", "--out", tmp / "m.JPG"}, tmp.path()), 1,
              {"is named like an image (.JPG) but is an .onnx file"});
  expectError(
      shiftad::test::runCli({"export", "-q", "--model", tmp / "run", "--out", tmp / "nodir/m.onnx"}, tmp.path()), 1,
      {"does not exist"});
  // '-' is standard output for score alone: export and eval made a file named '-'.
  expectError(shiftad::test::runCli({"export", "-q", "--model", tmp / "run", "--out", "-"}, tmp.path()), 1,
              {"--out -: only `score` writes to standard output; this command writes an .onnx file"});
  expectError(shiftad::test::runCli({"eval", "-q", "--model", tmp / "run", "--out", "-"}, tmp.path()), 1,
              {"--out -: only `score` writes to standard output"});
  EXPECT_FALSE(fs::exists(tmp / "-"));
  // --max-skipped takes what data.max_skipped takes: no NaN, infinity or hex.
  for (const char* bad : {"nan", "inf", "1e400", "0x10", "-1"})
    expectError(score(tmp / "s.csv", {"--max-skipped", bad}), 2, {"--max-skipped", bad});
  // eval --set of a key eval does not read is said, not silently ignored.
  const auto eval = [&](const std::string& set) {
    return shiftad::test::runCli({"eval", "-q", "--threads", "1", "--model", tmp / "run", "--set", set}, tmp.path());
  };
  auto e = eval("model.width=16");
  EXPECT_EQ(e.exit, 0) << e.err;
  EXPECT_NE(e.err.find("eval --set model.width=16: eval reads only the split"), std::string::npos) << e.err;
  e = eval("data.split_seed=0");
  EXPECT_EQ(e.exit, 0) << e.err;
  EXPECT_EQ(e.err.find("eval reads only"), std::string::npos) << e.err;
  // A key that does not exist is its error alone (it was first said to "change nothing").
  e = eval("data.seed=5");
  EXPECT_EQ(e.exit, 1) << e.err;
  EXPECT_NE(e.err.find("unknown config key 'data.seed'"), std::string::npos) << e.err;
  EXPECT_EQ(e.err.find("eval reads only"), std::string::npos) << e.err;
  // A run stopped before its end names the command that finishes it.
  fs::remove(tmp / "run/model.safetensors");
  fs::remove(tmp / "run/summary.json");  // written at the end: without it, the run did not finish
  shiftad::test::writeFile(tmp / "run/checkpoint.safetensors", "x");
  expectError(score(tmp / "s.csv"), 1, {"stopped before the end", "shiftad train --resume " + (tmp / "run")});
  // Killed before its first checkpoint: still a run (marker, config), which --resume starts over.
  for (const char* written_later : {"checkpoint.safetensors", "summary.json", "calibration.json"})
    fs::remove(tmp / (std::string("run/") + written_later));
  expectError(score(tmp / "s.csv"), 1,
              {"stopped before its first checkpoint", "shiftad train --resume " + (tmp / "run")});
  const auto resumed = shiftad::test::runCli({"train", "-q", "--threads", "1", "--resume", tmp / "run"}, tmp.path());
  EXPECT_EQ(resumed.exit, 0) << resumed.err;
  EXPECT_EQ(score(tmp / "s.csv").exit, 0);
}

TEST(Errors, CheckDataSurvivesSymlinkLoops) {
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  const auto cls = fs::path(root) / "source" / "circle";
  fs::create_symlink("loop.png", cls / "loop.png");  // a link to itself
  fs::create_symlink("b.png", cls / "a.png");        // a <-> b
  fs::create_symlink("a.png", cls / "b.png");
  fs::create_directory_symlink("..", cls / "up");                                  // a folder loop: not followed
  fs::create_directory_symlink("loopdir", fs::path(root) / "source" / "loopdir");  // a "class" that is a loop
  const auto r = shiftad::test::runCli({"check-data", "-q", root}, tmp.path());
  // The class that is a loop is a problem (it was passed over); the domain's other classes are still checked.
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_NE(r.out.find(root + "/source/loopdir' is a symbolic link to 'loopdir', which cannot be followed"),
            std::string::npos)
      << r.out;
  for (const char* name : {"loop.png", "a.png", "b.png"})
    EXPECT_NE(r.out.find((cls / name).string() + ": image '" + (cls / name).string() + "' cannot be opened"),
              std::string::npos)
        << name << " not listed as unreadable:\n"
        << r.out;
  EXPECT_NE(r.out.find("symbolic links"), std::string::npos) << r.out;
}

TEST(Errors, UnreadableClassFolderIsNamedNotEmpty) {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);  // the run below may be unprivileged (user nobody)
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  const auto locked = fs::path(root) / "target" / "square";
  ::chmod(locked.c_str(), 0);
  const auto check = shiftad::test::runCli({"check-data", "-q", root}, tmp.path(), /*unprivileged=*/true);
  ::chmod(locked.c_str(), 0755);  // so that TempDir can remove it
  if (check.exit == 126) GTEST_SKIP() << "cannot drop root privileges here";
  EXPECT_EQ(check.exit, 1) << check.err;
  EXPECT_NE(check.out.find("folder '" + locked.string() + "' cannot be read: permission denied"), std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("empty"), std::string::npos) << check.out;

  ::chmod(locked.c_str(), 0);
  const auto train = shiftad::test::runCli({"train", "-q", "--config", configFile(tmp, root), "--out", tmp / "run"},
                                           tmp.path(), /*unprivileged=*/true);
  ::chmod(locked.c_str(), 0755);
  expectError(train, 1, {"folder '" + locked.string() + "' cannot be read: permission denied"});
}

TEST(Errors, OutputFoldersThatCannotBeCreatedAreNamed) {
  TempDir tmp;
  shiftad::test::writeFile(tmp / "a_file", "x");
  expectError(shiftad::test::runCli(
                  {"train", "-q", "--threads", "1", "--config", configFile(tmp, dataRoot()), "--out", tmp / "a_file"},
                  tmp.path()),
              1, {"'" + (tmp / "a_file") + "'"});
  expectError(
      shiftad::test::runCli(
          {"bench", "-q", "--suite", "synthetic", "--root", dataRoot(), "--out", tmp / "a_file/bench"}, tmp.path()),
      1, {"--out '" + (tmp / "a_file/bench") + "' cannot be created"});
  // The demo writes through the bench, and its errors name its own option, not bench's.
  const auto demo = shiftad::test::runCli({"demo", "-q", "--out", tmp / "a_file/demo"}, tmp.path());
  expectError(demo, 1, {tmp / "a_file/demo"});
  EXPECT_EQ(demo.err.find("bench --out"), std::string::npos) << demo.err;
  // A run below a file, or at a link to nowhere, says which (it said "fit into 'X': 'X':
  // Not a directory" and "File exists").
  const auto train = [&](const std::string& out) {
    return shiftad::test::runCli(
        {"train", "-q", "--threads", "1", "--config", configFile(tmp, dataRoot()), "--out", out}, tmp.path());
  };
  expectError(
      train(tmp / "a_file/sub"), 1,
      {"cannot write the run '" + (tmp / "a_file/sub") + "'", "'" + (tmp / "a_file") + "' is a file, not a folder"});
  fs::create_directory_symlink(tmp / "nowhere", tmp / "dangling");
  expectError(train(tmp / "dangling"), 1,
              {"cannot write the run '" + (tmp / "dangling") + "': it is a symbolic link to '" + (tmp / "nowhere") +
               "', which does not exist"});
}

TEST(Errors, ARunInsideAnotherRunIsRefused) {
  // Replacing the outer run would delete the inner one; `score`/`export` refuse outputs there too.
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot());
  const auto outer =
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run"}, tmp.path());
  ASSERT_EQ(outer.exit, 0) << outer.err;
  for (const auto& inner : {tmp / "run/sub", tmp / "run/a/b"})
    expectError(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", inner}, tmp.path()),
                1, {"lies inside the run folder '" + (tmp / "run") + "'"});
  EXPECT_FALSE(fs::exists(tmp / "run/sub"));
  EXPECT_FALSE(fs::exists(tmp / "run/a"));
}

TEST(Errors, ARunOrCacheInsideTheDataIsRefusedBeforeAnythingIsMade) {
  // A run in the target domain trained, then failed at calibration on its own folder
  // (an empty class) and stayed, stopping every later run on the data.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  const auto cfg = configFile(tmp, root);
  expectError(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", root + "/target/myrun"},
                                    tmp.path()),
              1, {"the run folder", "lies in the data's domain folder", "target"});
  EXPECT_FALSE(fs::exists(root + "/target/myrun"));
  expectError(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--set",
                                     "encoder.cache_dir=" + root + "/source/cache", "--out", tmp / "run"},
                                    tmp.path()),
              1, {"encoder.cache_dir", "lies in the data's domain folder", "source"});
  EXPECT_FALSE(fs::exists(root + "/source/cache"));
  EXPECT_FALSE(fs::exists(tmp / "run"));
  // Beside the domains (the data root itself holds other folders) is fine.
  const auto beside =
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", root + "/runs/a"}, tmp.path());
  EXPECT_EQ(beside.exit, 0) << beside.err;
  // At the data root itself its folders would be domains (a cache's images/, features/).
  expectError(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", root}, tmp.path()), 1,
              {"the run folder '" + root + "' is the data root", "'" + root + "/runs'"});
  expectError(shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--set",
                                     "encoder.cache_dir=" + root + "/", "--out", tmp / "run"},
                                    tmp.path()),
              1, {"encoder.cache_dir '" + root + "/' is the data root", "'" + root + "/cache'"});
  EXPECT_FALSE(fs::exists(root + "/images"));
  // Beside the domains, a run and a cache are named by check-data and passed over: the
  // data still checks clean (before: class 'a' of domain 'runs' held no image, exit 1).
  const auto cached = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--config", cfg, "--set", "encoder.cache_dir=" + root + "/cache", "--set",
       "data.image_cache=true", "--out", root + "/runs/b"},
      tmp.path());
  ASSERT_EQ(cached.exit, 0) << cached.err;
  ASSERT_TRUE(fs::exists(root + "/cache/images"));
  const auto check = shiftad::test::runCli({"check-data", "-q", "--threads", "1", root}, tmp.path());
  EXPECT_EQ(check.exit, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("shiftad run folders and caches in the data (not data: passed over) (3)"), std::string::npos)
      << check.out;
  for (const auto& output : {root + "/cache", root + "/runs/a", root + "/runs/b"})
    EXPECT_NE(check.out.find("  " + output + "\n"), std::string::npos) << output << "\n" << check.out;
}

TEST(Errors, ARunThatLostItsCalibrationSaysSoWhenItCalibratesAgain) {
  // Its dominant.txt gone too, the threshold came from the whole pool (0.94 -> 0.75 for
  // an image's normalised score) with an info line calling it a run of an old version.
  TempDir tmp;
  ASSERT_TRUE(trainRun(tmp, {"train.epochs=1"}));
  ASSERT_TRUE(fs::exists(tmp / "run/dominant.txt"));
  const auto image = fs::directory_iterator(dataRoot() + "/target/star")->path().string();
  const std::vector<std::string> score = {"score",    "--threads", "1",     "--model", tmp / "run",
                                          "--images", image,       "--out", "-"};
  fs::remove(tmp / "run/calibration.json");
  auto r = shiftad::test::runCli(score, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find(
                "has no calibration.json (deleted or lost; training wrote one): calibrating again on its dominant.txt"),
            std::string::npos)
      << r.err;
  fs::remove(tmp / "run/dominant.txt");
  r = shiftad::test::runCli(score, tmp.path());
  EXPECT_NE(r.err.find("calibrating again on the whole pool of its config (its dominant.txt is gone too"),
            std::string::npos)
      << r.err;
  // What the warning says stores the new calibration: `train --resume` trains nothing more
  // and writes it; later loads are quiet.
  const auto resume_hint = "`shiftad train --resume " + tmp / "run" + "`";
  EXPECT_NE(r.err.find(resume_hint), std::string::npos) << r.err;
  r = shiftad::test::runCli({"train", "--threads", "1", "-q", "--resume", tmp / "run"}, tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "run/calibration.json"));
  r = shiftad::test::runCli(score, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.err.find("has no calibration.json"), std::string::npos) << r.err;
}

TEST(Errors, AUsersFolderAsTheRunIsNamedAsSuchEvenWithTheCacheInside) {
  // `train --out .` in a project folder holding the cache was refused for the cache.
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot(), {"encoder.cache_dir=" + tmp / "proj/cache"});
  shiftad::test::writeFile(tmp / "proj/notes.txt", "mine");
  expectError(
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "proj"}, tmp.path()), 1,
      {"is not a shiftad run directory", "notes.txt"});
  EXPECT_EQ(shiftad::test::readText(tmp / "proj/notes.txt"), "mine");
}

TEST(Errors, ARunDirectoryThatIsAFileIsNamedAsOne) {
  TempDir tmp;
  shiftad::test::writeFile(tmp / "afile", "x");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"train", "-q", "--resume", tmp / "afile"},
                                               std::vector<std::string>{"eval", "-q", "--model", tmp / "afile"}})
    expectError(shiftad::test::runCli(args, tmp.path()), 1, {tmp / "afile", "is a file, not a run directory"});
}

TEST(Errors, LibTorchOutOfMemoryIsOneLineSayingWhatToLower) {
  // Images of 1024 x 1024 under a 6 GB address-space limit: LibTorch's allocator fails
  // (its message carries a C++ backtrace), and the CLI must say what to lower.
  TempDir tmp;
  const auto cfg =
      configFile(tmp, shiftad::test::synthRoot(), {"data.image_size=1024", "train.epochs=1", "train.batch_size=64"});
  const std::string cmd = "ulimit -v 6000000; " + std::string(SHIFTAD_BINARY_DIR) +
                          "/shiftad train -q --threads 1 --config " + cfg + " --out " + (tmp / "run") + " 2>&1";
  FILE* pipe = popen(("bash -c '" + cmd + "'").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << out;
  EXPECT_NE(out.find("shiftad: error: out of memory"), std::string::npos) << out;
  EXPECT_NE(out.find("train.batch_size"), std::string::npos) << out;
  EXPECT_NE(out.find("cluster.covariance diag"), std::string::npos) << out;  // GMM's k x d x d, which neither lowers
  EXPECT_EQ(out.find("frame #"), std::string::npos) << out;
}

TEST(Errors, ThreadsAboveTheLimitAreAUsageError) {
  TempDir tmp;
  expectError(shiftad::test::runCli(
                  {"score", "-q", "--threads", "100000", "--model", "x", "--images", "y", "--out", "z"}, tmp.path()),
              2, {"--threads", "1024"});
}

TEST(Errors, ABadGridIsRefusedBeforeAnythingIsWritten) {
  TempDir tmp;
  const auto demo = shiftad::test::runCli({"demo", "-q", "--seeds", "0,-1", "--out", tmp / "demo"}, tmp.path());
  expectError(demo, 2, {"--seeds", "-1"});
  EXPECT_FALSE(fs::exists(tmp / "demo")) << "the demo wrote its data before refusing";
  expectError(
      shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", "--seeds", "-3", "--out", tmp / "b"}, tmp.path()),
      2, {"--seeds", "-3"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
  // An unknown class or domain, found before the first run (the runs before it were spent).
  const auto synth = dataRoot();
  expectError(shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", "--root", synth, "--classes",
                                     "circle,hexagon", "--out", tmp / "b"},
                                    tmp.path()),
              1, {"class 'hexagon' (of --classes or the suite's 'classes') is not a class of domain 'source'"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
  shiftad::test::writeFile(tmp / "same.yaml", "suite: same\nroot: " + synth +
                                                  "\ndirections: [[source, target], [target, ./target]]\n"
                                                  "seeds: [0]\nvariants: [source_only]\n");
  expectError(shiftad::test::runCli({"bench", "-q", "--suite", tmp / "same.yaml", "--out", tmp / "b"}, tmp.path()), 1,
              {"direction [target, ./target]: the same domain twice"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
  // A grid entry twice would run and count the same runs twice.
  for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
           {"--seeds", "0,1,0"}, {"--classes", "circle,circle"}, {"--variants", "source_only,source_only"}})
    expectError(
        shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", option, value, "--out", tmp / "b"}, tmp.path()),
        1, {option + " names", "twice"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
  // An entry left out by mistake ran the others without a word (CLI11's delimiter drops it).
  for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
           {"--seeds", "0,,1"}, {"--classes", "circle,"}, {"--variants", ",source_only"}})
    expectError(
        shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", option, value, "--out", tmp / "b"}, tmp.path()),
        2, {option, "'" + value + "': entry", "is empty"});
  expectError(shiftad::test::runCli({"demo", "-q", "--seeds", "1,", "--out", tmp / "demo"}, tmp.path()), 2,
              {"--seeds", "'1,': entry 2 is empty"});
  expectError(shiftad::test::runCli({"demo", "-q", "--seeds", "1,x", "--out", tmp / "demo"}, tmp.path()), 2,
              {"--seeds", "'x' is not a whole number"});
  EXPECT_FALSE(fs::exists(tmp / "b") || fs::exists(tmp / "demo"));
  // A sweep value left out by mistake ran the others without a word; -0 and 0 ran twice.
  for (const std::string& sweep : {"train.lr=0.1,,0.2", "train.lr=0.1,"})
    expectError(
        shiftad::test::runCli(
            {"bench", "-q", "--suite", "synthetic", "--root", synth, "--sweep", sweep, "--out", tmp / "b"}, tmp.path()),
        1, {"--sweep '" + sweep + "': value 2 is empty"});
  expectError(shiftad::test::runCli({"bench", "-q", "--suite", "synthetic", "--root", synth, "--sweep", "train.lr=-0,0",
                                     "--out", tmp / "b"},
                                    tmp.path()),
              1, {"'train.lr=-0' and 'train.lr=0' are the same value"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
}

TEST(Errors, SyntheticDataIsNeverWrittenOverAUsersFiles) {
  // `demo --out D` writes its data to D/data; a user's D/data is left as it is.
  TempDir tmp;
  shiftad::test::writeFile(tmp / "d/data/thesis.txt", "mine");
  const auto demo = shiftad::test::runCli({"demo", "-q", "--out", tmp / "d"}, tmp.path());
  expectError(demo, 1, {"'" + (tmp / "d/data") + "' holds files", "thesis.txt", "left alone"});
  EXPECT_EQ(demo.err.find("synth --out"), std::string::npos) << demo.err;
  expectError(shiftad::test::runCli({"synth", "-q", "--out", tmp / "d/data"}, tmp.path()), 1, {"thesis.txt"});
  EXPECT_EQ(shiftad::test::readText(tmp / "d/data/thesis.txt"), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "d/data"), {}), 1);
}

TEST(Errors, SyntheticDataGoesOnlyIntoANewEmptyOrMarkedFolder) {
  // A user's data set laid out like the benchmark (source/ and target/ only), as OUT or
  // as a demo's OUT/data, is not the benchmark's: refused, every image kept.
  TempDir tmp;
  for (const char* root : {"u", "d/data"}) {
    shiftad::test::writeFile(tmp / root + "/source/circle/0000.png", "mine");
    shiftad::test::writeFile(tmp / root + "/target/circle/0000.png", "mine too");
  }
  expectError(shiftad::test::runCli({"synth", "-q", "--out", tmp / "u"}, tmp.path()), 1,
              {"'" + (tmp / "u") + "'", "marker", "left alone"});
  expectError(shiftad::test::runCli({"demo", "-q", "--out", tmp / "d"}, tmp.path()), 1,
              {"'" + (tmp / "d/data") + "'", "marker", "left alone"});
  for (const char* root : {"u", "d/data"}) {
    EXPECT_EQ(shiftad::test::readText(tmp / root + "/source/circle/0000.png"), "mine") << root;
    EXPECT_EQ(shiftad::test::readText(tmp / root + "/target/circle/0000.png"), "mine too") << root;
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp / root + "/source/circle"), {}), 1) << root;
  }
  // An empty --out would write into the working directory.
  TempDir cwd;
  const auto empty = shiftad::test::runCliIn("synth -q --out ''", cwd.path());
  EXPECT_EQ(empty.status, 1) << empty.output;
  EXPECT_NE(empty.output.find("shiftad: error: the synthetic benchmark's folder is '' (it would be written into the "
                              "working directory)"),
            std::string::npos)
      << empty.output;
  for (const char* name : {"source", "target", ".shiftad-synth"})
    EXPECT_FALSE(fs::exists(cwd / name)) << "synth wrote into the working directory: " << name;
  // The benchmark's own folder is rewritten: a second synth into it runs.
  const auto first = shiftad::test::runCli({"synth", "-q", "--out", tmp / "s"}, tmp.path());
  ASSERT_EQ(first.exit, 0) << first.err;
  EXPECT_TRUE(fs::exists(tmp / "s/.shiftad-synth"));
  const auto again = shiftad::test::runCli({"synth", "-q", "--out", tmp / "s"}, tmp.path());
  EXPECT_EQ(again.exit, 0) << again.err;
  // What a user added inside its domains is not the benchmark's: an image, a class, a note
  // (they were deleted with exit 0). Each alone is refused, and kept.
  for (const auto& [added, named] : std::vector<std::pair<std::string, std::string>>{
           {"source/circle/my_extra_shot.png", "source/circle/my_extra_shot.png"},
           {"target/my_class/a.png", "target/my_class"},
           {"source/NOTES.txt", "source/NOTES.txt"}}) {
    shiftad::test::writeFile(tmp / "s/" + added, "mine");
    expectError(shiftad::test::runCli({"synth", "-q", "--out", tmp / "s"}, tmp.path()), 1,
                {"'" + (tmp / "s/" + named) + "' is not one the synthetic benchmark writes", "would delete it"});
    EXPECT_EQ(shiftad::test::readText(tmp / "s/" + added), "mine") << added;
    fs::remove(tmp / "s/" + added);
  }
  fs::remove(tmp / "s/target/my_class");
  // It is written aside and moved into place: a synth killed half-way left domains with
  // part of their images, which check-data passed and training used. What such a run
  // leaves aside (hidden: no listing reads it) is the benchmark's, replaced by the next.
  shiftad::test::writeFile(tmp / "s/.synth-partial/source/circle/0000.png", "half");
  fs::remove_all(tmp / "s/target");
  const auto after_kill = shiftad::test::runCli({"synth", "-q", "--out", tmp / "s"}, tmp.path());
  EXPECT_EQ(after_kill.exit, 0) << after_kill.err;
  EXPECT_FALSE(fs::exists(tmp / "s/.synth-partial"));
  for (const char* domain : {"source", "target"})
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "s/" + domain + "/circle"), {}),
              std::distance(fs::directory_iterator(tmp / "s/" + domain + "/star"), {}))
        << domain;
  // Inside a run folder it would be the run's foreign files: refused, as a run inside a run.
  ASSERT_TRUE(trainRun(tmp));
  expectError(shiftad::test::runCli({"synth", "-q", "--out", tmp / "run/data"}, tmp.path()), 1,
              {"lies inside the run folder '" + (tmp / "run") + "'"});
  EXPECT_FALSE(fs::exists(tmp / "run/data"));
}

TEST(Errors, TheDefaultCacheFolderFollowsTheXdgRulesAndAnUnwritableOneWarnsOnce) {
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot(), {"encoder.cache_dir=\"\"", "data.image_cache=true"});
  const auto train = [&](const std::string& out, const std::string& env) {
    return shiftad::test::runCliIn("train --threads 1 --config " + cfg + " --out " + (tmp / out), tmp.path(), env);
  };
  // Neither XDG_CACHE_HOME nor HOME: ./.shiftad-cache, and said so.
  auto r = train("run1", "-u HOME -u XDG_CACHE_HOME");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("neither XDG_CACHE_HOME nor HOME is set"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_directory(tmp / ".shiftad-cache"));
  // A relative XDG_CACHE_HOME is invalid (XDG Base Directory spec): HOME's cache.
  r = train("run2", "XDG_CACHE_HOME=rel HOME=" + (tmp / "home"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_directory(tmp / "home/.cache/shiftad"));
  EXPECT_FALSE(fs::exists(tmp / "rel"));
  // A cache folder that cannot be made (XDG_CACHE_HOME is a file): one warning per run,
  // not one per image cache.
  shiftad::test::writeFile(tmp / "afile", "x");
  r = train("run3", "XDG_CACHE_HOME=" + (tmp / "afile"));
  EXPECT_EQ(r.status, 0) << r.output;
  size_t warnings = 0;
  for (auto at = r.output.find("cannot write the image cache"); at != std::string::npos;
       at = r.output.find("cannot write the image cache", at + 1))
    ++warnings;
  EXPECT_EQ(warnings, 1u) << r.output;
}

TEST(Errors, AClusterCountThatFillsThePoolIsSaid) {
  // K-means clamps K to the rows; with K >= the pool every row is its own cluster and
  // the "dominant" set one image: allowed, but never silent.
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot(), {"train.epochs=1", "cluster.space=self", "cluster.k=4096"});
  const auto r =
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run"}, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("cluster.k = 4096 is not below"), std::string::npos) << r.err;
}

TEST(Errors, ATinyTestSplitAndANeighbourCountAboveTheSourceAreSaid) {
  TempDir tmp;
  // 10 target images a class, 8 of them in the pool: 2 test normals.
  ASSERT_TRUE(trainRun(tmp, {"data.pool_fraction=0.8"}));
  const auto e = shiftad::test::runCli({"eval", "-q", "--threads", "1", "--model", tmp / "run"}, tmp.path());
  EXPECT_EQ(e.exit, 0) << e.err;
  EXPECT_NE(e.err.find("the test split holds 2 normal and"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("one image moves the AUROC by up to 0.50"), std::string::npos) << e.err;
  // frozen_knn over more neighbours than the 10 source circles averages over all of them.
  const auto cfg = configFile(tmp, dataRoot(), {"encoder.type=backbone", "score.knn_k=1000"});
  const auto r = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--variant", "frozen_knn", "--config", cfg, "--out", tmp / "knn"}, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("score.knn_k = 1000 is more than the 10 source images"), std::string::npos) << r.err;
}

TEST(Errors, ControlCharactersInNamesFromTheDataAreEscapedInLogAndErrorLines) {
  // A file named "x\r\033[2K.png" erased, on a terminal, the warning that named it.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  shiftad::test::writeFile(root + "/source/circle/x\r\033[2K.png", "");
  const auto r = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--config", configFile(tmp, root), "--out", tmp / "run"}, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("x\\r\\x1B[2K.png"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\033'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  // The error line too.
  const auto e =
      shiftad::test::runCli({"eval", "-q", "--threads", "1", "--model", tmp / "no\033]0;title\007run"}, tmp.path());
  EXPECT_EQ(e.exit, 1) << e.err;
  EXPECT_NE(e.err.find("no\\x1B]0;title\\x07run"), std::string::npos) << e.err;
  EXPECT_EQ(e.err.find('\033'), std::string::npos) << e.err;
}

TEST(Errors, FilesWithoutAnImageExtensionAreCountedNotPassedOverInSilence) {
  // A class of PNG and TIFF trained on the PNG alone, without a word.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  fs::copy_file(root + "/source/circle/0000.png", root + "/source/circle/img1.tif");
  fs::copy_file(root + "/source/circle/0000.png", root + "/source/circle/img2");
  const auto r = shiftad::test::runCli(
      {"train", "-q", "--threads", "1", "--config", configFile(tmp, root), "--out", tmp / "run"}, tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("2 files below '" + root +
                       "/source' have no image extension (.jpg, .jpeg, .png, .bmp) and "
                       "are not read (e.g. '" +
                       root + "/source/circle/img1.tif')"),
            std::string::npos)
      << r.err;
  const auto s = shiftad::test::runCli({"score", "-q", "--threads", "1", "--model", tmp / "run", "--images",
                                        root + "/source/circle", "--out", tmp / "s.csv"},
                                       tmp.path());
  EXPECT_EQ(s.exit, 0) << s.err;
  EXPECT_NE(s.err.find("2 files below '" + root + "/source/circle' have no image extension"), std::string::npos)
      << s.err;
  // The remedy is for images: a CSV written into the folder is not to be made a PNG.
  EXPECT_NE(s.err.find("images of other formats are read once converted to PNG, other files may stay"),
            std::string::npos)
      << s.err;
}

TEST(Errors, AVariantThatNeedsAKeyGivenWithSetRuns) {
  // The README's `train --variant frozen_dominant --set encoder.type=backbone` was refused
  // ("encoder.type is 'none'; set encoder.type"): the variant was checked before the sets.
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot());
  const auto r = shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--variant",
                                        "frozen_dominant", "--set", "encoder.type=backbone", "--out", tmp / "run"},
                                       tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(shiftad::loadRunConfig(tmp / "run").run.variant, "frozen_dominant");
  for (const auto& [variant, set] : std::vector<std::pair<std::string, std::string>>{
           {"cluster_frozen", "encoder.type=backbone"}, {"few_shot", "data.target_labels=true"}}) {
    const auto c = shiftad::test::runCli({"config", "--config", cfg, "--variant", variant, "--set", set}, tmp.path());
    EXPECT_EQ(c.exit, 0) << variant << ": " << c.err;
    EXPECT_NE(c.out.find("variant: " + variant), std::string::npos) << c.out;
  }
  // Sets that undo what the variant needs still say which of its keys they change.
  const auto c = shiftad::test::runCli(
      {"config", "--config", cfg, "--variant", "frozen_only", "--set", "score.method=svdd"}, tmp.path());
  EXPECT_EQ(c.exit, 0) << c.err;
  EXPECT_NE(c.err.find("(score.method: frozen_mean -> svdd)"), std::string::npos) << c.err;
}

TEST(Errors, ARunLabelledAsAVariantItIsNotReadsCustom) {
  // `--set run.variant=source_only` on a run that aligns was labelled source_only in its
  // config, summary and every report (hunt11-b #7); the label is checked against the
  // preset's own keys (source_only's: align.method none).
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot());
  const auto r = shiftad::test::runCli(
      {"train", "--threads", "1", "--config", cfg, "--set", "run.variant=source_only", "--out", tmp / "run"},
      tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("run.variant is 'source_only', but the config is not that variant (align.method: none -> "),
            std::string::npos)
      << r.err;
  EXPECT_EQ(shiftad::loadRunConfig(tmp / "run").run.variant, "custom");
  // A label that is no preset is the user's own, and a preset's keys as it sets them keep its name.
  for (const auto& [set, label] : std::vector<std::pair<std::string, std::string>>{
           {"run.variant=ablation-7", "ablation-7"}, {"align.method=none", "source_only"}}) {
    const auto out = tmp / ("run-" + label);
    const auto v = shiftad::test::runCli(
        {"train", "-q", "--threads", "1", "--config", cfg, "--set", "run.variant=" + label, "--set", set, "--out", out},
        tmp.path());
    ASSERT_EQ(v.exit, 0) << v.err;
    EXPECT_EQ(v.err.find("the config is not that variant"), std::string::npos) << v.err;
    EXPECT_EQ(shiftad::loadRunConfig(out).run.variant, label);
  }
}

TEST(Errors, TheReadmesTrainCommandsResolve) {
  // The README's `train --config my.yaml ...` lines, as `config` (what train would run,
  // without training): `--variant frozen_dominant --set encoder.type=backbone` was
  // refused for a while and no test ran it.
  const auto readme = shiftad::test::readText(std::string(SHIFTAD_SOURCE_DIR) + "/README.md");
  const auto yaml_at = readme.find("cat > my.yaml <<'YAML'\n");
  ASSERT_NE(yaml_at, std::string::npos);
  const auto body = yaml_at + std::strlen("cat > my.yaml <<'YAML'\n");
  TempDir tmp;
  shiftad::test::writeFile(tmp / "my.yaml", readme.substr(body, readme.find("YAML\n", body) - body));
  std::istringstream lines(readme);
  int commands = 0;
  for (std::string line; std::getline(lines, line);) {
    const std::string prefix = "build/shiftad train --config my.yaml ";
    if (line.rfind(prefix, 0) != 0) continue;
    std::vector<std::string> args = {"config", "--config", tmp / "my.yaml"};
    std::istringstream words(line.substr(prefix.size(), line.find('#') - prefix.size()));
    for (std::string w; words >> w;) {
      if (w == "--out")
        words >> w;  // train's own options, not config's
      else if (w != "--overwrite")
        args.push_back(w);
    }
    const auto r = shiftad::test::runCli(args, tmp.path());
    EXPECT_EQ(r.exit, 0) << line << "\n" << r.err;
    ++commands;
  }
  EXPECT_GE(commands, 4) << "the README's worked example changed: update this test";
}

TEST(Errors, ASetThatChangesAVariantsOwnKeyIsSaidAndTheRunIsNotLabelledAsThatVariant) {
  // `train --variant source_only --set align.method=infonce` aligned and said source_only.
  TempDir tmp;
  const auto cfg = configFile(tmp, dataRoot());
  auto train = [&](const std::string& set, const std::string& out) {
    return shiftad::test::runCli(
        {"train", "--threads", "1", "--config", cfg, "--variant", "source_only", "--set", set, "--out", tmp / out},
        tmp.path());
  };
  auto r = train("align.method=infonce", "changed");
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("--set changes keys the variant sets (align.method: none -> infonce)"), std::string::npos)
      << r.err;
  EXPECT_EQ(shiftad::loadRunConfig(tmp / "changed").run.variant, "custom");
  EXPECT_EQ(shiftad::loadRunConfig(tmp / "changed").align.method, shiftad::AlignMethod::kInfoNce);
  // `config` with the same options previews the run's config, warning alike.
  const auto preview = shiftad::test::runCli(
      {"config", "--config", cfg, "--variant", "source_only", "--set", "align.method=infonce"}, tmp.path());
  ASSERT_EQ(preview.exit, 0) << preview.err;
  EXPECT_NE(preview.err.find("config --variant source_only: --set changes keys the variant sets"), std::string::npos)
      << preview.err;
  shiftad::test::writeFile(tmp / "preview.yaml", preview.out);
  EXPECT_EQ(
      shiftad::changedSettings(shiftad::loadRunConfig(tmp / "changed"), shiftad::loadConfig(tmp / "preview.yaml")),
      std::vector<std::string>{});
  EXPECT_EQ(shiftad::loadConfig(tmp / "preview.yaml").run.variant, "custom");
  // --doc prints every key's documentation: a config it would ignore is a usage error.
  const auto doc = shiftad::test::runCli({"config", "--doc", "--variant", "source_only"}, tmp.path());
  EXPECT_EQ(doc.exit, 2);
  EXPECT_NE(doc.err.find("--variant excludes --doc"), std::string::npos) << doc.err;
  // A key the variant leaves alone, or its own value again: still the variant, nothing said.
  for (const char* set : {"train.lr=0.01", "align.method=none"}) {
    r = train(set, std::string("same-") + set);
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.err.find("changes keys the variant sets"), std::string::npos) << r.err;
    EXPECT_EQ(shiftad::loadRunConfig(tmp / (std::string("same-") + set)).run.variant, "source_only");
  }
}
