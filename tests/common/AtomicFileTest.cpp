// Atomic writes (common/AtomicFile): the new bytes or the old ones, never a temporary
// file left behind, fsync of the file and its folder when durable, one temporary per
// thread for cache writers.
#include "common/AtomicFile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "common/TextFile.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::TempDir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int entriesIn(const std::string& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST(AtomicFile, WritesAndReplacesTheFileLeavingNoTemporary) {
  TempDir t;
  const std::string path = t / "a.csv";
  const std::string binary("x\0y\n\xff", 5);
  shiftad::writeFileAtomic(path, binary);
  EXPECT_EQ(slurp(path), binary);
  shiftad::writeFileAtomic(path, [](std::ostream& out) { out << "new " << 42; });
  EXPECT_EQ(slurp(path), "new 42");
  EXPECT_EQ(entriesIn(t.path()), 1);
}

TEST(AtomicFile, AWriterThatThrowsKeepsTheOldFileAndRemovesTheTemporary) {
  TempDir t;
  const std::string path = t / "a.txt";
  shiftad::writeFileAtomic(path, "old");
  const auto msg = errorOf([&] {
    shiftad::writeFileAtomic(path, [](std::ostream& out) {
      out << "half of the new";
      throw shiftad::Error("stopped half-way");
    });
  });
  EXPECT_EQ(msg, "stopped half-way");
  EXPECT_EQ(slurp(path), "old");
  EXPECT_FALSE(fs::exists(shiftad::temporaryPathFor(path)));
  EXPECT_EQ(entriesIn(t.path()), 1);
}

TEST(AtomicFile, AMissingFolderIsAnErrorNamingThePath) {
  TempDir t;
  const std::string path = t / "no/such/folder/a.txt";
  const auto msg = errorOf([&] { shiftad::writeFileAtomic(path, "x"); });
  // The file the user named, as named; the temporary only after it.
  EXPECT_EQ(msg.find("cannot write '" + path + "': its temporary"), 0u) << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}

TEST(AtomicFile, ADurableWriteSyncsTheFileAndItsFolderAnUnsyncedOneNeither) {
  TempDir t;
  const long before = shiftad::fsyncCount().load();
  shiftad::writeFileAtomic(t / "synced", "x");
  EXPECT_EQ(shiftad::fsyncCount().load() - before, 2);
  shiftad::writeFileAtomic(t / "unsynced", "x", shiftad::Durability::kUnsynced);
  EXPECT_EQ(shiftad::fsyncCount().load() - before, 2);
}

