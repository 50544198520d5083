// Data-parallel training (docs/scale.md): two `shiftad train` processes on loopback
// train the model one process trains, and a rank that dies fails the others in time.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "io/SafeTensors.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// A TCP port nobody listens on now (the kernel's pick for a socket bound to port 0).
int freePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

/// The command line of rank `rank` of `world` (world 1: a plain run).
std::vector<std::string> trainArgs(const std::vector<std::string>& what, int rank, int world, int port,
                                   double timeout = 60) {
  std::vector<std::string> args{"train", "--threads", "1"};
  args.insert(args.end(), what.begin(), what.end());
  if (world > 1)
    for (const auto& a : {std::string("--world-size"), std::to_string(world), std::string("--rank"),
                          std::to_string(rank), std::string("--master"), "127.0.0.1:" + std::to_string(port),
                          std::string("--dist-timeout"), std::to_string(timeout)})
      args.push_back(a);
  return args;
}

/// Start every rank of a `world`-process run; their pids, logs in tmp/NAME.rankR.log.
std::vector<pid_t> startRanks(const TempDir& tmp, const std::string& name, const std::vector<std::string>& what,
                              int world, double timeout = 60) {
  const int port = freePort();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r)
    pids.push_back(shiftad::test::spawnCli(trainArgs(what, r, world, port, timeout),
                                           tmp / (name + ".rank" + std::to_string(r) + ".log")));
  return pids;
}

void expectAllSucceed(const TempDir& tmp, const std::string& name, const std::vector<pid_t>& pids) {
  for (size_t r = 0; r < pids.size(); ++r)
    EXPECT_EQ(shiftad::test::waitExit(pids[r]), 0)
        << shiftad::test::readText(tmp / (name + ".rank" + std::to_string(r) + ".log"));
}

/// The head-only configuration the suites train (model.freeze -1), aligning the pool's
/// dominant cluster with InfoNCE and anchored (train.anchor), on the synthetic benchmark.
std::string headOnlyConfig(const TempDir& tmp, int epochs, const std::string& root = shiftad::test::synthRoot()) {
  shiftad::Config c = shiftad::test::protocolOf(root, "circle");
  c.model.width = 8;
  c.model.freeze = -1;
  c.train.epochs = epochs;
  c.train.batch_size = 16;
  c.train.anchor = 0.01;
  c.encoder.cache_dir = tmp / "features";
  const auto path = tmp / "head.yaml";
  shiftad::test::writeFile(path, shiftad::dumpConfig(c));
  return path;
}

/// Largest |a - b| over largest |a| of every tensor of two safetensors files.
void expectSameTensors(const std::string& a, const std::string& b, double rel) {
  const auto x = shiftad::io::readSafeTensors(a), y = shiftad::io::readSafeTensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size()) << a << " vs " << b;
  for (const auto& [name, t] : x.tensors) {
    ASSERT_TRUE(y.tensors.count(name)) << name << " missing from " << b;
    const auto u = t.to(torch::kDouble), v = y.tensors.at(name).to(torch::kDouble);
    ASSERT_EQ(u.sizes(), v.sizes()) << name;
    const double scale = std::max(u.abs().max().item<double>(), 1e-12);
    EXPECT_LE((u - v).abs().max().item<double>() / scale, rel) << name << " of " << a;
  }
}

/// Two JSON values equal apart from timing fields ("seconds") and the run id (a checksum
/// of weights that agree only to rounding), floats to `rel`.
void expectSameJson(const nlohmann::json& a, const nlohmann::json& b, double rel, const std::string& where) {
  if (a.is_object()) {
    ASSERT_TRUE(b.is_object()) << where;
    for (const auto& [k, v] : a.items()) {
      if (k == "seconds" || k == "run_id") continue;
      ASSERT_TRUE(b.contains(k)) << where << "." << k;
      expectSameJson(v, b.at(k), rel, where + "." + k);
    }
    EXPECT_EQ(a.size(), b.size()) << where;
  } else if (a.is_array()) {
    ASSERT_TRUE(b.is_array() && a.size() == b.size()) << where;
    for (size_t i = 0; i < a.size(); ++i) expectSameJson(a[i], b[i], rel, where + "[" + std::to_string(i) + "]");
  } else if (a.is_number_float() || b.is_number_float()) {
    const double x = a.get<double>(), y = b.get<double>();
    EXPECT_LE(std::abs(x - y), rel * std::max(std::abs(x), 1e-9)) << where;
  } else {
    EXPECT_EQ(a, b) << where;
  }
}

