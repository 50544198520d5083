// The file a command writes at the user's path (api/OutputFile): checked before the work,
// and put in place without replacing a file that appeared there meanwhile.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "api/OutputFile.h"
#include "common/AtomicFile.h"
#include "common/Rename.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::readText;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

TEST(OutputFile, ANewFileIsPutInPlaceOnlyWhereTheNameIsStillFree) {
  // `score --out x.csv` checked that x.csv did not exist, scored for minutes, then
  // renamed its CSV over whatever another program had written there since (hunt14-b).
  TempDir tmp;
  const auto out = tmp / "scores.csv";
  const auto made = tmp / "scores.csv.new";
  writeFile(made, "ours\n");
  shiftad::api::commitNewFile(made, out, "--out");
  EXPECT_EQ(readText(out), "ours\n");
  EXPECT_FALSE(fs::exists(made));
  // Taken meanwhile: left as it is, and the work kept under the name the error gives.
  writeFile(made, "ours again\n");
  const auto e = errorOf([&] { shiftad::api::commitNewFile(made, out, "--out"); });
  EXPECT_NE(e.find("--out '" + out + "' was created by someone else while shiftad worked"), std::string::npos) << e;
  EXPECT_NE(e.find("the result is in '" + made + "'"), std::string::npos) << e;
  EXPECT_EQ(readText(out), "ours\n");
  EXPECT_EQ(readText(made), "ours again\n");
  // The rename itself, for a folder's name too (renameat2 refuses any existing name).
  std::error_code ec;
  fs::create_directory(tmp / "folder");
  shiftad::commitRenameNoReplace(made, tmp / "folder", ec);
  EXPECT_EQ(ec, std::errc::file_exists);
  shiftad::commitRenameNoReplace(made, tmp / "fresh.csv", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(readText(tmp / "fresh.csv"), "ours again\n");
}

TEST(OutputFile, AFolderNoFileCanBeCreatedInIsRefusedBeforeTheWork) {
  // Found only when the CSV was written, after every image was scored. As root a mode
  // does not refuse: a read-only bind of the file system would; sysfs refuses everyone.
  const std::string sysfs = "/sys/kernel/shiftad-test.csv";
  if (!fs::is_directory("/sys/kernel")) GTEST_SKIP() << "no /sys/kernel";
  const auto e = errorOf([&] { shiftad::api::checkFolderTakesAFile(sysfs, "--out"); });
  EXPECT_NE(e.find("--out '" + sysfs + "': a file cannot be created in its folder '/sys/kernel'"), std::string::npos)
      << e;
  EXPECT_FALSE(fs::exists(sysfs));
  // A folder that can be written: nothing is left of the look.
  TempDir tmp;
  EXPECT_EQ(errorOf([&] { shiftad::api::checkFolderTakesAFile(tmp / "a.csv", "--out"); }), "");
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(OutputFile, OverwriteMayReplaceOnlyWhatShiftadWroteOrAnEmptyFile) {
  TempDir tmp;
  const auto is = [&](const std::string& name, const std::string& text) {
    writeFile(tmp / name, text);
    return shiftad::api::replaceableOutput(tmp / name);
  };
  EXPECT_TRUE(is("score.csv", "path,score,normalised_score,anomalous\na.png,1.5,0.5,0\n"));
  EXPECT_TRUE(is("eval.csv", "label,score,path\n0,1.5,a.png\n"));
  EXPECT_TRUE(is("header_only.csv", "label,score,path\n"));
  EXPECT_TRUE(is("empty.csv", ""));
  // A header that only begins like ours, a user's table, a config, a list of images.
  EXPECT_FALSE(is("longer.csv", "path,score,normalised_score,anomalous,notes\n"));
  EXPECT_FALSE(is("no_line_end.csv", "label,score,path"));
  EXPECT_FALSE(is("table.csv", "path,score\na.png,1\n"));
  EXPECT_FALSE(is("my.yaml", "data:\n  root: /data\n"));
  EXPECT_FALSE(is("list.txt", "a.png\nb.png\n"));
  EXPECT_FALSE(shiftad::api::replaceableOutput(tmp / "missing.csv"));
}
