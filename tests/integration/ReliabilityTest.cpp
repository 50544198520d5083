// Faults during training (docs/reliability.md): a process killed or interrupted at a
// random point and resumed ends bit-identical to an uninterrupted run; concurrent starts
// into one folder let exactly one train (the lock's own cases: tests/api/RunLockTest.cpp);
// a NaN loss stops the run naming epoch and step and leaves the last good checkpoint.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <iostream>
#include <sstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>
#include <zlib.h>

#include "common/Error.h"
#include "data/FileCheck.h"
#include "io/SafeTensors.h"
#include "lab/CheckData.h"
#include "models/FeatureExtractor.h"
#include "models/MobileNetV2.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"
#include "support/CommaLocale.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"
#include "training/Checkpoint.h"
#include "training/Trainer.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::protocolOf;
using shiftad::test::synthRoot;
using shiftad::test::TempDir;
using shiftad::test::tinyConfigFile;

namespace {

std::vector<std::string> trainArgs(const std::string& cfg, const std::string& out) {
  return {"train", "--threads", "1", "--config", cfg, "--out", out};
}

void expectSameRun(const std::string& a, const std::string& b) {
  for (const char* f : {"model.safetensors", "center.safetensors"}) {
    const auto x = shiftad::test::readText(a + "/" + f), y = shiftad::test::readText(b + "/" + f);
    ASSERT_FALSE(x.empty()) << a << "/" << f;
    EXPECT_TRUE(x == y) << f << " differs between " << a << " and " << b;
  }
  // Every epoch once, with the same loss (mid-epoch sums are restored exactly too).
  const auto losses = [](const std::string& run) {
    std::vector<std::pair<int, double>> out;
    std::istringstream in(shiftad::test::readText(run + "/metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      out.emplace_back(j["epoch"].get<int>(), j["loss"].get<double>());
    }
    return out;
  };
  EXPECT_EQ(losses(a), losses(b));
}

/// Uninterrupted reference run of `cfg` into tmp/ref.
std::string referenceRun(const TempDir& tmp, const std::string& cfg) {
  const auto ref = tmp / "ref";
  const pid_t pid = shiftad::test::spawnCli(trainArgs(cfg, ref), tmp / "ref.log");
  EXPECT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "ref.log");
  return ref;
}

/// Start training into tmp/run, wait until its first checkpoint exists, then `sleep_ms`,
/// then send `signal`. Returns the exit status (or 0 if it finished first).
int interruptRun(const TempDir& tmp, const std::string& cfg, int signal, int sleep_ms) {
  const auto run = tmp / "run";
  const pid_t pid = shiftad::test::spawnCli(trainArgs(cfg, run), tmp / "run.log");
  int status = 0;
  while (!fs::exists(run + "/checkpoint.safetensors")) {
    if (shiftad::test::exited(pid, status)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  ::kill(pid, signal);
  return shiftad::test::waitExit(pid);
}

int randomMs(int hi) {
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  const int ms = std::uniform_int_distribution<int>(0, hi)(rng);
  std::cout << "[ random ] kill after the first checkpoint + " << ms << " ms (seed " << seed << ")\n";
  return ms;
}

}  // namespace

TEST(Resume, KilledAtARandomPointThenResumedIsBitIdentical) {
  TempDir tmp;
  const auto cfg = tinyConfigFile(tmp, 20);
  const auto ref = referenceRun(tmp, cfg);
  const int status = interruptRun(tmp, cfg, SIGKILL, randomMs(1000));
  if (status != -SIGKILL) std::cout << "[ note ] the run ended (status " << status << ") before the kill\n";
  // The killed process left its lock behind: resuming takes it over.
  const pid_t pid = shiftad::test::spawnCli({"train", "--threads", "1", "--resume", tmp / "run"}, tmp / "resume.log");
  const auto log = [&] { return shiftad::test::readText(tmp / "resume.log"); };
  ASSERT_EQ(shiftad::test::waitExit(pid), 0) << log();
  if (status == -SIGKILL) {
    EXPECT_NE(log().find("stale lock"), std::string::npos) << log();
    EXPECT_NE(log().find("resuming from"), std::string::npos) << log();
  }
  expectSameRun(ref, tmp / "run");
  EXPECT_FALSE(fs::exists(tmp / "run/lock"));
}

namespace {

/// `signal` after the first checkpoint stops the run cleanly, exiting 128 + signal (the
/// shell's convention), and a resume ends bit-identical to the uninterrupted run.
void expectCleanStopThenIdenticalResume(int signal) {
  TempDir tmp;
  const auto cfg = tinyConfigFile(tmp, 20);
  const auto ref = referenceRun(tmp, cfg);
  const int status = interruptRun(tmp, cfg, signal, randomMs(600));
  const auto run_log = shiftad::test::readText(tmp / "run.log");
  if (status != 0) {
    EXPECT_EQ(status, 128 + signal) << run_log;
    EXPECT_NE(run_log.find("--resume"), std::string::npos) << run_log;
    EXPECT_FALSE(fs::exists(tmp / "run/model.safetensors")) << "an interrupted run has no model yet";
    EXPECT_FALSE(fs::exists(tmp / "run/lock")) << "a clean exit releases the lock";
  }
  const pid_t pid = shiftad::test::spawnCli({"train", "--threads", "1", "--resume", tmp / "run"}, tmp / "resume.log");
  ASSERT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "resume.log");
  expectSameRun(ref, tmp / "run");
}

}  // namespace

TEST(Resume, SigintCheckpointsAndExitsCleanlyThenResumesBitIdentical) { expectCleanStopThenIdenticalResume(SIGINT); }

// SIGTERM: what a job scheduler, `kill` or `docker stop` sends before its SIGKILL.
TEST(Resume, SigtermCheckpointsAndExitsCleanlyThenResumesBitIdentical) { expectCleanStopThenIdenticalResume(SIGTERM); }

TEST(Resume, SigtermWhileTrainEmbedsEndsWithinAChunkAndKeepsNothing) {
  // A stop while `train` embedded its source and pool was seen only at the first step,
  // after every image: minutes on a large pool, past a scheduler's grace before SIGKILL.
  // Head-only MobileNetV2: the signal comes as the source's embedding starts (~1 s at
  // 96 px), and the pool's is never begun.
  TempDir tmp;
  shiftad::Config c = protocolOf(synthRoot(), "circle");
  c.model.arch = shiftad::Arch::kMobileNetV2;
  c.model.freeze = -1;
  c.data.image_size = 96;
  c.data.image_cache = false;
  c.encoder.cache_dir = tmp / "cache";
  c.train.epochs = 1;
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(c));
  const auto run = tmp / "run";
  const pid_t pid = shiftad::test::spawnCli(trainArgs(tmp / "cfg.yaml", run), tmp / "run.log");
  int status = 0;
  const auto embedding = [&] {
    std::error_code ec;
    return fs::exists(tmp / "run.log", ec) &&
           shiftad::test::readText(tmp / "run.log").find("cached for later runs") != std::string::npos;
  };
  while (!embedding() && !shiftad::test::exited(pid, status)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGTERM);
  status = shiftad::test::waitExit(pid);
  const auto log = shiftad::test::readText(tmp / "run.log");
  ASSERT_EQ(status, 128 + SIGTERM) << log;
  int done = -1, all = -1;
  const auto at = log.find("shiftad: stopped after embedding ");
  ASSERT_NE(at, std::string::npos) << log;
  ASSERT_EQ(std::sscanf(log.c_str() + at, "shiftad: stopped after embedding %d of %d", &done, &all), 2) << log;
  EXPECT_LT(done, all) << log;
  EXPECT_EQ(log.find("train [", 0), std::string::npos) << "training began: " << log;
  EXPECT_NE(log.find("before training began: the run folder '" + run +
                     "' is as it was before; fit it again (`shiftad train`: the same command)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("epoch 1/1"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(run)) << "a folder the stopped train created is removed again";
  // The same command then trains the run.
  const pid_t again = shiftad::test::spawnCli(trainArgs(tmp / "cfg.yaml", run), tmp / "again.log");
  ASSERT_EQ(shiftad::test::waitExit(again), 0) << shiftad::test::readText(tmp / "again.log");
  EXPECT_TRUE(fs::exists(run + "/model.safetensors"));
}

TEST(Resume, WithoutACheckpointStartsOver) {
  TempDir tmp;
  const auto cfg = tinyConfigFile(tmp, 1);
  // Its marker and config but no checkpoint: killed before the first epoch ended.
  fs::create_directories(tmp / "run");
  shiftad::test::writeFile(tmp / ("run/" + std::string(shiftad::kRunMarkerFile)), "");
  fs::copy_file(cfg, tmp / "run/config.yaml");
  const auto s = shiftad::resumeTraining(tmp / "run");
  EXPECT_EQ(s.resumed_at_epoch, 0);
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.safetensors")) << "a checkpoint is written at the end";
}

namespace {

/// Head-only training (frozen trunk) on random trunk features: fast, in process.
shiftad::Config headOnlyConfig(int epochs) {
  shiftad::Config cfg;
  cfg.model.width = 8;
  cfg.model.embedding_dim = 8;
  cfg.model.freeze = -1;
  cfg.align.method = shiftad::AlignMethod::kNone;
  cfg.train.epochs = epochs;
  cfg.train.batch_size = 8;
  return cfg;
}

std::shared_ptr<shiftad::models::FeatureExtractor> freshNet(const shiftad::Config& cfg) {
  torch::manual_seed(0);
  return shiftad::models::makeFeatureExtractor(cfg.model);
}

}  // namespace

TEST(Divergence, NanLossStopsNamingEpochAndStepAndKeepsTheLastGoodCheckpoint) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(4);
  auto net = freshNet(cfg);
  // Head-only training on trunk features, so the test can poison the inputs in place.
  shiftad::training::TrainingData td;
  td.source = torch::randn({16, net->trunkDim()});
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::FitControl control;
  control.checkpoint = tmp / "ck.safetensors";
  const auto poison = [&](const shiftad::training::EpochStats& st, const torch::Tensor&) {
    if (st.epoch == 2) td.source.fill_(std::nan(""));  // fault injection: the next step's loss is NaN
  };
  try {
    trainer.fit(td, poison, control);
    FAIL() << "expected an error";
  } catch (const shiftad::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("at epoch 3, step 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train.lr"), std::string::npos) << msg;
    EXPECT_NE(msg.find(control.checkpoint), std::string::npos) << msg;
  }
  EXPECT_EQ(shiftad::training::checkpointEpoch(control.checkpoint), 3);
  // The checkpoint loads (loading refuses NaN weights) and F is still finite.
  for (const auto& p : trainer.net().parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  const auto file = shiftad::io::readSafeTensors(control.checkpoint);
  for (const auto& [name, t] : file.tensors)
    if (t.is_floating_point()) EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
}

namespace {

/// Train `cfg` uninterrupted, and again stopped after epoch 2 then resumed in a fresh
/// process state: the weights and c must be equal bit for bit.
void expectStoppedHeadOnlyRunResumesBitIdentical(const shiftad::Config& cfg) {
  TempDir tmp;
  torch::manual_seed(1);
  shiftad::training::TrainingData td;
  td.source = torch::randn({20, freshNet(cfg)->trunkDim()});
  auto ref_net = freshNet(cfg);
  shiftad::training::Trainer ref(cfg, ref_net);
  ref.fit(td);

  std::atomic<bool> stop{false};
  shiftad::training::FitControl control;
  control.checkpoint = tmp / "ck.safetensors";
  control.stop = &stop;
  auto net = freshNet(cfg);
  shiftad::training::Trainer first(cfg, net);
  const auto stopAfter2 = [&](const shiftad::training::EpochStats& st, const torch::Tensor&) { stop = st.epoch == 2; };
  EXPECT_EQ(first.fit(td, stopAfter2, control), shiftad::training::FitResult::Stopped);
  // Frozen trunk parameters are not in the checkpoint: trainable ones and buffers are.
  const auto file = shiftad::io::readSafeTensors(control.checkpoint);
  size_t saved = 0, trainable = 0;
  for (const auto& [name, t] : file.tensors) saved += name.rfind("net.", 0) == 0;
  for (const auto& p : net->parameters()) trainable += p.requires_grad();
  EXPECT_LT(trainable, net->parameters().size());
  EXPECT_EQ(saved, trainable + net->buffers().size());

  stop = false;
  control.resume = true;
  auto resumed_net = freshNet(cfg);
  shiftad::training::Trainer resumed(cfg, resumed_net);
  EXPECT_EQ(resumed.fit(td, {}, control), shiftad::training::FitResult::Completed);
  const auto a = ref_net->parameters(), b = resumed_net->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  EXPECT_TRUE(torch::equal(ref.center(), resumed.center()));
}

}  // namespace

TEST(Checkpoint, AStoppedHeadOnlyRunResumesBitIdenticalWithoutSavingTheFrozenTrunk) {
  expectStoppedHeadOnlyRunResumesBitIdentical(headOnlyConfig(5));
}

TEST(Checkpoint, AnAnchoredRunRederivesItsAnchorsOnResume) {
  // L2-SP anchors are not in the checkpoint: a resumed run takes them from the same
  // deterministic start (the PCA head of the same data), or the weights would differ.
  auto cfg = headOnlyConfig(5);
  cfg.model.head_init = shiftad::HeadInit::kPca;
  cfg.train.anchor = 0.05;
  expectStoppedHeadOnlyRunResumesBitIdentical(cfg);
}

TEST(Checkpoint, PeriodicCheckpointsFollowCheckpointEvery) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(5);
  auto net = freshNet(cfg);
  shiftad::training::TrainingData td;
  td.source = torch::randn({16, net->trunkDim()});
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::FitControl control;
  control.checkpoint = tmp / "ck.safetensors";
  control.checkpoint_every = 2;
  std::vector<int> seen;  // the epoch each checkpoint continues at, as seen after each epoch
  trainer.fit(
      td,
      [&](const shiftad::training::EpochStats&, const torch::Tensor&) {
        seen.push_back(fs::exists(control.checkpoint) ? shiftad::training::checkpointEpoch(control.checkpoint) : 0);
      },
      control);
  // Seen after epochs 1..5, before that epoch's own checkpoint: after 2 and 4, and the last.
  EXPECT_EQ(seen, (std::vector<int>{0, 0, 3, 3, 5}));
  EXPECT_EQ(shiftad::training::checkpointEpoch(control.checkpoint), 6);
  EXPECT_FALSE(fs::exists(control.checkpoint + ".tmp"));
}