std::vector<nlohmann::json> jsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

/// The synthetic benchmark with a source and a target image renamed to names that are
/// not UTF-8 (a file name is bytes: Latin-1 names from an old camera or share).
std::string dataWithBinaryNames(const TempDir& tmp) {
  const auto root = tmp / "data";
  fs::copy(shiftad::test::synthRoot(), root, fs::copy_options::recursive);
  for (const char* cls : {"source/circle", "target/circle"}) {
    const auto dir = fs::path(root) / cls;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    fs::rename(files[1], dir / "caf\xe9_\xff.png");
  }
  return root;
}

}  // namespace

TEST(Distributed, TwoRanksOnLoopbackTrainTheModelOfOneProcess) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 3, dataWithBinaryNames(tmp));  // names travel between the ranks
  const auto one = tmp / "one", two = tmp / "two";
  expectAllSucceed(tmp, "one", startRanks(tmp, "one", {"--config", cfg, "--out", one}, 1));
  const auto pids = startRanks(tmp, "two", {"--config", cfg, "--out", two}, 2);
  expectAllSucceed(tmp, "two", pids);
  // Rank 0 wrote the run, the same as one process's to float rounding.
  expectSameTensors(one + "/model.safetensors", two + "/model.safetensors", 1e-5);
  expectSameTensors(one + "/center.safetensors", two + "/center.safetensors", 1e-5);
  const auto m1 = jsonLines(one + "/metrics.jsonl"), m2 = jsonLines(two + "/metrics.jsonl");
  ASSERT_EQ(m1.size(), 3u);
  ASSERT_EQ(m1.size(), m2.size());
  for (size_t i = 0; i < m1.size(); ++i) expectSameJson(m1[i], m2[i], 1e-5, "metrics line " + std::to_string(i));
  EXPECT_GT(m1[0].at("dominant_size").get<int>(), 0);  // the run aligned a dominant set
  expectSameJson(nlohmann::json::parse(shiftad::test::readText(one + "/summary.json")),
                 nlohmann::json::parse(shiftad::test::readText(two + "/summary.json")), 1e-5, "summary.json");
  expectSameJson(nlohmann::json::parse(shiftad::test::readText(one + "/calibration.json")),
                 nlohmann::json::parse(shiftad::test::readText(two + "/calibration.json")), 1e-4, "calibration.json");
  // The same files, and the same file list: rank 1 wrote nothing anywhere in the run.
  for (const char* f : {"config.yaml", "dominant.txt"})
    EXPECT_EQ(shiftad::test::readText(one + "/" + f), shiftad::test::readText(two + "/" + f)) << f;
  std::vector<std::string> n1, n2;
  for (const auto& e : fs::directory_iterator(one)) n1.push_back(e.path().filename());
  for (const auto& e : fs::directory_iterator(two)) n2.push_back(e.path().filename());
  std::sort(n1.begin(), n1.end());
  std::sort(n2.begin(), n2.end());
  EXPECT_EQ(n1, n2);
  // Rank 1 names the folder rank 0 wrote, absolute, not an argument of its own.
  const auto log1 = shiftad::test::readText(tmp / "two.rank1.log");
  EXPECT_NE(log1.find("rank 0 wrote the run: " + two), std::string::npos);
  // Log lines name their rank, and only rank 0 logs the run's progress (each line came
  // once per rank, with nothing to tell the ranks apart).
  const auto log0 = shiftad::test::readText(tmp / "two.rank0.log");
  EXPECT_NE(log0.find("rank 0 info epoch 1/3"), std::string::npos) << log0;
  EXPECT_EQ(log1.find(" info "), std::string::npos) << log1;
  EXPECT_EQ(log0.find("BatchNorm"), std::string::npos) << "a head-only run has no BatchNorm to warn of";
}

TEST(Distributed, AdversarialAlignmentTrainsTheModelOfOneProcess) {
  // Every rank applies the domain discriminator to the whole gathered batch, so each held
  // its whole gradient and the sum over ranks was twice one process's: with weight decay
  // (not scale-free, unlike Adam's step) F's head ended ~50% away after 10 epochs.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 3);
  const std::vector<std::string> adversarial = {"--set", "align.method=adversarial", "--set",
                                                "train.weight_decay=0.05"};
  auto args = [&](const std::string& out) {
    std::vector<std::string> a = {"--config", cfg, "--out", out};
    a.insert(a.end(), adversarial.begin(), adversarial.end());
    return a;
  };
  expectAllSucceed(tmp, "one", startRanks(tmp, "one", args(tmp / "one"), 1));
  expectAllSucceed(tmp, "two", startRanks(tmp, "two", args(tmp / "two"), 2));
  expectSameTensors(tmp / "one/model.safetensors", tmp / "two/model.safetensors", 1e-5);
}

