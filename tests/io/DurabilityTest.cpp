// Durable atomic writes (common/Rename.h) and the verified feature cache
// (io/FeatureCache.h): docs/reliability.md, "Durability and caches".
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Rename.h"
#include "io/FeatureCache.h"
#include "io/SafeTensors.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST(Durability, ASyncedCommitFsyncsTheFileThenItsFolderAndACacheCommitNeither) {
  TempDir t;
  spit(t / "a.tmp", "new");
  const long before = shiftad::fsyncCount().load();
  std::error_code ec;
  shiftad::commitRename(t / "a.tmp", t / "a", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(shiftad::fsyncCount().load() - before, 2) << "the file before the rename, its folder after";
  EXPECT_EQ(slurp(t / "a"), "new");
  spit(t / "b.tmp", "cache");
  shiftad::commitRename(t / "b.tmp", t / "b", ec, shiftad::Durability::kUnsynced);
  ASSERT_FALSE(ec);
  EXPECT_EQ(shiftad::fsyncCount().load() - before, 2);
  // A failed sync (the temporary file is gone) is an error, and nothing is renamed.
  shiftad::commitRename(t / "missing.tmp", t / "c", ec);
  EXPECT_TRUE(ec);
  EXPECT_FALSE(fs::exists(t / "c"));
}

TEST(Durability, WeightFilesAreFsyncedAndWrittenUnderAPerProcessTemporaryName) {
  TempDir t;
  const long before = shiftad::fsyncCount().load();
  shiftad::io::writeSafeTensors(t / "w.safetensors", {{"x", torch::ones({3})}});
  EXPECT_EQ(shiftad::fsyncCount().load() - before, 2);
  EXPECT_EQ(shiftad::temporaryPathFor(t / "w.safetensors"),
            (t / "w.safetensors") + ".tmp-" + std::to_string(::getpid()));
  // Nothing left beside the file.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(t.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Durability, AWriteThatRunsOutOfSpaceIsAnErrorAndKeepsTheOldFile) {
  // "Disk full" without filling a disk: a file size limit (RLIMIT_FSIZE) makes the
  // write fail the same way (EFBIG instead of ENOSPC; SIGXFSZ ignored).
  TempDir t;
  const std::string path = t / "w.safetensors";
  shiftad::io::writeSafeTensors(path, {{"x", torch::ones({4})}});
  const std::string before = slurp(path);
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  try {
    shiftad::io::writeSafeTensors(path, {{"x", torch::ones({100000})}});
  } catch (const shiftad::Error& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find("disk full?"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_EQ(slurp(path), before) << "the old file is kept";
  EXPECT_FALSE(fs::exists(shiftad::temporaryPathFor(path))) << "and the temporary file removed";
}

TEST(FeatureCache, NeverTakesTheLastGigabyteOfItsFileSystem) {
  // As ImageCache.NeverTakesTheLastGigabyteOfItsFileSystem: on a 4 MB file system any
  // entry would eat into the 1 GiB the caches leave to the runs (their checkpoints), so
  // none is written, and the features are still returned.
  TempDir t;
  fs::create_directories(t / "small");
  if (std::system(("mount -t tmpfs -o size=4M tmpfs " + (t / "small") + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "mounting a tmpfs is not allowed here";
  spit(t / "a.png", "a");
  const std::vector<std::string> files = {t / "a.png"};
  int calls = 0;
  const auto compute = [&](const std::vector<std::string>&) {
    ++calls;
    return torch::arange(3, torch::kFloat).reshape({1, 3});
  };
  const auto got = shiftad::io::cachedFeatures(t / "small/cache", "enc", files, compute);
  EXPECT_TRUE(torch::equal(got, torch::arange(3, torch::kFloat).reshape({1, 3})));
  std::vector<std::string> written;
  for (const auto& e : fs::recursive_directory_iterator(t / "small"))
    if (e.is_regular_file()) written.push_back(e.path().string());
  EXPECT_TRUE(written.empty()) << written.front();
  shiftad::io::cachedFeatures(t / "small/cache", "enc", files, compute);
  EXPECT_EQ(calls, 2) << "nothing was kept: computed again";
  EXPECT_EQ(std::system(("umount " + (t / "small")).c_str()), 0);
}