namespace {

/// A copy of the synthetic benchmark with one instance of each data fault; with
/// `leaks`, also byte copies inside the target domain that leak the test split.
std::string faultyRoot(const TempDir& tmp, bool leaks = true) {
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  const auto circle = root + "/source/circle";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(circle)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const auto png = shiftad::test::readText(files[0].string());
  shiftad::test::writeFile(circle + "/zz_truncated.png", png.substr(0, png.size() / 2));
  shiftad::test::writeFile(circle + "/zz_garbage.png", "not an image");
  shiftad::test::writeFile(circle + "/notes.txt", "a non-image file");
  // A macOS resource fork and a hidden folder: never read, but listed.
  shiftad::test::writeFile(circle + "/._resource_fork.png", "not an image");
  fs::create_directories(circle + "/.thumbs");
  fs::copy_file(files[2], circle + "/.thumbs/t.png");
  fs::copy_file(files[1], circle + "/zz_duplicate.png");
  // Copies of every target circle image: some pair lands on both sides of the split.
  if (leaks)
    for (const auto& e : fs::directory_iterator(root + "/target/circle"))
      if (e.path().filename().string().rfind("copy_", 0) != 0)
        fs::copy_file(e.path(), root + "/target/circle/copy_" + e.path().filename().string());
  return root;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool anyContains(const std::vector<std::string>& v, const std::string& part) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(part) != std::string::npos; });
}

}  // namespace