namespace {

/// Rank 0 and rank 1 of a 2-process run, each with its own arguments and folder.
std::vector<pid_t> startTwo(const TempDir& tmp, const std::string& name, const std::vector<std::string>& rank0,
                            const std::vector<std::string>& rank1, const std::string& cwd1 = "") {
  const int port = freePort();
  return {shiftad::test::spawnCli(trainArgs(rank0, 0, 2, port), tmp / (name + ".rank0.log")),
          shiftad::test::spawnCli(trainArgs(rank1, 1, 2, port), tmp / (name + ".rank1.log"), cwd1)};
}

/// Both ranks fail, each naming rank 1 and `why`; the folder rank 0 made is gone.
void expectRefused(const TempDir& tmp, const std::string& name, const std::vector<pid_t>& pids,
                   const std::string& why) {
  for (int r = 0; r < 2; ++r) {
    const int status = shiftad::test::waitExit(pids[r]);
    const auto log = shiftad::test::readText(tmp / (name + ".rank" + std::to_string(r) + ".log"));
    EXPECT_EQ(status, 1) << log;
    EXPECT_NE(log.find("rank 1 of 2 cannot train this run: " + why), std::string::npos) << log;
  }
  EXPECT_FALSE(fs::exists(tmp / name)) << "the run folder rank 0 created stays behind";
}

}  // namespace

TEST(Distributed, RanksOfOtherSettingsOrOtherImagesAreRefusedBeforeTrainingAndACopyOfTheDataTrains) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 2);
  const auto one = tmp / "one";
  expectAllSucceed(tmp, "one", startRanks(tmp, "one", {"--config", cfg, "--out", one}, 1));
  // Another learning rate on rank 1: its steps would have diverged from rank 0's in silence.
  auto pids = startTwo(tmp, "lr", {"--config", cfg, "--out", tmp / "lr"},
                       {"--config", cfg, "--out", tmp / "lr", "--set", "train.lr=0.01"});
  expectRefused(tmp, "lr", pids, "it was started with other settings than rank 0 (train.lr: ");
  // A byte-identical copy of the data at another root (node-local data): the same run.
  const auto copy = tmp / "copy";
  fs::copy(shiftad::test::synthRoot(), copy, fs::copy_options::recursive);
  pids = startTwo(tmp, "copy", {"--config", cfg, "--out", tmp / "copy_run"},
                  {"--config", cfg, "--out", tmp / "copy_run", "--set", "data.root=" + copy});
  expectAllSucceed(tmp, "copy", pids);
  expectSameTensors(one + "/model.safetensors", tmp / "copy_run/model.safetensors", 1e-5);
  // The copy with one source image less: another split.
  std::vector<fs::path> circles;
  for (const auto& e : fs::directory_iterator(copy + "/source/circle")) circles.push_back(e.path());
  fs::remove(*std::min_element(circles.begin(), circles.end()));
  pids = startTwo(tmp, "less", {"--config", cfg, "--out", tmp / "less"},
                  {"--config", cfg, "--out", tmp / "less", "--set", "data.root=" + copy});
  expectRefused(tmp, "less", pids, "it reads another source than rank 0");
}

TEST(Distributed, ARankGivenAnotherRunFolderOrResumeIsRefused) {
  // Two jobs on one --master port: job B's rank 1 trained with job A's rank 0 and said
  // it had written runs/jobB, which nobody wrote. The folder's name must be rank 0's.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  auto pids = startTwo(tmp, "jobA", {"--config", cfg, "--out", tmp / "jobA"}, {"--config", cfg, "--out", tmp / "jobB"});
  expectRefused(tmp, "jobA", pids, "it was given the run folder '" + tmp / "jobB" + "', rank 0 '" + tmp / "jobA");
  EXPECT_FALSE(fs::exists(tmp / "jobB"));
  // A rank resuming while rank 0 starts afresh (the same name, another command).
  shiftad::FitOptions stop_after_one;
  stop_after_one.callbacks.cancel = [] { return true; };
  shiftad::Detector::fit(shiftad::loadConfig(cfg), tmp / "stopped/run", stop_after_one);
  pids = startTwo(tmp, "run", {"--config", cfg, "--out", tmp / "run"}, {"--resume", tmp / "stopped/run"});
  expectRefused(tmp, "run", pids, "it was started with --resume, rank 0 without");
}