TEST(AtomicFile, ThreadsWritingOneFileEachCommitAWholeFile) {
  // With one temporary per process, two threads would write into the same temporary
  // file (a mix of both) or rename it from under each other (an error).
  TempDir t;
  const std::string path = t / "entry";
  constexpr int kThreads = 4, kWrites = 25;
  const size_t size = 1 << 16;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> pool;
  for (int i = 0; i < kThreads; ++i)
    pool.emplace_back([&, i] {
      const std::string bytes(size, static_cast<char>('a' + i));
      for (int w = 0; w < kWrites; ++w) try {
          shiftad::writeFileAtomic(
              path, [&](std::ostream& out) { out << bytes; }, shiftad::Durability::kUnsynced,
              shiftad::TemporaryName::kPerThread);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
    });
  for (auto& th : pool) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  const auto content = slurp(path);
  ASSERT_EQ(content.size(), size);
  EXPECT_EQ(content, std::string(size, content[0])) << "bytes of two writers mixed";
  EXPECT_EQ(entriesIn(t.path()), 1);
}

TEST(AtomicFile, CopyIsWholeAndAMissingSourceLeavesNothing) {
  TempDir t;
  shiftad::writeFileAtomic(t / "from", "payload");
  shiftad::copyFileAtomic(t / "from", t / "to");
  EXPECT_EQ(slurp(t / "to"), "payload");
  const auto msg = errorOf([&] { shiftad::copyFileAtomic(t / "missing", t / "to"); });
  EXPECT_NE(msg.find(t / "missing"), std::string::npos) << msg;
  EXPECT_EQ(slurp(t / "to"), "payload");
  EXPECT_EQ(entriesIn(t.path()), 2);
}

TEST(TextFile, AFileThatCannotBeReadSaysWhy) {
  // "cannot read 'run/config.yaml'" alone left a user to guess (it was a permission).
  TempDir tmp;
  shiftad::test::writeFile(tmp / "file", "text");
  EXPECT_EQ(shiftad::readText(tmp / "file"), "text");
  const auto missing = errorOf([&] { shiftad::readText(tmp / "missing.yaml"); });
  EXPECT_NE(missing.find("'" + (tmp / "missing.yaml") + "': No such file or directory"), std::string::npos) << missing;
  const auto under_a_file = errorOf([&] { shiftad::readText(tmp / "file/config.yaml"); });
  EXPECT_NE(under_a_file.find("Not a directory"), std::string::npos) << under_a_file;
}

TEST(TextFile, APipeADeviceOrAFolderIsRefusedBeforeAByteIsRead) {
  // A run's config.yaml or pool.txt replaced by a pipe blocked Detector::load forever (a
  // hang here fails by the test's timeout), a link to /dev/zero grew the process to
  // gigabytes, and a folder read as an empty file.
  TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp / "pipe").c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/zero", tmp / "zero");
  std::filesystem::create_directory(tmp / "folder");
  for (const char* name : {"pipe", "zero", "folder"}) {
    const auto msg = errorOf([&] { shiftad::readText(tmp / name); });
    EXPECT_NE(msg.find("cannot read '" + (tmp / name) + "': not a regular file"), std::string::npos) << msg;
  }
  std::filesystem::create_symlink(tmp / "file", tmp / "link");  // a link to a regular file is one
  shiftad::test::writeFile(tmp / "file", std::string(200000, 'x'));
  EXPECT_EQ(shiftad::readText(tmp / "link").size(), 200000u);
}

TEST(AtomicFile, AReplacedFileKeepsItsPermissionsAndGroup) {
  // A replacement is a new file renamed over the old one: `export --overwrite` made a
  // private (0600) model world-readable and gave a group's file the writer's group.
  TempDir tmp;
  const auto path = tmp / "model.onnx";
  shiftad::test::writeFile(path, "old");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  const bool root = ::geteuid() == 0;  // only root may give a file any group
  if (root) ASSERT_EQ(::chown(path.c_str(), static_cast<uid_t>(-1), 4321), 0);
  shiftad::writeFileAtomic(path, std::string_view("new"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  if (root) EXPECT_EQ(st.st_gid, 4321u);
  EXPECT_EQ(shiftad::readText(path), "new");
  shiftad::writeFileAtomic(tmp / "fresh.csv", std::string_view("x"));  // a new file: the umask's, as before
  ASSERT_EQ(::stat((tmp / "fresh.csv").c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666u & ~mask);
}

TEST(AtomicFile, AFileNameOfUpTo255BytesIsWritten) {
  // Its temporary, NAME.tmp-PID, was too long for a name of 241-255 bytes: a file the
  // system takes could not be written ("File name too long").
  TempDir tmp;
  for (size_t length : {240, 250, 255}) {
    const auto path = tmp / std::string(length - 4, 'a') + ".csv";
    shiftad::writeFileAtomic(path, std::string_view("scores"));
    shiftad::writeFileAtomic(path, std::string_view("again"));  // and replaced
    EXPECT_EQ(shiftad::readText(path), "again") << length;
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 3u) << "no temporary file left";
  // Two long names that share their first 240 bytes stay two temporaries.
  const auto a = shiftad::temporaryPathFor(tmp / std::string(250, 'x') + "1");
  const auto b = shiftad::temporaryPathFor(tmp / std::string(250, 'x') + "2");
  EXPECT_NE(a, b);
  EXPECT_LE(std::filesystem::path(a).filename().string().size(), 255u - 21u);
}