TEST(CheckData, ListsCountsUnreadableNonImagesDuplicatesAndSplitLeaks) {
  TempDir tmp;
  const auto root = faultyRoot(tmp);
  const auto cfg = protocolOf(root, "circle");
  const auto r = shiftad::checkData(root, &cfg);
  ASSERT_EQ(r.problems.size(), 1u) << "the split leaks only";
  EXPECT_NE(r.problems[0].find("lie both in the test split and in training"), std::string::npos) << r.problems[0];
  EXPECT_TRUE(r.protocol_checked);
  ASSERT_EQ(r.classes.size(), 12u);  // 2 domains x 6 classes
  EXPECT_EQ(r.classes[0].domain, "source");
  const auto circle = std::find_if(r.classes.begin(), r.classes.end(), [](const shiftad::DataCheckClass& c) {
    return c.domain == "source" && c.cls == "circle";
  });
  ASSERT_NE(circle, r.classes.end());
  EXPECT_EQ(circle->images, 120 + 3);
  EXPECT_EQ(circle->unreadable, 2);
  EXPECT_EQ(circle->non_images, 1);
  EXPECT_EQ(r.unreadable.size(), 2u);
  EXPECT_TRUE(anyContains(r.unreadable, "zz_truncated.png: ")) << r.unreadable[0];
  EXPECT_TRUE(anyContains(r.unreadable, "PNG without its IEND chunk")) << r.unreadable[0];
  EXPECT_TRUE(anyContains(r.unreadable, "zz_garbage.png"));
  EXPECT_EQ(r.non_images, std::vector<std::string>{root + "/source/circle/notes.txt"});
  EXPECT_EQ(r.hidden,
            (std::vector<std::string>{root + "/source/circle/._resource_fork.png", root + "/source/circle/.thumbs"}));
  bool dup = false;
  for (const auto& g : r.duplicates) dup |= anyContains(g, "zz_duplicate.png");
  EXPECT_TRUE(dup);
  EXPECT_GE(r.duplicates.size(), 121u);
  ASSERT_FALSE(r.split_leaks.empty());
  EXPECT_TRUE(anyContains(r.split_leaks[0], "/target/circle/"));
}

TEST(CheckData, APipeOrADeviceNamedAsAnImageIsListedUnreadableWithoutBlocking) {
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  ASSERT_EQ(::mkfifo((root + "/source/circle/fifo.png").c_str(), 0600), 0);  // opening it would wait for a writer
  fs::create_symlink("/dev/zero", root + "/target/ring/zero.png");           // reading it would never end
  const auto r = shiftad::checkData(root);
  ASSERT_EQ(r.unreadable.size(), 2u);
  EXPECT_TRUE(anyContains(r.unreadable, "fifo.png")) << r.unreadable[0];
  EXPECT_TRUE(anyContains(r.unreadable, "zero.png")) << r.unreadable[0];
  EXPECT_TRUE(anyContains(r.unreadable, "not a regular file")) << r.unreadable[0];
}

TEST(CheckData, ANameWithALineBreakIsOneRowOfTheTable) {
  TempDir tmp;
  fs::create_directories(tmp / "data/d/a\nb");
  fs::copy_file(fs::directory_iterator(synthRoot() + "/source/circle")->path(), tmp / "data/d/a\nb/x.png");
  shiftad::test::writeFile(tmp / "data/d/a\nb/notes\t1.txt", "text");
  const auto r = shiftad::test::runCli({"check-data", "--threads", "1", tmp / "data"}, tmp.path());
  EXPECT_NE(r.out.find("\nd                    a\\nb                            1           0          1\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("a\\nb/notes\\t1.txt\n"), std::string::npos) << r.out;
}

TEST(CheckData, OnSeveralThreadsFindsWhatOneThreadFinds) {
  TempDir tmp;
  const auto root = faultyRoot(tmp);
  const auto cfg = protocolOf(root, "circle");
  const auto one = shiftad::checkData(root, &cfg, 1), three = shiftad::checkData(root, &cfg, 3);
  ASSERT_EQ(one.classes.size(), three.classes.size());
  for (size_t i = 0; i < one.classes.size(); ++i) {
    EXPECT_EQ(one.classes[i].images, three.classes[i].images) << i;
    EXPECT_EQ(one.classes[i].unreadable, three.classes[i].unreadable) << i;
    EXPECT_EQ(one.classes[i].non_images, three.classes[i].non_images) << i;
  }
  EXPECT_EQ(one.unreadable, three.unreadable);
  EXPECT_EQ(one.non_images, three.non_images);
  EXPECT_EQ(one.duplicates, three.duplicates);
  EXPECT_EQ(one.split_leaks, three.split_leaks);
  EXPECT_EQ(one.problems, three.problems);
  EXPECT_EQ(one.unreadable.size(), 2u);
}

TEST(CheckData, OneReadOfAnImageFileGivesItsProblemItsSizeAndItsFnv1aHash) {
  TempDir tmp;
  const auto root = faultyRoot(tmp);
  const auto good = root + "/source/circle/zz_duplicate.png";
  const auto bytes = shiftad::test::readText(good);
  uint64_t fnv = 0xcbf29ce484222325ULL;  // FNV-1a 64, by its definition
  for (const unsigned char b : bytes) fnv = (fnv ^ b) * 0x100000001b3ULL;
  const auto check = shiftad::checkImageFile(good);
  EXPECT_EQ(check.problem, "");
  EXPECT_EQ(check.bytes, bytes.size());
  EXPECT_EQ(check.content_hash, fnv);
  const auto cut = shiftad::checkImageFile(root + "/source/circle/zz_truncated.png");
  EXPECT_NE(cut.problem.find("PNG without its IEND chunk"), std::string::npos) << cut.problem;
  EXPECT_EQ(cut.problem, shiftad::imageProblem(root + "/source/circle/zz_truncated.png"));
  EXPECT_EQ(cut.bytes, 0u);
}

TEST(CheckData, OneImageInTwoClassesOfADomainIsALabelConflictACopyInOneClassIsNot) {
  TempDir tmp;
  const auto root = faultyRoot(tmp, /*leaks=*/false);  // zz_duplicate.png: a copy within source/circle
  auto r = shiftad::checkData(root);
  EXPECT_TRUE(r.label_conflicts.empty()) << "a copy within one class, or across domains, labels nothing twice";
  EXPECT_TRUE(r.problems.empty()) << r.problems[0];
  // The same bytes under source/square: in one-vs-all, a normal image and an anomaly at once.
  std::vector<fs::path> circles;
  for (const auto& e : fs::directory_iterator(root + "/source/circle"))
    if (e.path().filename().string().rfind("zz_", 0) != 0 && e.path().extension() == ".png")
      circles.push_back(e.path());
  std::sort(circles.begin(), circles.end());
  fs::copy_file(circles[5], root + "/source/square/also_a_square.png");
  r = shiftad::checkData(root);
  ASSERT_EQ(r.label_conflicts.size(), 1u);
  EXPECT_TRUE(anyContains(r.label_conflicts[0], "/source/square/also_a_square.png"));
  EXPECT_TRUE(anyContains(r.label_conflicts[0], circles[5].string()));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], "two or more classes of one domain")) << r.problems[0];
  const auto pid = shiftad::test::spawnCli({"check-data", root}, tmp / "conflict.log");
  EXPECT_EQ(shiftad::test::waitExit(pid), 1);
  const auto log = shiftad::test::readText(tmp / "conflict.log");
  EXPECT_TRUE(contains(log, "one image labelled as two classes")) << log;
}

TEST(CheckData, ExitsNonZeroWhenTheProtocolCannotRun) {
  TempDir tmp;
  const auto root = faultyRoot(tmp, /*leaks=*/false);
  // Fine: exit 0 and the table.
  auto cfg = protocolOf(root, "circle");
  shiftad::test::writeFile(tmp / "ok.yaml", shiftad::dumpConfig(cfg));
  auto pid = shiftad::test::spawnCli({"check-data", root, "--config", tmp / "ok.yaml"}, tmp / "ok.log");
  EXPECT_EQ(shiftad::test::waitExit(pid), 0) << shiftad::test::readText(tmp / "ok.log");
  EXPECT_NE(shiftad::test::readText(tmp / "ok.log").find("zz_garbage.png"), std::string::npos);
  // A normal class without source images (only in the target domain).
  fs::create_directories(root + "/target/hexagon");
  fs::copy_file(fs::directory_iterator(root + "/target/circle")->path(), root + "/target/hexagon/a.png");
  cfg.data.normal_class = "hexagon";
  const auto r = shiftad::checkData(root, &cfg);
  ASSERT_FALSE(r.protocol_problems.empty());
  EXPECT_TRUE(anyContains(r.protocol_problems, "normal_class 'hexagon' is not a class of the source domain"))
      << fmt::format("{}", fmt::join(r.protocol_problems, "\n"));
  // The copy is also a label conflict (circle and hexagon in one domain): the data's problem.
  EXPECT_TRUE(anyContains(r.problems, "two or more classes of one domain"))
      << fmt::format("{}", fmt::join(r.problems, "\n"));
  shiftad::test::writeFile(tmp / "bad.yaml", shiftad::dumpConfig(cfg));
  pid = shiftad::test::spawnCli({"check-data", root, "--config", tmp / "bad.yaml"}, tmp / "bad.log");
  EXPECT_EQ(shiftad::test::waitExit(pid), 1) << shiftad::test::readText(tmp / "bad.log");
  EXPECT_NE(shiftad::test::readText(tmp / "bad.log").find("cannot run"), std::string::npos);
}