TEST(Distributed, ARankResumesARunRank0NamedRelativeToItsOwnFolder) {
  // Rank 0 says where the run is as an absolute path: rank 1, started elsewhere with the
  // run's absolute path, resumes it (it was told "run/..." and looked below its own folder).
  TempDir tmp;
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 2);
  shiftad::FitOptions stop_after_one;
  int epochs = 0;
  stop_after_one.callbacks.progress = [&](const std::string&, int64_t done, int64_t) { epochs = done; };
  stop_after_one.callbacks.cancel = [&] { return epochs >= 1; };
  ASSERT_TRUE(shiftad::Detector::fit(shiftad::loadConfig(cfg), tmp / "run", stop_after_one).trainSummary().interrupted);
  fs::create_directories(tmp / "elsewhere");
  const int port = freePort();
  const std::vector<pid_t> pids = {
      shiftad::test::spawnCli({"train", "--threads", "1", "--resume", "run", "--world-size", "2", "--rank", "0",
                               "--master", "127.0.0.1:" + std::to_string(port), "--dist-timeout", "60"},
                              tmp / "resume.rank0.log", tmp.path()),
      shiftad::test::spawnCli(trainArgs({"--resume", tmp / "run"}, 1, 2, port), tmp / "resume.rank1.log",
                              tmp / "elsewhere")};
  expectAllSucceed(tmp, "resume", pids);
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
}

TEST(Distributed, ARendezvousThatGetsNoAnswerFailsWithinTwiceTheTimeoutAndATakenPortIsNamed) {
  // A port that accepts connections (the kernel completes them into the backlog) and
  // never answers: a stopped rank 0, or another program on the port.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 16), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = shiftad::test::spawnCli(
      trainArgs({"--config", cfg, "--out", tmp / "run"}, 1, 2, ntohs(a.sin_port), 2), tmp / "log");
  const int status = shiftad::test::waitExit(pid);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto log = shiftad::test::readText(tmp / "log");
  EXPECT_EQ(status, 1) << log;
  EXPECT_LT(waited, 15.0) << log;  // 2 x 2 s and a second, plus start-up on a loaded machine
  EXPECT_NE(log.find("no answer from 127.0.0.1:"), std::string::npos) << log;
  // Rank 0 on that port: the port is this machine's problem, not another rank's.
  const pid_t rank0 = shiftad::test::spawnCli(
      trainArgs({"--config", cfg, "--out", tmp / "run"}, 0, 2, ntohs(a.sin_port), 2), tmp / "log0");
  EXPECT_EQ(shiftad::test::waitExit(rank0), 1);
  ::close(s);
  const auto log0 = shiftad::test::readText(tmp / "log0");
  EXPECT_NE(log0.find("another job or program listens on that port"), std::string::npos) << log0;
}

