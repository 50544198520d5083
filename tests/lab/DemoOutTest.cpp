// The demo's --out (lab::checkDemoOut): a demo folder of a version before the folder
// markers is taken over (`make demo` run again after an upgrade); a folder that only
// looks like one is not.
#include <filesystem>

#include <gtest/gtest.h>

#include "lab/Bench.h"
#include "lab/Report.h"
#include "shiftad/Error.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
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

TEST(DemoOut, AnotherDataSeedIsRefusedBeforeTheDataUnderTheResultsIsRewritten) {
  // `demo --seed 1` on a folder of --seed 0 results rewrote data/ with seed 1, then the
  // bench refused the folder ("restore the data"); `--out ''` wrote 1,440 images into the
  // working directory first (hunt13-b #2, #3).
  TempDir tmp;
  const std::string out = tmp / "demo";
  shiftad::synthesize(out + "/data", 0);
  shiftad::evaluation::BenchRow row{"source", "target", "circle", "source_only", 0, 0.7, 0.5, -1, -1, 1.0};
  writeFile(out + "/results.csv", shiftad::evaluation::csvHeader() + "\n" + shiftad::evaluation::csvLine(row) + "\n");
  shiftad::lab::markBenchFolder(out);
  const auto image = out + "/data/source/circle/0000.png";
  const auto before = shiftad::test::readText(image);
  shiftad::DemoOptions opt;
  opt.out_dir = out;
  opt.seed = 1;
  opt.print = [](const std::string&) {};
  const auto msg = shiftad::test::errorOf([&] { shiftad::runDemo(opt); });
  EXPECT_NE(msg.find("holds results made from the benchmark synthesized with --seed 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("give --seed 0 to add to them"), std::string::npos) << msg;
  EXPECT_EQ(shiftad::test::readText(image), before) << "the data under the results was rewritten";
  opt.out_dir = "";
  EXPECT_NE(shiftad::test::errorOf([&] { shiftad::runDemo(opt); }).find("the demo's folder is ''"), std::string::npos);
  // A repeated seed, before data/ is written.
  opt.out_dir = tmp / "fresh";
  opt.seeds = {0, 0};
  EXPECT_NE(shiftad::test::errorOf([&] { shiftad::runDemo(opt); }).find("--seeds"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "fresh/data"));
}