TEST(CheckData, NormalClassWithOnlyUnreadableSourceImagesCannotRun) {
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(root + "/source/square"))
    shiftad::test::writeFile(e.path().string(), "x");
  const auto cfg = protocolOf(root, "square");
  const auto r = shiftad::checkData(root, &cfg);
  ASSERT_EQ(r.protocol_problems.size(), 1u);
  EXPECT_NE(r.protocol_problems[0].find("0 readable source image(s)"), std::string::npos) << r.protocol_problems[0];
}

namespace {

/// Whether `train` refuses `cfg` (one epoch); the oracle of what check-data must predict.
bool trainRefuses(shiftad::Config cfg, const TempDir& tmp) {
  cfg.train.epochs = 1;
  cfg.model.width = 8;
  cfg.encoder.cache_dir = tmp / "cache";
  try {
    shiftad::train(cfg, tmp / "run");
  } catch (const shiftad::Error&) {
    return true;
  }
  return false;
}

}  // namespace

TEST(CheckData, SaysTheProtocolCannotRunWhereTrainRefusesIt) {
  // One readable source image of the normal class.
  {
    TempDir tmp;
    const auto root = tmp / "data";
    fs::copy(synthRoot(), root, fs::copy_options::recursive);
    int kept = 0;
    for (const auto& e : fs::directory_iterator(root + "/source/square"))
      if (kept++ > 0) fs::remove(e.path());
    const auto cfg = protocolOf(root, "square");
    ASSERT_TRUE(trainRefuses(cfg, tmp));
    const auto r = shiftad::checkData(root, &cfg);
    ASSERT_EQ(r.protocol_problems.size(), 1u) << (r.protocol_problems.empty() ? "none" : r.protocol_problems[0]);
    EXPECT_TRUE(contains(r.protocol_problems[0], "1 readable source image(s)")) << r.protocol_problems[0];
    EXPECT_TRUE(contains(r.protocol_problems[0], "/source/square")) << r.protocol_problems[0];
  }
  // More unreadable source images than data.max_skipped (10%) allows.
  {
    TempDir tmp;
    const auto root = tmp / "data";
    fs::copy(synthRoot(), root, fs::copy_options::recursive);
    int n = 0, broken = 0;
    for (const auto& e : fs::directory_iterator(root + "/source/square")) {
      if (n++ % 5 == 0) {
        shiftad::test::writeFile(e.path().string(), "x");
        ++broken;
      }
    }
    const auto cfg = protocolOf(root, "square");
    ASSERT_TRUE(trainRefuses(cfg, tmp));
    const auto r = shiftad::checkData(root, &cfg);
    ASSERT_EQ(r.protocol_problems.size(), 1u) << (r.protocol_problems.empty() ? "none" : r.protocol_problems[0]);
    EXPECT_TRUE(contains(r.protocol_problems[0], fmt::format("{} of {} source images cannot be read", broken, n)))
        << r.protocol_problems[0];
    EXPECT_TRUE(contains(r.protocol_problems[0], "data.max_skipped")) << r.protocol_problems[0];
  }
  // model.weights that do not exist: "can run" was said, and train refused it.
  {
    TempDir tmp;
    auto cfg = protocolOf(synthRoot(), "square");
    cfg.model.weights = tmp / "missing.safetensors";
    ASSERT_TRUE(trainRefuses(cfg, tmp));
    const auto r = shiftad::checkData(synthRoot(), &cfg);
    ASSERT_EQ(r.protocol_problems.size(), 1u) << (r.protocol_problems.empty() ? "none" : r.protocol_problems[0]);
    EXPECT_TRUE(contains(r.protocol_problems[0], "model.weights '" + cfg.model.weights + "' does not exist"))
        << r.protocol_problems[0];
  }
}

TEST(CheckData, EmptyClassFoldersAreAProblemWithoutAConfigToo) {
  // Training refuses a domain with an empty class folder; check-data said "0 images" and exit 0.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  for (const char* empty : {"source/e1", "target/e1", "target/e2"}) fs::create_directories(fs::path(root) / empty);
  ASSERT_TRUE(trainRefuses(protocolOf(root, "square"), tmp));
  const auto r = shiftad::checkData(root, nullptr);
  ASSERT_EQ(r.problems.size(), 1u) << (r.problems.empty() ? "none" : r.problems[0]);
  EXPECT_TRUE(contains(r.problems[0], "3 class folder(s) hold no image")) << r.problems[0];
  EXPECT_TRUE(contains(r.problems[0], "'source/e1'")) << r.problems[0];
  // With a config, the split's refusal points at that problem, not as a second one.
  const auto cfg = protocolOf(root, "square");
  const auto c = shiftad::checkData(root, &cfg);
  ASSERT_EQ(c.protocol_problems.size(), 1u);
  EXPECT_TRUE(contains(c.protocol_problems[0],
                       "the data's problem above: empty class: folder '" + root + "/source/e1' holds no image"))
      << c.protocol_problems[0];
}

TEST(CheckData, AHiddenClassIsListedAndAClassLinkLeadingNowhereIsAProblem) {
  // Both were dropped without a word: the hidden list held only entries inside classes,
  // and a dangling class link was neither a class nor a problem (exit 0).
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  fs::rename(fs::path(root) / "source/circle", fs::path(root) / "source/.circle");
  auto r = shiftad::checkData(root, nullptr);
  EXPECT_TRUE(r.problems.empty()) << r.problems[0];
  EXPECT_NE(std::find(r.hidden.begin(), r.hidden.end(), root + "/source/.circle"), r.hidden.end());
  const auto classes = r.classes.size();
  fs::create_directory_symlink(tmp / "unmounted", fs::path(root) / "target/lost");
  r = shiftad::checkData(root, nullptr);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], root + "/target/lost' is a symbolic link")) << r.problems[0];
  EXPECT_EQ(r.classes.size(), classes);  // the domain's other classes are still checked
}

TEST(CheckData, ShowsTheProgressOfReadingEveryFile) {
  // It read every file silently: minutes on a million images.
  TempDir tmp;
  const auto root = faultyRoot(tmp, /*leaks=*/false);
  // The files it reads, counted here: below ROOT/DOMAIN/CLASS, none hidden.
  int64_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto rel = fs::relative(e.path(), root);
    const bool hidden = std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p.string()[0] == '.'; });
    files += e.is_regular_file() && !hidden && std::distance(rel.begin(), rel.end()) >= 3;
  }
  shiftad::ProgressOptions plain;  // a log file: a line every 10 s, on a clock of 1 s per reading
  double now = 0;
  plain.clock = [&] { return now += 1; };
  std::vector<std::string> lines;
  plain.sink = [&](const std::string& line, bool) { lines.push_back(line); };
  const auto r = shiftad::checkData(root, nullptr, plain);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_TRUE(contains(lines[0], "checking files: ")) << lines[0];
  EXPECT_TRUE(contains(lines[0], fmt::format("/{} (", files))) << lines[0];
  EXPECT_TRUE(contains(lines[0], "ETA")) << lines[0];
  EXPECT_EQ(lines.back().rfind(fmt::format("checking files: {} done in ", files), 0), 0u) << lines.back();
  EXPECT_FALSE(r.duplicates.empty());
}