TEST(Distributed, ARankKilledFailsTheOtherWithinTheTimeoutAndTheRunResumes) {
  TempDir tmp;
  // Fine-tuning F's whole small CNN: slow enough epochs to kill a rank mid-run.
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 6);
  const auto run = tmp / "run";
  const double timeout = 20;
  auto pids = startRanks(tmp, "run", {"--config", cfg, "--out", run}, 2, timeout);
  int status = 0;
  while (!fs::exists(run + "/checkpoint.safetensors")) {  // the first epoch is done
    ASSERT_FALSE(shiftad::test::exited(pids[0], status)) << shiftad::test::readText(tmp / "run.rank0.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pids[1], SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  status = shiftad::test::waitExit(pids[0]);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int killed = shiftad::test::waitExit(pids[1]);
  const auto log = shiftad::test::readText(tmp / "run.rank0.log");
  if (killed != -SIGKILL) GTEST_SKIP() << "rank 1 finished before the kill; nothing to check";
  EXPECT_NE(status, 0) << log;
  EXPECT_LT(waited, timeout + 10) << "rank 0 waited " << waited << " s for a dead rank";
  EXPECT_NE(log.find("rank 0 of 2"), std::string::npos) << log;
  // It says how to go on from the checkpoint it kept (a signal's stop did; a dead peer's did not).
  EXPECT_NE(log.find("continue by starting every rank again with `shiftad train --resume " + run + "`"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(run + "/model.safetensors"));
  // The checkpoint rank 0 wrote resumes with two ranks to the end.
  pids = startRanks(tmp, "resume", {"--resume", run}, 2);
  expectAllSucceed(tmp, "resume", pids);
  EXPECT_TRUE(fs::exists(run + "/model.safetensors"));
  EXPECT_EQ(jsonLines(run + "/metrics.jsonl").size(), 6u);
}

TEST(Distributed, SigtermToOneRankStopsEveryRankAtACheckpointThatResumes) {
  TempDir tmp;
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 40);
  const auto run = tmp / "run";
  auto pids = startRanks(tmp, "run", {"--config", cfg, "--out", run}, 2);
  int status = 0;
  while (!fs::exists(run + "/checkpoint.safetensors")) {  // the first epoch is done
    ASSERT_FALSE(shiftad::test::exited(pids[0], status)) << shiftad::test::readText(tmp / "run.rank0.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pids[1], SIGTERM);
  const int rank0 = shiftad::test::waitExit(pids[0]), rank1 = shiftad::test::waitExit(pids[1]);
  const auto log1 = shiftad::test::readText(tmp / "run.rank1.log");
  if (rank1 == 0) GTEST_SKIP() << "rank 1 finished before the signal; nothing to check";
  EXPECT_EQ(rank1, 143) << log1;
  EXPECT_EQ(rank0, 130) << shiftad::test::readText(tmp / "run.rank0.log");
  // Rank 1 wrote nothing: it says who did, and how the ranks go on (at any world size).
  EXPECT_NE(log1.find("rank 0 wrote the checkpoint"), std::string::npos) << log1;
  EXPECT_NE(log1.find("starting the ranks again with `shiftad train --resume " + run + "`"), std::string::npos) << log1;
  // Rank 0 was not signalled: it says the stop came from another rank.
  const auto log0 = shiftad::test::readText(tmp / "run.rank0.log");
  EXPECT_NE(log0.find("rank 0 of 2 stopped with the others: another rank was interrupted"), std::string::npos) << log0;
  EXPECT_FALSE(fs::exists(run + "/model.safetensors"));
  pids = startRanks(tmp, "resume", {"--resume", run}, 2);
  expectAllSucceed(tmp, "resume", pids);
  EXPECT_EQ(jsonLines(run + "/metrics.jsonl").size(), 40u);
}

TEST(Distributed, SigtermWhileWaitingAtTheRendezvousExitsAtOnce) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  // Rank 0 waits for a rank 1 that never comes, for up to its timeout (60 s here).
  const pid_t pid =
      shiftad::test::spawnCli(trainArgs({"--config", cfg, "--out", tmp / "run"}, 0, 2, freePort(), 60), tmp / "log");
  const auto waiting = [&] { return shiftad::test::readText(tmp / "log").find("rendezvous at") != std::string::npos; };
  for (int i = 0; i < 300 && !waiting(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(waiting()) << shiftad::test::readText(tmp / "log");
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  const int status = shiftad::test::waitExit(pid);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto log = shiftad::test::readText(tmp / "log");
  EXPECT_EQ(status, 143) << log;
  EXPECT_LT(waited, 10.0) << "it waited out the rendezvous:\n" << log;
  EXPECT_NE(log.find("stopped while waiting for the other ranks"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp / "run")) << "nothing is written before the rendezvous";
}

TEST(Distributed, ARankWithoutRank0FailsWithinTheTimeout) {
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid =
      shiftad::test::spawnCli(trainArgs({"--config", cfg, "--out", tmp / "run"}, 1, 2, freePort(), 3), tmp / "log");
  const int status = shiftad::test::waitExit(pid);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto log = shiftad::test::readText(tmp / "log");
  EXPECT_NE(status, 0) << log;
  EXPECT_LT(waited, 30.0) << log;
  EXPECT_NE(log.find("rendezvous"), std::string::npos) << log;
  EXPECT_NE(log.find("every rank must give the same --world-size and --master"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp / "run")) << "a rank other than 0 created the run folder";
}

TEST(Distributed, RanksGivenDifferentWorldSizesFailNamingTheOption) {
  // Gloo's own words were "enforce fail at .../address.cc: sizeof(impl_) == bytes.size()".
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const int port = freePort();
  const std::vector<pid_t> pids = {
      shiftad::test::spawnCli(trainArgs({"--config", cfg, "--out", tmp / "run"}, 0, 2, port, 3), tmp / "r0.log"),
      shiftad::test::spawnCli(trainArgs({"--config", cfg, "--out", tmp / "run"}, 1, 3, port, 3), tmp / "r1.log")};
  std::string logs;
  for (size_t r = 0; r < pids.size(); ++r) {
    EXPECT_NE(shiftad::test::waitExit(pids[r]), 0);
    logs += shiftad::test::readText(tmp / ("r" + std::to_string(r) + ".log"));
  }
  EXPECT_NE(logs.find("every rank must give the same --world-size and --master"), std::string::npos) << logs;
}

TEST(Distributed, GlooSocketIfnameNamingNoInterfaceIsSaidAsSuch) {
  // Gloo's "Unable to find address for: NAME" came with the hint that another rank failed.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  ::setenv("GLOO_SOCKET_IFNAME", "nosuch_if0", 1);  // the children inherit it
  const auto pids = startRanks(tmp, "if", {"--config", cfg, "--out", tmp / "run"}, 2, 10);
  ::unsetenv("GLOO_SOCKET_IFNAME");
  for (int r = 0; r < 2; ++r) {
    const auto log = shiftad::test::readText(tmp / ("if.rank" + std::to_string(r) + ".log"));
    EXPECT_EQ(shiftad::test::waitExit(pids[r]), 1) << log;
  }
  const auto log = shiftad::test::readText(tmp / "if.rank0.log");
  EXPECT_NE(log.find("GLOO_SOCKET_IFNAME='nosuch_if0' names no network interface of this host"), std::string::npos)
      << log;
}

TEST(Distributed, AWorldOfOneTrainsAlone) {
  // A script looping over world sizes writes `--world-size 1 --rank 0 --master ...`.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const auto r = shiftad::test::runCli({"train", "--threads", "1", "--config", cfg, "--out", tmp / "run",
                                        "--world-size", "1", "--rank", "0", "--master", "127.0.0.1:29500"},
                                       tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "run/model.safetensors"));
}

TEST(Distributed, TheLaunchersEnvironmentGivesTheRestartAttempt) {
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "1", 1);
  ::setenv("TORCHELASTIC_RESTART_COUNT", "3", 1);
  const auto o = shiftad::distributedFromEnvironment();
  ::unsetenv("TORCHELASTIC_RESTART_COUNT");
  const auto fresh = shiftad::distributedFromEnvironment();
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("RANK");
  EXPECT_EQ(o.world_size, 2);
  EXPECT_EQ(o.rank, 1);
  EXPECT_EQ(o.attempt, 3);
  EXPECT_EQ(fresh.attempt, 0);
}

