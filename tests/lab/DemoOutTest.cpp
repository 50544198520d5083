// The demo's --out (lab::checkDemoOut): a demo folder of a version before the folder
// markers is taken over (`make demo` run again after an upgrade); a folder that only
// looks like one is not.
#include <filesystem>

#include <gtest/gtest.h>

#include "lab/Bench.h"
#include "lab/Report.h"
#include "shiftad/Error.h"
#include "shiftad/shiftad.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

namespace {

/// What a demo of an earlier version left in `out`: the benchmark without its marker,
/// a bench's files without theirs, the bench run on OUT/data.
void earlierDemo(const std::string& out) {
  shiftad::synthesize(out + "/data", 0);
  fs::remove(out + "/data/.shiftad-synth");
  writeFile(out + "/results.csv", shiftad::evaluation::csvHeader() + "\n");
  writeFile(out + "/bench_config.yaml", "root: " + out + "/data\ndata:\n  root: \"\"\n");
  fs::create_directories(out + "/runs");
}

}  // namespace

TEST(DemoOut, AnEarlierDemosFolderIsTakenAndMarkedOneThatOnlyLooksLikeItIsNot) {
  TempDir tmp;
  earlierDemo(tmp / "demo");
  EXPECT_NO_THROW(shiftad::lab::checkDemoOut(tmp / "demo"));
  EXPECT_TRUE(fs::is_regular_file(tmp / "demo/.shiftad-bench"));
  EXPECT_TRUE(fs::is_regular_file(tmp / "demo/data/.shiftad-synth"));
  EXPECT_NO_THROW(shiftad::synthesize(tmp / "demo/data", 0)) << "the demo may rewrite its data now";
  // A bench run on other data beside a data/ folder: data/ is not the demo's.
  earlierDemo(tmp / "other");
  writeFile(tmp / "other/bench_config.yaml", "root: /somewhere/else\n");
  EXPECT_THROW(shiftad::lab::checkDemoOut(tmp / "other"), shiftad::Error);
  // A data/ that holds a domain of the user's.
  earlierDemo(tmp / "user");
  fs::create_directories(tmp / "user/data/site_c/part");
  EXPECT_THROW(shiftad::lab::checkDemoOut(tmp / "user"), shiftad::Error);
  for (const char* out : {"other", "user"}) {
    EXPECT_FALSE(fs::exists(tmp / (std::string(out) + "/.shiftad-bench"))) << out;
    EXPECT_FALSE(fs::exists(tmp / (std::string(out) + "/data/.shiftad-synth"))) << out;
  }
}