TEST(CheckData, ListsTheFirst20GroupsOfDuplicatesAndCountsTheRestUnlessAll) {
  // 25,400 groups of duplicates were 25,433 lines on stdout.
  TempDir tmp;
  const auto root = faultyRoot(tmp);
  const auto r = shiftad::checkData(root);
  ASSERT_GT(r.duplicates.size(), 20u);
  size_t rest = 0;
  for (size_t i = 20; i < r.duplicates.size(); ++i) rest += r.duplicates[i].size();
  const auto lines_of = [](const std::string& text) {
    size_t n = 0;
    for (size_t at = text.find("  ==  "); at != std::string::npos; at = text.find("  ==  ", text.find('\n', at))) ++n;
    return n;
  };
  const auto run = shiftad::test::runCli({"check-data", root}, tmp.path());
  EXPECT_EQ(lines_of(run.out), 20u + r.label_conflicts.size()) << run.out;  // no conflicts: under 20, all listed
  EXPECT_TRUE(contains(run.out, fmt::format("exact duplicates ({} groups):", r.duplicates.size()))) << run.out;
  EXPECT_TRUE(contains(run.out, fmt::format("  ... and {} more groups ({} files); --all lists every group\n",
                                            r.duplicates.size() - 20, rest)))
      << run.out;
  const auto all = shiftad::test::runCli({"check-data", root, "--all"}, tmp.path());
  EXPECT_EQ(lines_of(all.out), r.duplicates.size() + r.label_conflicts.size()) << all.out;
  EXPECT_FALSE(contains(all.out, "more groups")) << all.out;
  EXPECT_TRUE(contains(all.out, r.duplicates.back().front())) << all.out;
  EXPECT_EQ(run.exit, all.exit);
}

TEST(CheckData, IdenticalUnreadableFilesAreNotDuplicatesNorALeak) {
  // Failed downloads leave empty files: the same bytes in every domain, but no image.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  for (const char* p : {"/source/circle/empty.png", "/target/circle/empty.png", "/target/square/empty.png"})
    shiftad::test::writeFile(root + p, "");
  const auto cfg = protocolOf(root, "circle");
  ASSERT_FALSE(trainRefuses(cfg, tmp)) << "training skips them";
  const auto r = shiftad::checkData(root, &cfg);
  EXPECT_EQ(r.unreadable.size(), 3u);
  for (const auto& g : r.duplicates) EXPECT_FALSE(anyContains(g, "empty.png")) << g[0];
  EXPECT_TRUE(r.split_leaks.empty());
  EXPECT_TRUE(r.problems.empty()) << r.problems[0];
}

TEST(CheckData, TruncatedJpegAndPngAreRecognisedByTheirEndMarkers) {
  using shiftad::data::damage;
  const std::string jpeg("\xFF\xD8\xFF\xE0\x00\x02\xFF\xDA\x00\x02\x12\xFF\x00\x34\xFF\xD9", 16);
  EXPECT_EQ(damage(jpeg), "");
  EXPECT_NE(damage(jpeg.substr(0, 14)).find("JPEG without its end marker"), std::string::npos);
  EXPECT_NE(damage(jpeg.substr(0, 6)).find("JPEG without image data"), std::string::npos);
  // PNG: chunks walked by their lengths up to IEND; the CRC is zlib's (an independent
  // implementation: IEND's, AE 42 60 82, is in the PNG specification).
  const auto chunk = [](const std::string& type, const std::string& data) {
    const auto be = [](uint32_t v) {
      return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
    };
    const auto typed = type + data;
    return be(data.size()) + typed + be(crc32(0, reinterpret_cast<const Bytef*>(typed.data()), typed.size()));
  };
  const std::string iend = chunk("IEND", "");
  EXPECT_EQ(iend.substr(8), std::string("\xAE\x42\x60\x82", 4));
  const std::string sig("\x89PNG\r\n\x1a\n", 8);
  const std::string png = sig + chunk("IHDR", std::string(13, '\1')) + chunk("tEXt", "a") + chunk("IDAT", "xyz") + iend;
  EXPECT_EQ(damage(png), "");
  EXPECT_EQ(damage(png + "trailer"), "");
  EXPECT_NE(damage(png.substr(0, png.size() - 6)).find("PNG without its IEND chunk (truncated)"), std::string::npos);
  EXPECT_NE(damage(png.substr(0, 40)).find("PNG without its IEND chunk (truncated)"), std::string::npos);
  auto bad = png;
  bad[16] ^= 1;  // a byte of IHDR's data
  EXPECT_EQ(damage(bad), "PNG chunk 'IHDR' at byte 8 fails its checksum (CRC): the file is corrupt");
  bad = png;
  bad[8 + 25 + 8] ^= 1;  // tEXt's data: an ancillary chunk, which libpng only warns about
  EXPECT_EQ(damage(bad), "");
}