TEST(Distributed, EachLaunchersVariableIsTheDefaultOfItsOwnSetting) {
  // RANK and MASTER_* were read only beside WORLD_SIZE: a script exporting them and giving
  // --world-size ran every process as rank 0 at 127.0.0.1:29500.
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_ADDR", "10.1.2.3", 1);
  ::setenv("MASTER_PORT", "29123", 1);
  const auto exported = shiftad::distributedFromEnvironment();
  ::unsetenv("RANK");
  ::unsetenv("MASTER_ADDR");
  ::unsetenv("MASTER_PORT");
  EXPECT_EQ(exported.world_size, 1);
  EXPECT_EQ(exported.rank, 1);
  EXPECT_EQ(exported.master_addr, "10.1.2.3");
  EXPECT_EQ(exported.master_port, 29123);
  // srun's tasks without MASTER_ADDR: --master names the host (it was refused), and
  // --world-size 1 trains alone; without either the CLI says what to export.
  ::setenv("SLURM_NTASKS", "2", 1);
  ::setenv("SLURM_PROCID", "1", 1);
  const auto srun = shiftad::distributedFromEnvironment();
  EXPECT_EQ(srun.world_size, 2);
  EXPECT_EQ(srun.rank, 1);
  TempDir tmp;
  const auto missing = tmp / "bad.yaml";  // every command fails at its config, after the launch checks
  shiftad::test::writeFile(missing, "bogus: {x: 1}\n");
  const auto bare = shiftad::test::runCli({"train", "--config", missing, "--out", tmp / "r"}, tmp.path());
  const auto with_master = shiftad::test::runCli(
      {"train", "--config", missing, "--out", tmp / "r", "--master", "127.0.0.1:29999"}, tmp.path());
  const auto alone =
      shiftad::test::runCli({"train", "--config", missing, "--out", tmp / "r", "--world-size", "1"}, tmp.path());
  ::unsetenv("SLURM_NTASKS");
  ::unsetenv("SLURM_PROCID");
  EXPECT_NE(bare.err.find("srun started 2 tasks but MASTER_ADDR is not set"), std::string::npos) << bare.err;
  for (const auto* r : {&with_master, &alone}) {
    EXPECT_EQ(r->err.find("MASTER_ADDR"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("bad.yaml: unknown config section 'bogus'"), std::string::npos) << r->err;
  }
  // WORLD_SIZE without RANK made every process rank 0, as --world-size without --rank would.
  ::setenv("WORLD_SIZE", "2", 1);
  const auto no_rank = shiftad::test::runCli({"train", "--config", missing, "--out", tmp / "r"}, tmp.path());
  ::unsetenv("WORLD_SIZE");
  EXPECT_EQ(no_rank.exit, 2) << no_rank.err;
  EXPECT_NE(no_rank.err.find("WORLD_SIZE=2 is set but RANK is not"), std::string::npos) << no_rank.err;
}

TEST(Distributed, FineTuningWithBatchNormOnFewRowsARankIsWarnedOf) {
  // Each rank normalises by its own share of the batch: 8 source rows of 16 here. A
  // helper's hunt saw a small CNN at 5-6 rows a rank end at AUROC 0.57 against 0.98.
  TempDir tmp;
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 1);  // small_cnn fine-tuned, batches of 16
  expectAllSucceed(tmp, "bn", startRanks(tmp, "bn", {"--config", cfg, "--out", tmp / "bn"}, 2));
  const auto log0 = shiftad::test::readText(tmp / "bn.rank0.log");
  EXPECT_NE(log0.find("F's BatchNorm layers normalise each rank's share of a batch, 8 source rows of 16 here"),
            std::string::npos)
      << log0;
  EXPECT_NE(log0.find("give train.batch_size 32 or more"), std::string::npos) << log0;
}