TEST(CheckData, ABmpShorterThanItsHeaderDeclaresOrWithAHeaderTheDecoderRefusesIsNamed) {
  using shiftad::data::damage;
  // A 3 x 2 24-bit BMP written by OpenCV: rows of 9 bytes padded to 12, 24 bytes of pixels.
  std::vector<unsigned char> encoded;
  ASSERT_TRUE(cv::imencode(".bmp", cv::Mat(2, 3, CV_8UC3, cv::Scalar(1, 2, 3)), encoded));
  const std::string bmp(encoded.begin(), encoded.end());
  EXPECT_EQ(damage(bmp), "");
  EXPECT_EQ(damage(bmp.substr(0, bmp.size() - 1)),
            fmt::format("BMP truncated: its header declares 24 bytes of pixels from byte {}, the file holds {}",
                        bmp.size() - 24, bmp.size() - 1));
  EXPECT_EQ(damage(bmp.substr(0, 20)), "BMP shorter than its headers (truncated)");
  auto bad = bmp;
  bad[46] = '\xFF', bad[47] = '\xFF';  // biClrUsed 65535
  EXPECT_NE(damage(bad).find("declares 65535 palette colours"), std::string::npos);
  bad = bmp;
  bad[30] = 4;  // BI_JPEG
  EXPECT_NE(damage(bad).find("BMP with compression 4 (only 0-3"), std::string::npos);
  bad[30] = 99;
  EXPECT_NE(damage(bad).find("BMP with compression 99"), std::string::npos);
  // RLE8 (compression 1): a 10 x 10 image whose stream stops early, its declared size
  // honest; and a whole one, each row one run of palette index 5, which OpenCV decodes.
  const auto rle8 = [](const std::string& data) {
    std::string pal(1024, '\0');
    pal[5 * 4] = 40, pal[5 * 4 + 1] = 80, pal[5 * 4 + 2] = 120;  // blue, green, red
    const auto le = [](uint32_t v, int n) {
      std::string o;
      for (int i = 0; i < n; ++i) o += static_cast<char>(v >> (8 * i));
      return o;
    };
    const std::string info = le(40, 4) + le(10, 4) + le(10, 4) + le(1, 2) + le(8, 2) + le(1, 4) +
                             le(static_cast<uint32_t>(data.size()), 4) + le(2835, 4) + le(2835, 4) + le(256, 4) +
                             le(0, 4);
    return "BM" + le(static_cast<uint32_t>(14 + 40 + 1024 + data.size()), 4) + le(0, 4) + le(14 + 40 + 1024, 4) + info +
           pal + data;
  };
  std::string rows;
  for (int r = 0; r < 10; ++r) rows += std::string("\x0a\x05\0\0", 4);
  const auto whole = rle8(rows + std::string("\0\x01", 2));
  EXPECT_EQ(damage(whole), "");
  const cv::Mat decoded = cv::imdecode(std::vector<uchar>(whole.begin(), whole.end()), cv::IMREAD_COLOR);
  ASSERT_EQ(decoded.rows, 10);
  EXPECT_EQ(decoded.at<cv::Vec3b>(9, 9), cv::Vec3b(40, 80, 120));
  EXPECT_EQ(damage(rle8("")), "BMP truncated: its RLE data stops at byte 1078 after 0 of its 10 rows");
  EXPECT_EQ(damage(rle8(rows.substr(0, 12))), "BMP truncated: its RLE data stops at byte 1090 after 3 of its 10 rows");
  // Checked as data: shiftad's reason, and none of the decoder's text on stderr (OpenCV
  // printed "imdecode_(''): can't read data: ... bitstrm.cpp" for each such file).
  TempDir tmp;
  shiftad::test::writeFile(tmp / "data/d/c/cut.bmp", bmp.substr(0, bmp.size() - 10));
  shiftad::test::writeFile(tmp / "data/d/c/rle_cut.bmp", rle8(rows.substr(0, 12)));
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(2, 3, CV_8UC3, cv::Scalar(1, 2, 3)), encoded));
  std::string png(encoded.begin(), encoded.end());
  png[19] ^= 1;  // IHDR's width, 3 -> 2: its CRC no longer matches (libpng: "IHDR: CRC error")
  shiftad::test::writeFile(tmp / "data/d/c/crc.png", png);
  const auto r = shiftad::test::runCli({"check-data", "--threads", "1", tmp / "data"}, tmp.path());
  EXPECT_NE(r.out.find("BMP truncated"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("rle_cut.bmp: image '" + tmp / "data/d/c/rle_cut.bmp" + "' cannot be used: BMP truncated: its RLE"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fails its checksum"), std::string::npos) << r.out;
  for (const char* raw : {"imdecode_", "OpenCV", "libpng error"})
    EXPECT_EQ(r.err.find(raw), std::string::npos) << r.err;
}

TEST(CheckData, AJpegIsWholeByItsMainImagesEndMarkerNotByAThumbnails) {
  using shiftad::data::damage;
  const auto bytes = [](std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += static_cast<char>(c);
    return s;
  };
  // An EXIF thumbnail in APP1: a whole JPEG with its own scan (FF DA) and end (FF D9).
  const std::string thumb = bytes({0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x55, 0xFF, 0xD9});
  const std::string app1 =
      bytes({0xFF, 0xE1, 0x00, static_cast<int>(2 + 6 + thumb.size())}) + std::string("Exif\0\0", 6) + thumb;
  const std::string scan = bytes({0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56});
  const std::string soi = bytes({0xFF, 0xD8}), eoi = bytes({0xFF, 0xD9});
  const std::string camera = soi + app1 + bytes({0xFF, 0xDB, 0x00, 0x03, 0x07}) + scan + eoi;
  EXPECT_EQ(damage(camera), "");
  for (size_t cut : {camera.size() - 2, camera.size() - 6})  // in the main image's data
    EXPECT_NE(damage(camera.substr(0, cut)).find("JPEG without its end marker"), std::string::npos) << cut;
  for (size_t cut : {soi.size() + app1.size(), soi.size() + 12})  // before the main scan, in the thumbnail
    EXPECT_NE(damage(camera.substr(0, cut)).find("JPEG without image data"), std::string::npos) << cut;
  // Whole files read as whole: bytes or zero padding after EOI; a progressive JPEG's
  // later scans and the tables between them; FF D9 inside a comment before the scan.
  EXPECT_EQ(damage(camera + std::string(100, '\0')), "");
  EXPECT_EQ(damage(camera + "trailer"), "");
  const std::string dht = bytes({0xFF, 0xC4, 0x00, 0x04, 0xFF, 0xD9});
  const std::string progressive = soi + scan + dht + scan + scan;
  EXPECT_EQ(damage(progressive + eoi), "");
  EXPECT_NE(damage(progressive).find("end marker"), std::string::npos);
  EXPECT_NE(damage(progressive + dht.substr(0, 5)).find("end marker"), std::string::npos);
  const std::string com = bytes({0xFF, 0xFE, 0x00, 0x04, 0xFF, 0xD9});
  EXPECT_NE(damage(soi + com).find("without image data"), std::string::npos);
  EXPECT_EQ(damage(soi + com + scan + eoi), "");
}

TEST(CheckData, ACutCameraJpegWithAnExifThumbnailIsListedUnreadable) {
  // Files written by PIL (tests/oracle/data_image_formats.py): the whole one is an image,
  // its cut copy (PIL: "image file is truncated") is listed, by its missing end marker.
  TempDir tmp;
  shiftad::test::runPython("data_image_formats.py", tmp.path());
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  const std::string whole = root + "/target/circle/camera.jpg", cut = root + "/target/circle/camera_cut.jpg";
  fs::copy_file(tmp / "exif_thumb.jpg", whole);
  const std::string bytes = shiftad::test::readText(whole);
  shiftad::test::writeFile(cut, bytes.substr(0, bytes.size() * 2 / 3));
  const auto r = shiftad::checkData(root, nullptr);
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_TRUE(contains(r.unreadable[0], cut + ": ")) << r.unreadable[0];
  EXPECT_TRUE(contains(r.unreadable[0], "JPEG without its end marker")) << r.unreadable[0];
}

// ---------------------------------------------------------------- nothing silently wrong

namespace {

/// A random 5-class MobileNetV2 classifier under torchvision's names (no head.*).
std::string classifierFile(const TempDir& tmp) {
  torch::manual_seed(0);
  shiftad::models::MobileNetV2 net(/*embedding_dim=*/2, /*num_classes=*/5);
  auto state = shiftad::io::moduleStateDict(net);
  for (auto it = state.begin(); it != state.end();)
    it = it->first.rfind("head.", 0) == 0 ? state.erase(it) : std::next(it);
  const auto path = tmp / "classifier.safetensors";
  shiftad::io::writeSafeTensors(path, state);
  return path;
}

std::string anImage() { return fs::directory_iterator(synthRoot() + "/source/circle")->path().string(); }

}  // namespace

TEST(WeightDtype, ClassifyRefusesFloatBytesTaggedAsIntegers) {
  TempDir tmp;
  const auto good = classifierFile(tmp);
  EXPECT_EQ(shiftad::classify(good, anImage(), "", 5).size(), 5u);
  // The same bytes with classifier.1.weight's header dtype patched to I32 (same length:
  // the file stays valid). Cast, its floats would load as integers of ~1e9.
  std::string bytes = shiftad::test::readText(good);
  const std::string tag = "\"classifier.1.weight\":{\"dtype\":\"F32\"";
  const auto at = bytes.find(tag);
  ASSERT_NE(at, std::string::npos);
  bytes[at + tag.size() - 4] = 'I';
  const auto patched = tmp / "i32.safetensors";
  shiftad::test::writeFile(patched, bytes);
  const auto msg = errorOf([&] { shiftad::classify(patched, anImage(), "", 5); });
  EXPECT_TRUE(contains(msg, patched + ": tensor \"classifier.1.weight\" is I32 but the module's classifier.1.weight "
                                      "is F32"))
      << msg;
}

TEST(ClassifyLabels, AFileOfAnotherLengthOrABinaryFileIsRefused) {
  TempDir tmp;
  const auto weights = classifierFile(tmp);
  shiftad::test::writeFile(tmp / "five.txt", "a\nb\r\nc\nd\ne\n");
  const auto top = shiftad::classify(weights, anImage(), tmp / "five.txt", 5);
  ASSERT_EQ(top.size(), 5u);
  for (const auto& c : top) EXPECT_EQ(c.label, std::string(1, static_cast<char>('a' + c.index))) << "CR dropped";

  shiftad::test::writeFile(tmp / "four.txt", "a\nb\nc\nd\n");
  auto msg = errorOf([&] { shiftad::classify(weights, anImage(), tmp / "four.txt", 1); });
  EXPECT_TRUE(contains(msg, "four.txt' has 4 line(s) but the classifier has 5 classes")) << msg;

  shiftad::test::writeFile(tmp / "binary.txt", std::string("a\nb\nc\0d\ne\n", 11));
  msg = errorOf([&] { shiftad::classify(weights, anImage(), tmp / "binary.txt", 1); });
  EXPECT_TRUE(contains(msg, "binary.txt', line 3: control byte 0x00")) << msg;
}

TEST(ClassifyImage, AnUnreadableImageIsTheErrorWithItsReason) {
  // It was "skipping unreadable image: ... is empty (0 bytes)", then "cannot be decoded".
  TempDir tmp;
  const auto weights = classifierFile(tmp);
  shiftad::test::writeFile(tmp / "empty.png", "");
  const auto msg = errorOf([&] { shiftad::classify(weights, tmp / "empty.png", "", 1); });
  EXPECT_TRUE(contains(msg, "empty.png' is empty (0 bytes)")) << msg;
}

TEST(ClassifyLabels, APipeOrADeviceIsRefusedAtOnce) {
  // A FIFO would block the open until a writer comes; /dev/zero never ends (it grew to
  // gigabytes before).
  TempDir tmp;
  const auto weights = classifierFile(tmp);
  ASSERT_EQ(::mkfifo((tmp / "fifo.txt").c_str(), 0600), 0);
  for (const std::string& labels : {tmp / "fifo.txt", std::string("/dev/zero")}) {
    const auto msg = errorOf([&] { shiftad::classify(weights, anImage(), labels, 1); });
    EXPECT_TRUE(contains(msg, "labels file '" + labels + "' does not exist or is not a regular file")) << msg;
  }
}

TEST(ClassifyMetadata, BadPreprocessingMetadataIsNamedAndInvalidWeightsGiveNoNaN) {
  TempDir tmp;
  const auto good = shiftad::io::readSafeTensors(classifierFile(tmp));
  const auto classifyWith = [&](const std::map<std::string, std::string>& metadata,
                                const std::map<std::string, torch::Tensor>& tensors) {
    const auto path = tmp / "edited.safetensors";
    shiftad::io::writeSafeTensors(path, tensors, metadata);
    return errorOf([&] { shiftad::classify(path, anImage(), "", 5); });
  };
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"input_size", "abc"},
                                                                                   {"input_size", "0"},
                                                                                   {"input_size", "224.5"},
                                                                                   {"input_size", "100000"},
                                                                                   {"normalize_std", "0,0,0"},
                                                                                   {"normalize_std", "nan,1,1"},
                                                                                   {"normalize_std", "[0.2,0.2,0.2]"},
                                                                                   {"normalize_mean", "1,2"}}) {
    const auto msg = classifyWith({{key, value}}, good.tensors);
    EXPECT_TRUE(contains(msg, "edited.safetensors': metadata " + key + " = '" + value + "': expected")) << msg;
  }
  EXPECT_EQ(classifyWith({{"input_size", "64"}, {"normalize_std", "0.5,0.5,0.5"}}, good.tensors), "");
  // Finite weights that make no sense: a negative BatchNorm variance turns every output into NaN.
  auto tensors = good.tensors;
  tensors["features.0.1.running_var"] = -torch::ones_like(tensors.at("features.0.1.running_var"));
  const auto msg = classifyWith({}, tensors);
  EXPECT_TRUE(contains(msg, "the classifier's output is not finite")) << msg;
}

TEST(Divergence, ADegenerateNormalizationStopsAtTheFirstStepNamingTheTensor) {
  TempDir tmp;
  auto cfg = protocolOf(synthRoot(), "circle");
  cfg.model.width = 8;
  cfg.train.epochs = 2;
  // data.std = 1e-30 makes the inputs ~1e30: the loss stays finite after BatchNorm, its
  // variance overflows. The config is refused before training now (data.std >= 1e-6)...
  cfg.data.std = {1e-30, 1e-30, 1e-30};
  const auto refused = errorOf([&] { shiftad::train(cfg, tmp / "run"); });
  EXPECT_TRUE(contains(refused, "'data.std'")) << refused;
  EXPECT_FALSE(fs::exists(tmp / "run")) << "refused before anything is written";
  // ... so the trainer gets such inputs directly, as any other cause of them would give them.
  cfg.data.std = {0.5, 0.5, 0.5};
  cfg.align.method = shiftad::AlignMethod::kNone;  // the source alone: no pool to give
  cfg.data.augment = false;                        // float inputs, normalised as given
  auto net = freshNet(cfg);
  shiftad::training::TrainingData td;
  td.source = torch::randn({16, 3, cfg.data.image_size, cfg.data.image_size}) * 1e30;
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::FitControl control;
  control.checkpoint = tmp / "ck.safetensors";
  const auto msg = errorOf([&] { trainer.fit(td, {}, control); });
  EXPECT_TRUE(contains(msg, "training diverged: F's tensor '")) << msg;
  EXPECT_TRUE(contains(msg, "running_")) << "a BatchNorm statistic: " << msg;
  EXPECT_TRUE(contains(msg, "after epoch 1, step 1")) << msg;
  EXPECT_TRUE(contains(msg, "data.std")) << msg;
}

namespace {

/// A copy of the synthetic benchmark where every target circle image is replaced by
/// `link(source circle image, target path)`: a symlink, a hard link or a byte copy.
std::string leakyRoot(const TempDir& tmp, const std::function<void(const fs::path&, const fs::path&)>& link) {
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  std::vector<fs::path> sources, targets;
  for (const auto& e : fs::directory_iterator(root + "/source/circle")) sources.push_back(e.path());
  for (const auto& e : fs::directory_iterator(root + "/target/circle")) targets.push_back(e.path());
  std::sort(sources.begin(), sources.end());
  std::sort(targets.begin(), targets.end());
  for (size_t i = 0; i < std::min(sources.size(), targets.size()); ++i) {
    fs::remove(targets[i]);
    link(sources[i], targets[i]);
  }
  return root;
}

shiftad::Config leakCheckConfig(const std::string& root) {
  auto cfg = protocolOf(root, "circle");
  cfg.model.width = 8;
  cfg.train.epochs = 1;
  return cfg;
}

}  // namespace

TEST(ProtocolLeak, TrainRefusesTheSameDomainOnBothSides) {
  TempDir tmp;
  auto cfg = leakCheckConfig(synthRoot());
  // However spelled (it was named a link problem for "source/").
  for (const char* spelling : {"source/", "./source", "source"}) {
    cfg.data.target = spelling;
    const auto msg = errorOf([&] { shiftad::train(cfg, tmp / "run"); });
    EXPECT_TRUE(contains(msg, "data.source and data.target are both 'source'")) << spelling << ": " << msg;
  }
  const auto r = shiftad::checkData(synthRoot(), &cfg);
  ASSERT_FALSE(r.protocol_problems.empty());
  EXPECT_TRUE(contains(r.protocol_problems[0], "are both 'source'")) << r.protocol_problems[0];
}

TEST(ProtocolLeak, TrainRefusesTestImagesLinkedToTrainingImages) {
  const std::map<std::string, std::function<void(const fs::path&, const fs::path&)>> links = {
      {"symlink", [](const fs::path& from, const fs::path& to) { fs::create_symlink(from, to); }},
      {"hard link", [](const fs::path& from, const fs::path& to) { fs::create_hard_link(from, to); }}};
  for (const auto& [kind, link] : links) {
    TempDir tmp;
    const auto cfg = leakCheckConfig(leakyRoot(tmp, link));
    const auto msg = errorOf([&] { shiftad::train(cfg, tmp / "run"); });
    EXPECT_TRUE(contains(msg, "test image(s) of data.target 'target' are also training images")) << kind << ": " << msg;
    EXPECT_TRUE(contains(msg, "/target/circle/")) << kind << ": " << msg;
    EXPECT_TRUE(contains(msg, "/source/circle/")) << kind << ": " << msg;
  }
}

TEST(ProtocolLeak, CheckDataFlagsByteCopiesOfSourceImagesInTheTestSplitAndExitsOne) {
  TempDir tmp;
  const auto root = leakyRoot(tmp, [](const fs::path& from, const fs::path& to) { fs::copy_file(from, to); });
  const auto cfg = leakCheckConfig(root);
  const auto r = shiftad::checkData(root, &cfg);
  ASSERT_FALSE(r.split_leaks.empty());
  EXPECT_TRUE(anyContains(r.split_leaks[0], "/source/circle/")) << r.split_leaks[0][0];
  EXPECT_TRUE(anyContains(r.split_leaks[0], "/target/circle/")) << r.split_leaks[0][0];
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], "byte-identical images lie both in the test split and in training"))
      << r.problems[0];
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(cfg));
  const auto pid = shiftad::test::spawnCli({"check-data", root, "--config", tmp / "cfg.yaml"}, tmp / "log");
  EXPECT_EQ(shiftad::test::waitExit(pid), 1) << shiftad::test::readText(tmp / "log");
  // Train runs it (it cannot see copies): a problem of the data, not of the protocol.
  EXPECT_TRUE(r.protocol_problems.empty()) << r.protocol_problems[0];
  const auto log = shiftad::test::readText(tmp / "log");
  EXPECT_TRUE(contains(log, "PROBLEMS in the data")) << log;
  EXPECT_TRUE(contains(log, "the configured protocol can run (despite the data's problems above)")) << log;
}