TEST(Distributed, ARankThatCannotSeeTheRunToResumeSaysEveryRankMust) {
  // It said only "does not exist", before the rendezvous its peers then waited out.
  TempDir tmp;
  const auto r = shiftad::test::runCli(
      {"train", "--resume", tmp / "elsewhere", "--world-size", "2", "--rank", "1", "--master", "127.0.0.1:1"},
      tmp.path());
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("rank 1 of 2: every rank must see the run folder at the same path"), std::string::npos) << r.err;
}

TEST(Distributed, AnotherProgramOnTheMasterPortIsNamedAsSuchNotAsATakenRank) {
  // A server that answers every connection with an HTTP error (as some proxies do): its
  // reply read as a count of ranks joined, and the error blamed two processes of one rank.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  ASSERT_EQ(::listen(listener, 8), 0);
  std::thread server([listener] {
    std::vector<int> open;
    for (int i = 0; i < 4; ++i) {  // the store client may connect more than once
      const int c = ::accept(listener, nullptr, nullptr);
      if (c < 0) break;
      char buf[4096];
      (void)::recv(c, buf, sizeof buf, 0);
      const std::string reply = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
      (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      open.push_back(c);
    }
    for (int c : open) ::close(c);
  });
  TempDir tmp;
  const auto r = shiftad::test::runCli(
      trainArgs({"--config", headOnlyConfig(tmp, 1), "--out", tmp / "run"}, 1, 2, ntohs(a.sin_port), 3), tmp.path());
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  server.join();
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("does not answer as a rendezvous store"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("already joined"), std::string::npos) << r.err;
}

TEST(Distributed, AnIpv6MasterInBracketsIsItsHost) {
  // `--master [::1]:PORT` was taken as the host "[::1]" and timed out.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const int port = freePort();
  std::vector<pid_t> pids;
  for (int r = 0; r < 2; ++r) {
    auto args = trainArgs({"--config", cfg, "--out", tmp / "run"}, r, 2, port, 20);
    args[std::find(args.begin(), args.end(), "--master") - args.begin() + 1] = "[::1]:" + std::to_string(port);
    pids.push_back(shiftad::test::spawnCli(args, tmp / ("v6.rank" + std::to_string(r) + ".log")));
  }
  expectAllSucceed(tmp, "v6", pids);
  EXPECT_NE(shiftad::test::readText(tmp / "v6.rank0.log").find("rendezvous at ::1:"), std::string::npos);
}

TEST(Distributed, ALaunchersRestartOfAFreshRunGoesOnFromItsCheckpoint) {
  // torchrun --max_restarts runs the first attempt's `--config --out RUN` again, which was
  // refused as "holds an unfinished run": the restart budget went on a refusal.
  TempDir tmp;
  const auto cfg = shiftad::test::tinyConfigFile(tmp, 6);
  const auto run = tmp / "run";
  const std::vector<std::string> command = {"--config", cfg, "--out", run};
  auto pids = startRanks(tmp, "first", command, 2, 20);
  int status = 0;
  while (!fs::exists(run + "/checkpoint.safetensors")) {
    ASSERT_FALSE(shiftad::test::exited(pids[0], status)) << shiftad::test::readText(tmp / "first.rank0.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pids[1], SIGKILL);
  shiftad::test::waitExit(pids[0]);
  if (shiftad::test::waitExit(pids[1]) != -SIGKILL) GTEST_SKIP() << "rank 1 finished before the kill";
  ASSERT_FALSE(fs::exists(run + "/model.safetensors"));
  ::setenv("TORCHELASTIC_RESTART_COUNT", "1", 1);  // what torchrun sets in a restarted group
  pids = startRanks(tmp, "restart", command, 2);
  ::unsetenv("TORCHELASTIC_RESTART_COUNT");
  expectAllSucceed(tmp, "restart", pids);
  EXPECT_TRUE(fs::exists(run + "/model.safetensors"));
  EXPECT_EQ(jsonLines(run + "/metrics.jsonl").size(), 6u);
  const auto log = shiftad::test::readText(tmp / "restart.rank0.log");
  EXPECT_NE(log.find("going on with the run its first attempt left"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming from"), std::string::npos) << log;
  // Without the launcher's count the same command is still refused: a user's rerun.
  const auto again = shiftad::test::runCli(trainArgs({"--config", cfg, "--out", run}, 0, 1, 0), tmp.path());
  EXPECT_EQ(again.exit, 1);
  EXPECT_NE(again.err.find("holds a trained run"), std::string::npos) << again.err;
}

TEST(Distributed, TwoProcessesGivenOneRankAreToldSo) {
  // The errors named neither the rank nor the cause ("every rank must give the same
  // --world-size and --master"), and one process waited five times the timeout.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const int port = freePort();
  std::vector<pid_t> pids;
  for (int r : {0, 1, 1})
    pids.push_back(shiftad::test::spawnCli(trainArgs({"--config", cfg, "--out", tmp / "run"}, r, 3, port, 3),
                                           tmp / ("p" + std::to_string(pids.size()) + ".log")));
  std::string logs;
  for (size_t i = 0; i < pids.size(); ++i) {
    EXPECT_NE(shiftad::test::waitExit(pids[i]), 0);
    logs += shiftad::test::readText(tmp / ("p" + std::to_string(i) + ".log"));
  }
  EXPECT_NE(logs.find("another process already joined as rank 1 of 3"), std::string::npos) << logs;
}

TEST(Distributed, ARendezvousErrorIsShiftadsOneLineWithoutLibTorchsLog) {
  // c10d logs through glog: "WARNING: Logging before InitGoogleLogging()", then "W... socket.cpp
  // ... [c10d] The IPv6 network addresses of ... cannot be retrieved" came before the error.
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const auto r =
      shiftad::test::runCli({"train", "-q", "--threads", "1", "--config", cfg, "--out", tmp / "run", "--world-size",
                             "2", "--rank", "1", "--master", "nohost.invalid:29624", "--dist-timeout", "1"},
                            tmp.path());
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_EQ(r.err.rfind("shiftad: error: distributed training, rank 1 of 2: the rendezvous failed", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Distributed, AnImageARankCannotReadOnItsCopyOfTheDataIsNamedAsThatRanks) {
  // Rank 1 reads a node-local copy in which one image of its share is damaged: the run
  // trained on one image less, and rank 0's log named nothing (its own file is whole).
  TempDir tmp;
  const auto cfg = headOnlyConfig(tmp, 1);
  const auto copy = tmp / "copy";
  fs::copy(shiftad::test::synthRoot(), copy, fs::copy_options::recursive);
  std::vector<fs::path> circles;
  for (const auto& e : fs::directory_iterator(copy + "/source/circle")) circles.push_back(e.path());
  const auto last = *std::max_element(circles.begin(), circles.end());  // in rank 1's (second) half
  shiftad::test::writeFile(last.string(), std::string(fs::file_size(last), '\0'));
  const auto pids = startTwo(tmp, "copy", {"--config", cfg, "--out", tmp / "run"},
                             {"--config", cfg, "--out", tmp / "run", "--set", "data.root=" + copy});
  expectAllSucceed(tmp, "copy", pids);
  const auto log = shiftad::test::readText(tmp / "copy.rank0.log");
  EXPECT_NE(
      log.find("rank 1 could not read 1 image(s) of its share from its own copy of the data (e.g. 'source/circle/" +
               last.filename().string()),
      std::string::npos)
      << log;
}