// ---------------------------------------------------------------- locks that name a process

TEST(RunLock, ConcurrentStartsIntoOneFolderLetExactlyOneTrain) {
  // Three `shiftad train` started at the same instant into one --out, several rounds:
  // one trains; the others are kept out by the lock ("in use by process"), or, if they
  // start after the winner has finished, by the finished run. Never a raw error (a
  // shared temporary file used to make the loser fail with "cannot rename").
  TempDir tmp;
  const auto cfg = tinyConfigFile(tmp, 1);
  constexpr int kRounds = 8, kProcesses = 3;
  int kept_out_by_lock = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto out = tmp / ("run" + std::to_string(round));
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcesses; ++p)
      pids.push_back(shiftad::test::spawnCli(trainArgs(cfg, out), tmp / fmt::format("{}-{}.log", round, p)));
    int winners = 0;
    for (int p = 0; p < kProcesses; ++p) {
      const int status = shiftad::test::waitExit(pids[p]);
      const auto log = shiftad::test::readText(tmp / fmt::format("{}-{}.log", round, p));
      if (status == 0) {
        ++winners;
        continue;
      }
      EXPECT_EQ(status, 1) << log;
      const bool locked = log.find("is in use by process") != std::string::npos;
      kept_out_by_lock += locked;
      EXPECT_TRUE(locked || log.find("holds a trained run") != std::string::npos) << "round " << round << ": " << log;
      EXPECT_EQ(log.find("cannot rename"), std::string::npos) << log;
    }
    EXPECT_EQ(winners, 1) << "round " << round;
    EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
    EXPECT_FALSE(fs::exists(out + "/lock"));
    for (const auto& e : fs::directory_iterator(out))
      EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  std::cout << kept_out_by_lock << " of " << kRounds * (kProcesses - 1) << " losers were kept out by the lock\n";
}

TEST(Checkpoint, ADamagedCheckpointIsAnErrorNamingItNeverAResumeOfNonsense) {
  // A run stopped after epoch 1 of 3, then its checkpoint edited one way at a time.
  TempDir tmp;
  const auto cfg = headOnlyConfig(3);
  torch::manual_seed(1);
  shiftad::training::TrainingData td;
  td.source = torch::randn({20, freshNet(cfg)->trunkDim()});
  std::atomic<bool> stop{false};
  shiftad::training::FitControl control;
  control.checkpoint = tmp / "ck.safetensors";
  control.stop = &stop;
  {
    shiftad::training::Trainer first(cfg, freshNet(cfg));
    const auto stopAfter1 = [&](const shiftad::training::EpochStats& st, const torch::Tensor&) { stop = true; };
    ASSERT_EQ(first.fit(td, stopAfter1, control), shiftad::training::FitResult::Stopped);
  }
  const auto good = shiftad::io::readSafeTensors(control.checkpoint);
  const auto resumeWith = [&](const std::string& key, const std::string& value, torch::Tensor tensor = {}) {
    auto metadata = good.metadata;
    auto tensors = good.tensors;
    if (tensor.defined())
      tensors[key] = tensor;
    else
      metadata[key] = value;
    shiftad::io::writeSafeTensors(control.checkpoint, tensors, metadata);
    shiftad::training::FitControl c = control;
    c.stop = nullptr;
    c.resume = true;
    shiftad::training::Trainer t(cfg, freshNet(cfg));
    try {
      t.fit(td, {}, c);
    } catch (const shiftad::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"epoch", "abc"},
                                                                                   {"epoch", "1e3"},
                                                                                   {"epoch", "-1"},
                                                                                   {"epoch", "100000"},
                                                                                   {"next_row", "999999"},
                                                                                   {"steps", "-7"},
                                                                                   {"sum_loss", "nan"}}) {
    const auto msg = resumeWith(key, value);
    EXPECT_NE(msg.find(control.checkpoint), std::string::npos) << key << "=" << value << ": " << msg;
    EXPECT_NE(msg.find("delete it"), std::string::npos) << key << "=" << value << ": " << msg;
  }
  for (const auto& [key, tensor] : std::vector<std::pair<std::string, torch::Tensor>>{
           {"optimizer", torch::zeros({64}, torch::kUInt8)},
           {"rng.trainer", torch::randint(0, 255, {good.tensors.at("rng.trainer").numel()}, torch::kUInt8)}}) {
    const auto msg = resumeWith(key, "", tensor);
    EXPECT_NE(msg.find(control.checkpoint), std::string::npos) << key << ": " << msg;
    EXPECT_NE(msg.find("delete it"), std::string::npos) << key << ": " << msg;
  }
  // The untouched checkpoint still resumes.
  EXPECT_EQ(resumeWith("epoch", good.metadata.at("epoch")), "no error");
  // A stop mid-epoch writes its loss sums ("0.5"), which std::stod read as 0 in a host
  // whose C locale writes a decimal comma (setlocale(LC_ALL, "") in a German GUI): the
  // checkpoint was called malformed, and the message said to delete it.
  shiftad::test::CommaLocale comma;
  if (comma.cLocale()) EXPECT_EQ(resumeWith("sum_loss", "0.5"), "no error");
}

TEST(DiskSpace, ARunFolderWhoseFileSystemCannotTakeTheCheckpointIsRefusedBeforeTraining) {
  // An 8 MB file system and a 4 MB F (a 512 x 2048 head): the checkpoint (F and Adam's
  // two moments) could never be written there, which the first epoch's end would find.
  TempDir tmp;
  fs::create_directories(tmp / "small");
  if (std::system(("mount -t tmpfs -o size=8M tmpfs " + (tmp / "small") + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "mounting a tmpfs is not allowed here";
  // An unreadable source image: its warning would come from decoding the images.
  fs::copy(synthRoot(), tmp / "data", fs::copy_options::recursive);
  shiftad::test::writeFile(tmp / "data/source/circle/zz_broken.png", "not a png");
  shiftad::Config c = protocolOf(tmp / "data", "circle");
  c.model.width = 8;
  c.model.embedding_dim = 2048;
  c.train.epochs = 1;
  c.train.batch_size = 16;
  c.data.image_cache = false;
  c.encoder.cache_dir = tmp / "cache";
  shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(c));
  const auto r = shiftad::test::runCli(trainArgs(tmp / "cfg.yaml", tmp / "small/run"), tmp.path());
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_NE(r.err.find("run directory '" + (tmp / "small/run") + "': its file system has"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("epoch 1"), std::string::npos) << "refused before training:\n" << r.err;
  // ... and before the images are decoded, which takes minutes on a large pool.
  EXPECT_EQ(r.err.find("zz_broken.png"), std::string::npos) << "refused before decoding:\n" << r.err;
  EXPECT_FALSE(fs::exists(tmp / "small/run")) << "the folder it made is removed";
  EXPECT_EQ(std::system(("umount " + (tmp / "small")).c_str()), 0);
}

TEST(CheckData, ImagesOutsideEveryClassFolderAreListedAsNeverRead) {
  // An image dropped into a domain folder (or the root) is read by nothing; check-data
  // said nothing of it.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(synthRoot(), root, fs::copy_options::recursive);
  fs::copy_file(root + "/source/circle/0000.png", root + "/source/stray.png");
  fs::copy_file(root + "/source/circle/0000.png", root + "/stray_root.JPG");
  shiftad::test::writeFile(root + "/target/readme.txt", "not an image: not listed");
  // A domain folder without a class folder: its one image is read by nothing either.
  fs::create_directories(root + "/extra");
  fs::copy_file(root + "/source/circle/0000.png", root + "/extra/lost.png");
  fs::create_directories(root + "/empty");
  const auto r = shiftad::checkData(root);
  EXPECT_EQ(r.outside_classes,
            (std::vector<std::string>{root + "/extra/lost.png", root + "/source/stray.png", root + "/stray_root.JPG"}));
  EXPECT_EQ(r.empty_domains, (std::vector<std::string>{root + "/empty", root + "/extra"}));
  const auto cli = shiftad::test::runCli({"check-data", "-q", root}, tmp.path());
  EXPECT_NE(cli.out.find("images outside every class folder (ignored"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("domain folders without a class folder (nothing in them is read) (2):"), std::string::npos)
      << cli.out;
}
