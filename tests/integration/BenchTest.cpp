// `shiftad bench` against its faults (docs/reliability.md, "Benchmarks"): which --out it
// writes into, its lock, --merge, --sweep and --set, names that YAML would misread, a
// damaged results.csv and a resume with another grid. Each case drives the binary on a
// small synthetic root with runs of 0 epochs (a second or two each).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/Synth.h"
#include "lab/Report.h"
#include "support/Process.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::CliRun;
using shiftad::test::readText;
using shiftad::test::runCli;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

namespace {

const std::string& dataRoot() { return shiftad::test::smallSynthRoot(); }

/// What a bench of the synthetic suite runs: one class, one seed, one variant unless told
/// (classes "": every class of the root).
struct Grid {
  std::string classes = "circle", seeds = "0", variants = "source_only";
  std::string suite = "synthetic", root = dataRoot();
};

/// `shiftad bench` into `out` on `grid`, runs of 0 epochs, then `extra`.
std::vector<std::string> bench(const TempDir& tmp, const std::string& out, const std::vector<std::string>& extra = {},
                               const Grid& grid = {}) {
  std::vector<std::string> a = {"bench",
                                "-q",
                                "--threads",
                                "1",
                                "--suite",
                                grid.suite,
                                "--root",
                                grid.root,
                                "--seeds",
                                grid.seeds,
                                "--variants",
                                grid.variants,
                                "--no-figures",
                                "--set",
                                "train.epochs=0",
                                "--set",
                                "model.width=4",
                                "--set",
                                "train.batch_size=8",
                                "--set",
                                "data.image_cache=false",
                                "--set",
                                "encoder.cache_dir=" + (tmp / "cache"),
                                "--out",
                                out};
  if (!grid.classes.empty()) a.insert(a.end(), {"--classes", grid.classes});  // "": every class
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

size_t rowsIn(const std::string& out) { return shiftad::evaluation::readCsv(out + "/results.csv").size(); }

/// `r` failed with `exit` and its last line on stderr is the error naming every needle.
void expectRefused(const CliRun& r, int exit, const std::vector<std::string>& needles) {
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit, exit);
  const auto at = r.err.rfind("shiftad: error: ");
  ASSERT_NE(at, std::string::npos);
  const auto line = r.err.substr(at);
  for (const auto& n : needles) EXPECT_NE(line.find(n), std::string::npos) << "lacks '" << n << "'";
}

}  // namespace

TEST(Bench, OnlyAMarkedBenchFolderOrAnEarlierBenchsOwnIsWrittenInto) {
  TempDir tmp;
  // A user's folder with a file named like a bench's, and one with a header-only results.csv.
  writeFile(tmp / "u/bench_config.yaml", "my config\n");
  writeFile(tmp / "u/thesis.txt", "mine");
  writeFile(tmp / "h/results.csv", shiftad::evaluation::csvHeader() + "\n");
  writeFile(tmp / "h/bench_config.yaml", "mine too\n");
  writeFile(tmp / "h/notes.txt", "notes");
  expectRefused(runCli(bench(tmp, tmp / "u"), tmp.path()), 1, {"'" + (tmp / "u") + "' is not a bench folder"});
  expectRefused(runCli(bench(tmp, tmp / "h"), tmp.path()), 1,
                {"'" + (tmp / "h") + "' is not a bench folder", "notes.txt"});
  EXPECT_EQ(readText(tmp / "u/bench_config.yaml"), "my config\n");
  EXPECT_EQ(readText(tmp / "h/bench_config.yaml"), "mine too\n");
  EXPECT_FALSE(fs::exists(tmp / "u/results.csv"));
  EXPECT_FALSE(fs::exists(tmp / "u/runs"));
  // A bench marks its folder and resumes it; a folder of an earlier version (no marker)
  // is resumed while it holds nothing but a bench's files, and is marked then.
  const auto b = tmp / "b";
  auto r = runCli(bench(tmp, b), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(b + "/.shiftad-bench"));
  fs::remove(b + "/.shiftad-bench");
  r = runCli(bench(tmp, b), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("0 runs"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(b + "/.shiftad-bench"));
  fs::remove(b + "/.shiftad-bench");
  writeFile(b + "/notes.txt", "mine");
  expectRefused(runCli(bench(tmp, b), tmp.path()), 1, {"not a bench folder", "notes.txt"});
}

TEST(Bench, ASecondBenchIntoABusyFolderIsRefusedNamingTheFirst) {
  TempDir tmp;
  const auto out = tmp / "b";
  ASSERT_EQ(runCli(bench(tmp, out), tmp.path()).exit, 0);
  const auto csv = readText(out + "/results.csv");
  // A live process holds the folder's lock (this test's process, as a bench would).
  const auto lock = std::to_string(::getpid()) + "\n";
  writeFile(out + "/lock", lock);
  expectRefused(runCli(bench(tmp, out, {}, Grid{"circle,square"}), tmp.path()), 1,
                {"bench folder '" + out + "' is in use by process " + std::to_string(::getpid())});
  EXPECT_EQ(readText(out + "/results.csv"), csv);
  EXPECT_EQ(readText(out + "/lock"), lock);
  fs::remove(out + "/lock");
  const auto r = runCli(bench(tmp, out, {}, Grid{"circle,square"}), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(rowsIn(out), 2u);
  EXPECT_FALSE(fs::exists(out + "/lock")) << "the lock is released";
}

TEST(Bench, AMergeChecksEverythingBeforeWritingAndKeepsAnotherConfigurationsRows) {
  TempDir tmp;
  const std::vector<std::string> other = {"--set", "train.lr=0.01"};
  ASSERT_EQ(runCli(bench(tmp, tmp / "a"), tmp.path()).exit, 0);
  ASSERT_EQ(runCli(bench(tmp, tmp / "b", other), tmp.path()).exit, 0);
  // Merging b's configuration into a, which holds rows of another: refused, a kept.
  const auto a_csv = readText(tmp / "a/results.csv"), a_config = readText(tmp / "a/bench_config.yaml");
  auto merge = other;
  merge.insert(merge.end(), {"--merge", tmp / "b"});
  expectRefused(runCli(bench(tmp, tmp / "a", merge), tmp.path()), 1,
                {"'" + (tmp / "a") + "' holds results of another configuration"});
  EXPECT_EQ(readText(tmp / "a/results.csv"), a_csv);
  EXPECT_EQ(readText(tmp / "a/bench_config.yaml"), a_config);
  // A merge that fails its checks (square's run is in no shard) copies nothing into OUT,
  // and the corrected command then merges there.
  expectRefused(runCli(bench(tmp, tmp / "m", merge, Grid{"circle,square"}), tmp.path()), 1,
                {"1 runs of the grid are in none of the shards"});
  EXPECT_FALSE(fs::exists(tmp / "m")) << "a refused merge into a new folder left it behind";
  const auto r = runCli(bench(tmp, tmp / "m", merge), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(rowsIn(tmp / "m"), 1u);
}

TEST(Bench, AMergeKeepsTheFoldersOtherRowsAndShardsOfOtherCachesThreadsOrRootSpellingMerge) {
  TempDir tmp;
  // Two shards on "nodes" of their own cache folder, threads and a root typed with a '/'.
  auto shard = [&](int i, const std::string& cache) {
    auto a = bench(tmp, tmp / ("s" + std::to_string(i)), {"--shard", std::to_string(i) + "/2"}, Grid{"circle,square"});
    a.insert(a.end(), {"--set", "encoder.cache_dir=" + cache, "--set", "train.threads=" + std::to_string(i)});
    return a;
  };
  ASSERT_EQ(runCli(shard(1, tmp / "cache-a"), tmp.path()).exit, 0);
  auto second = shard(2, tmp / "cache-b");
  second[std::find(second.begin(), second.end(), "--root") - second.begin() + 1] = dataRoot() + "/";
  ASSERT_EQ(runCli(second, tmp.path()).exit, 0);
  // OUT already holds seed 1 of the same configuration: the merge of seed 0 keeps it.
  Grid seed1{"circle,square"};
  seed1.seeds = "1";
  ASSERT_EQ(runCli(bench(tmp, tmp / "m", {}, seed1), tmp.path()).exit, 0);
  const auto r = runCli(bench(tmp, tmp / "m", {"--merge", tmp / "s1", tmp / "s2"}, Grid{"circle,square"}), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto rows = shiftad::evaluation::readCsv(tmp / "m/results.csv");
  ASSERT_EQ(rows.size(), 4u) << "the seed-1 rows were dropped by the merge";
  EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const auto& x) { return x.seed == 1; }), 2);
  EXPECT_NE(r.err.find("2 rows of results.csv are not in this bench's grid"), std::string::npos) << r.err;
  // A shard of another setting that changes results is still refused, naming it.
  ASSERT_EQ(runCli(bench(tmp, tmp / "o", {"--set", "train.lr=0.01"}), tmp.path()).exit, 0);
  expectRefused(runCli(bench(tmp, tmp / "m2", {"--merge", tmp / "o"}), tmp.path()), 1,
                {"holds results of another configuration than this bench's", "lr: 0.01' there", "lr: 0.001' now"});
}

TEST(Bench, EvalOfAnotherSplitLeavesARunsTestScoresWhichTheReportDrawsFrom) {
  // eval wrote every split's scores over RUN/test_scores.csv: the bench's next report drew
  // its ROC curves, and their legend's AUROC, from another split than its table's.
  TempDir tmp;
  ASSERT_EQ(runCli(bench(tmp, tmp / "b"), tmp.path()).exit, 0);
  const auto run = tmp / "b/runs/source-target/circle/seed0/source_only";
  const auto scores = run + "/test_scores.csv";
  const auto before = readText(scores);
  auto eval = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"eval", "--threads", "1", "--model", run};
    a.insert(a.end(), extra.begin(), extra.end());
    return runCli(a, tmp.path());
  };
  auto r = eval({"--set", "data.contamination=0.3"});  // another pool: another split than the run's
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("not saved (another split than the run's own"), std::string::npos) << r.out;
  EXPECT_EQ(readText(scores), before);
  r = eval({"--set", "data.contamination=0.3", "--out", tmp / "other.csv"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto other = readText(tmp / "other.csv");
  EXPECT_EQ(other.substr(0, other.find('\n')), before.substr(0, before.find('\n')));  // the same columns
  EXPECT_EQ(readText(scores), before);
  expectRefused(eval({"--out", tmp / "other.csv"}), 1, {"exists; pass --overwrite"});
  // The run's own split: its own file, the same scores.
  r = eval({});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("scores: " + scores), std::string::npos) << r.out;
  EXPECT_EQ(readText(scores), before);
}

TEST(Bench, AReportWithoutTheSuitesRecommendedVariantStarsNothing) {
  // The synthetic suite recommends align_all; its figures' captions named the star
  // ("★ outlined: the recommended variant") in a bench of source_only alone.
  TempDir tmp;
  ASSERT_EQ(runCli(bench(tmp, tmp / "b"), tmp.path()).exit, 0);
  const auto md = readText(tmp / "b/report.md");
  EXPECT_EQ(md.find("★"), std::string::npos) << md;
  EXPECT_EQ(md.find("recommended"), std::string::npos) << md;
}

TEST(Bench, TheReportsProtocolNamesTheSuitesSettingsNotTheLastVariants) {
  // A grid that ends with source_only (align.method none) described the suite's training
  // as "alignment none" although it aligns by the suite's method (here --set's mmd).
  TempDir tmp;
  Grid grid;
  grid.variants = "align_all,source_only";
  const auto r = runCli(bench(tmp, tmp / "b", {"--set", "align.method=mmd"}, grid), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto rows = shiftad::evaluation::readCsv(tmp / "b/results.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.back().variant, "source_only") << "the grid's last run";
  const auto md = readText(tmp / "b/report.md");
  EXPECT_NE(md.find("each variant sets its own keys"), std::string::npos) << md;
  EXPECT_NE(md.find("alignment mmd"), std::string::npos) << md;
  EXPECT_EQ(md.find("alignment none"), std::string::npos) << md;
}

TEST(Bench, SweepsAndSetsThatWouldBeIgnoredRepeatedOrMalformedAreRefusedBeforeAnyRun) {
  TempDir tmp;
  const auto out = tmp / "b";
  struct Case {
    std::vector<std::string> args;
    std::string variants;
    int exit;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {{"--sweep", "train.lr=0.1,0.1"}, "source_only", 1, {"--sweep: 'train.lr=0.1' and 'train.lr=0.1'"}},
      {{"--sweep", "data.contamination=0.1,0.10"},
       "source_only",
       1,
       {"'data.contamination=0.1' and 'data.contamination=0.10' are the same value"}},
      {{"--sweep", "train.seed=1,2"}, "source_only", 1, {"--sweep train.seed: the bench sets this key", "--seeds"}},
      {{"--set", "data.normal_class=square"},
       "source_only",
       1,
       {"--set data.normal_class: the bench sets", "--classes"}},
      {{"--set", "data.root=/elsewhere"}, "source_only", 1, {"--set data.root", "--root"}},
      {{"--set", "data.pool_images=/site_b"},
       "source_only",
       1,
       {"--set data.pool_images: the bench sets", "labelled target domains"}},
      {{"--set", "train.lr=0.5", "--sweep", "train.lr=0.1,0.2"},
       "source_only",
       1,
       {"--set train.lr=0.5 and --sweep train.lr=0.1,0.2: the sweep gives train.lr its values in every run"}},
      {{"--sweep", "cluster.space=self,frozen"},
       "align_all,few_shot",
       1,
       {"--sweep cluster.space: every variant of the bench sets this key itself ('align_all' (cluster.space=none), "
        "'few_shot' (cluster.space=none))"}},
      {{"--set", "fewshot.k=3"}, "few_shot", 1, {"--set fewshot.k: every variant", "'few_shot' (fewshot.k=5)"}},
      {{"--sweep", "data.contamination"},
       "source_only",
       2,
       {"--sweep: 'data.contamination': expected section.key=v1,v2"}},
      {{"--sweep", "data.nosuch=1,2"}, "source_only", 1, {"--sweep: unknown config key 'data.nosuch'"}},
      {{"--sweep", "train.lr=0.1,x"}, "source_only", 1, {"--sweep", "train.lr", "x"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args.back());
    Grid grid;
    grid.variants = c.variants;
    const auto r = runCli(bench(tmp, out, c.args, grid), tmp.path());
    expectRefused(r, c.exit, c.says);
    EXPECT_FALSE(fs::exists(out)) << "written before refusing";
  }
  // The sweep's values are checked with --set: fewshot.k reads target labels, which
  // --set allows. The grid's own error (an unknown class) is what stops this bench.
  Grid hexagon;
  hexagon.classes = "hexagon";
  expectRefused(
      runCli(bench(tmp, out, {"--set", "data.target_labels=true", "--sweep", "fewshot.k=1,2"}, hexagon), tmp.path()), 1,
      {"class 'hexagon'"});
  // A key some variants set applies to the others (source_only as the baseline of a
  // sweep of the alignment): a warning names the variant that keeps its own value.
  hexagon.variants = "source_only,align_all";
  const auto r = runCli(bench(tmp, out, {"--sweep", "align.method=infonce,mmd"}, hexagon), tmp.path());
  expectRefused(r, 1, {"class 'hexagon'"});
  EXPECT_NE(r.err.find("--sweep align.method: variant 'source_only' (align.method=none) sets this key itself"),
            std::string::npos)
      << r.err;
}

TEST(Bench, ASuiteConfigKeyTheBenchSetsOrAVariantThatCannotRunIsRefusedBeforeAnyRun) {
  TempDir tmp;
  const auto out = tmp / "b";
  // A suite's config sets what the bench sets for each run: the bench's value won, exit 0.
  writeFile(tmp / "seeded.yaml",
            "suite: seeded\ndirections: [[source, target]]\nseeds: [0]\nvariants: [source_only, align_all]\n"
            "config: {train: {seed: 7}, cluster: {space: self}}\n");
  Grid grid;
  grid.suite = tmp / "seeded.yaml";
  grid.variants = "source_only";
  expectRefused(runCli(bench(tmp, out, {}, grid), tmp.path()), 1,
                {"suite 'seeded', 'config:' train.seed: the bench sets this key for each run", "--seeds"});
  EXPECT_FALSE(fs::exists(out)) << "written before refusing";
  // A key every variant of the grid sets itself (align_all's cluster.space) is lost too.
  writeFile(tmp / "space.yaml",
            "suite: space\ndirections: [[source, target]]\nseeds: [0]\nvariants: [align_all]\n"
            "config: {cluster: {space: self}}\n");
  grid.suite = tmp / "space.yaml";
  grid.variants = "align_all";
  expectRefused(runCli(bench(tmp, out, {}, grid), tmp.path()), 1,
                {"suite 'space', 'config:' cluster.space: every variant of the bench sets this key itself"});
  EXPECT_FALSE(fs::exists(out));
  // A variant that cannot run here (frozen_only needs an encoder) was found when the bench
  // reached it, after source_only's run was spent.
  writeFile(tmp / "plain.yaml",
            "suite: plain\ndirections: [[source, target]]\nseeds: [0]\nvariants: [source_only, frozen_only]\n");
  grid.suite = tmp / "plain.yaml";
  grid.variants = "source_only,frozen_only";
  expectRefused(runCli(bench(tmp, out, {}, grid), tmp.path()), 1,
                {"suite 'plain', variant 'frozen_only'", "encoder.type", "--variants"});
  EXPECT_FALSE(fs::exists(out)) << "a run made before refusing";
  // Weights the suite names relative to itself (an installed tree's suites name the
  // source tree's ../../shared): refused before --out is made, naming the --set.
  writeFile(tmp / "suites/weighted.yaml",
            "suite: weighted\ndirections: [[source, target]]\nseeds: [0]\nvariants: [source_only]\n"
            "config: {model: {weights: ../weights/w.safetensors}}\n");
  grid.suite = tmp / "suites/weighted.yaml";
  grid.variants = "source_only";
  expectRefused(runCli(bench(tmp, out, {}, grid), tmp.path()), 1,
                {"suite 'weighted': model.weights '" + (tmp / "weights/w.safetensors") + "' does not exist",
                 "--set model.weights=PATH"});
  EXPECT_FALSE(fs::exists(out)) << "written before refusing";
  grid.suite = tmp / "plain.yaml";
  // Without a root, the message said the data root '' was not a folder.
  grid.root = "";
  grid.variants = "source_only";
  auto args = bench(tmp, out, {}, grid);
  const auto at = std::find(args.begin(), args.end(), "--root");
  args.erase(at, at + 2);
  expectRefused(runCli(args, tmp.path()), 1, {"suite 'plain' has no 'root'", "pass --root"});
}

TEST(Bench, NamesThatYamlWouldMisreadAreTheRunsNames) {
  // Domains, classes and a root named as YAML reads something else: `~` and `null` as
  // nothing, `#c` and ` #2` as comments, `a: b` as a mapping, a leading blank dropped.
  TempDir tmp;
  const auto root = tmp / "dir #2/x";
  const std::vector<std::string> names = {"~", "null", "#c", "a: b", " lead"};
  std::vector<std::string> synth;
  for (const auto& e : fs::directory_iterator(dataRoot() + "/source")) synth.push_back(e.path().filename().string());
  std::sort(synth.begin(), synth.end());
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"source", "cam #1"}, {"target", "cam #2"}})
    for (size_t i = 0; i < names.size(); ++i) {
      fs::create_directories(root + "/" + to);
      fs::copy(dataRoot() + "/" + from + "/" + synth[i], root + "/" + to + "/" + names[i],
               fs::copy_options::recursive | fs::copy_options::create_hard_links);
    }
  writeFile(tmp / "names.yaml",
            "suite: names\ndirections: [['cam #1', 'cam #2']]\nseeds: [0]\nvariants: [source_only]\n"
            "config: {encoder: {type: backbone}}\n");
  Grid grid;
  grid.suite = tmp / "names.yaml";
  grid.root = root;
  grid.classes = "";  // every class of the root
  const auto r = runCli(bench(tmp, tmp / "b", {}, grid), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  std::vector<std::string> classes;
  for (const auto& row : shiftad::evaluation::readCsv(tmp / "b/results.csv")) {
    classes.push_back(row.normal_class);
    EXPECT_EQ(row.source, "cam #1");
    EXPECT_EQ(row.target, "cam #2");
  }
  auto expected = names;
  std::sort(classes.begin(), classes.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(classes, expected);
  for (const auto& name : names)
    EXPECT_TRUE(fs::exists(tmp / "b/runs/cam #1-cam #2/" + name + "/seed0/source_only/config.yaml")) << name;
}

TEST(Bench, ACutLastRowIsRunAgainAndRowsOfAnotherGridStayOutOfTheReport) {
  TempDir tmp;
  const auto out = tmp / "b";
  ASSERT_EQ(runCli(bench(tmp, out, {}, Grid{"circle,square"}), tmp.path()).exit, 0);
  // The bench was killed while appending square's row: half a line, no line end.
  const auto csv = readText(out + "/results.csv");
  const auto cut = csv.substr(0, csv.rfind('\n', csv.size() - 2) + 1);
  writeFile(out + "/results.csv", cut + csv.substr(cut.size(), 20));
  auto r = runCli(bench(tmp, out, {}, Grid{"circle,square"}), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("the last row was cut short"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("1 runs"), std::string::npos) << r.out;
  EXPECT_EQ(rowsIn(out), 2u);
  // Resumed with another seed: seed 0's rows are kept in results.csv but are not this
  // grid's, so the report (whose protocol says "Seeds: 1") does not average them in.
  Grid seed1{"circle,square"};
  seed1.seeds = "1";
  r = runCli(bench(tmp, out, {}, seed1), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("2 rows of results.csv are not in this bench's grid"), std::string::npos) << r.err;
  EXPECT_EQ(rowsIn(out), 4u);
  const auto md = readText(out + "/report.md");
  EXPECT_NE(md.find("- Runs: 2\n"), std::string::npos) << md;
  EXPECT_NE(md.find("- Seeds: 1 ("), std::string::npos) << md;
}

TEST(Bench, ARerunWithANarrowerSweepOrWithoutOneReportsOnlyItsOwnGrid) {
  TempDir tmp;
  const auto out = tmp / "b";
  ASSERT_EQ(runCli(bench(tmp, out, {"--sweep", "data.contamination=0,0.2"}), tmp.path()).exit, 0);
  // The same folder, one value: the 0.2 row stays in results.csv, out of the report
  // whose title and protocol name the value 0 only.
  auto r = runCli(bench(tmp, out, {"--sweep", "data.contamination=0"}), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("1 rows of results.csv are not in this bench's grid"), std::string::npos) << r.err;
  auto md = readText(out + "/report.md");
  EXPECT_NE(md.find("- Runs: 1\n"), std::string::npos) << md;
  EXPECT_EQ(md.find("| 0.2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0 |"), std::string::npos) << md;
  // Without --sweep: the main grid's own run, and no sweep section.
  r = runCli(bench(tmp, out), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("2 rows of results.csv are not in this bench's grid"), std::string::npos) << r.err;
  md = readText(out + "/report.md");
  EXPECT_EQ(md.find("Sweep of"), std::string::npos) << md;
  EXPECT_NE(md.find("- Runs: 1\n"), std::string::npos) << md;
  EXPECT_EQ(rowsIn(out), 3u);
}

TEST(Bench, AListKeyIsSweptWithItsValuesInBrackets) {
  // `--sweep data.mean=[0,0,0],[1,1,1]` split at every comma and failed as YAML
  // ("end of sequence flow not found"), so no list key could be swept (hunt11-b #12c).
  TempDir tmp;
  const auto out = tmp / "b";
  const std::vector<std::string> sweep = {"--sweep", "data.mean=[0.5,0.5,0.5],[0.485,0.456,0.406]"};
  auto r = runCli(bench(tmp, out, sweep), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(rowsIn(out), 2u);
  const auto csv = readText(out + "/results.csv");
  for (const char* value : {"[0.5,0.5,0.5]", "[0.485,0.456,0.406]"})
    EXPECT_NE(csv.find(std::string("data.mean=") + value), std::string::npos) << csv;
  // The same command again finds both runs done in results.csv, commas and all.
  r = runCli(bench(tmp, out, sweep), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(rowsIn(out), 2u);
  EXPECT_EQ(readText(out + "/results.csv"), csv);
  // A bracket left open is still one value, refused by the config as it is.
  r = runCli(bench(tmp, tmp / "c", {"--sweep", "data.mean=[0.5,0.5,0.5"}), tmp.path());
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("--sweep data.mean: value '[0.5,0.5,0.5': invalid YAML"), std::string::npos) << r.err;
}

TEST(Bench, AnOutFolderInsideTheDataRootIsRefused) {
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive | fs::copy_options::create_hard_links);
  for (const auto& out : {root + "/source/results", root + "/bench"})
    expectRefused(runCli(bench(tmp, out, {}, Grid{"circle", "0", "source_only", "synthetic", root}), tmp.path()), 1,
                  {"--out '" + out + "' lies in the data root"});
  EXPECT_FALSE(fs::exists(root + "/source/results"));
  EXPECT_FALSE(fs::exists(root + "/bench"));
}

TEST(Bench, AClassNameThatIsNotUtf8IsRefusedBeforeAnyRun) {
  // A Latin-1 folder name: the runs record their class in UTF-8 files, and the first one
  // failed blaming the checkpoint's metadata.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive | fs::copy_options::create_hard_links);
  for (const char* domain : {"/source/", "/target/"}) fs::rename(root + domain + "circle", root + domain + "caf\xE9");
  Grid grid;
  grid.root = root;
  grid.classes = "";
  expectRefused(runCli(bench(tmp, tmp / "b", {}, grid), tmp.path()), 1,
                {"class 'caf\\xE9' is not valid UTF-8", "rename that folder"});
  EXPECT_FALSE(fs::exists(tmp / "b"));
}

TEST(Bench, HelpDescribesTheShardDealingItUses) {
  // shardOfRun turns each group's start by one shard (docs/scale.md); the help said k % N.
  TempDir tmp;
  const auto r = runCli({"bench", "--help"}, tmp.path());
  EXPECT_EQ(r.exit, 0);
  EXPECT_NE(r.out.find("(k % V + k / V) % N + 1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("k % N == I-1"), std::string::npos) << r.out;
}

TEST(Bench, AMergeRefusesAShardWithoutARunFolderOrIntoAShardsFolder) {
  TempDir tmp;
  const Grid two{"circle,square"};
  for (const char* s : {"1", "2"})
    ASSERT_EQ(runCli(bench(tmp, tmp / "s" + s, {"--shard", std::string(s) + "/2"}, two), tmp.path()).exit, 0);
  // A shard's own report says it is one: its cells are other runs than another shard's.
  const auto shard_md = readText(tmp / "s1/report.md");
  EXPECT_NE(shard_md.find("shard 1 of 2 (partial: for the bench's figures, merge the shards)"), std::string::npos)
      << shard_md;
  EXPECT_NE(shard_md.find("- Shard 1 of 2: one run in 2 of the grid, so"), std::string::npos) << shard_md;
  const auto merge = [&](const std::string& out, const std::vector<std::string>& shards) {
    std::vector<std::string> extra = {"--merge"};
    extra.insert(extra.end(), shards.begin(), shards.end());
    return runCli(bench(tmp, out, extra, two), tmp.path());
  };
  // A partial copy of shard 2: its row without its run folder. It said "merged 2 runs".
  fs::copy(tmp / "s2", tmp / "cut", fs::copy_options::recursive);
  fs::remove_all(tmp / "cut/runs");
  expectRefused(merge(tmp / "m", {tmp / "s1", tmp / "cut"}), 1,
                {"of shard '" + (tmp / "cut") + "'", "no run folder", "source|target|square|0|source_only",
                 "Copy the shard's folder whole again"});
  EXPECT_FALSE(fs::exists(tmp / "m"));
  // Into another bench's shard folder (a copy of shard 1 of a bench of this grid): it
  // became a whole bench whose shard.json still said 1/2.
  fs::copy(tmp / "s1", tmp / "h1", fs::copy_options::recursive);
  const auto h1_csv = readText(tmp / "h1/results.csv");
  expectRefused(merge(tmp / "h1", {tmp / "s1", tmp / "s2"}), 1,
                {"--out '" + (tmp / "h1") + "' is the folder of a shard"});
  EXPECT_EQ(readText(tmp / "h1/results.csv"), h1_csv);
  // An unsharded bench folder may hold rows of a bench before run folders: merged, with a
  // warning that counts them.
  ASSERT_EQ(runCli(bench(tmp, tmp / "u", {}, two), tmp.path()).exit, 0);
  fs::remove_all(tmp / "u/runs");
  const auto r = merge(tmp / "mu", {tmp / "u"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("2 rows of '" + (tmp / "u") + "' have no run folder"), std::string::npos) << r.err;
  EXPECT_EQ(rowsIn(tmp / "mu"), 2u);
  const auto ok = merge(tmp / "m", {tmp / "s1", tmp / "s2"});
  ASSERT_EQ(ok.exit, 0) << ok.err;
  EXPECT_EQ(rowsIn(tmp / "m"), 2u);
}

TEST(Bench, ShardsOrAResumeMadeFromOtherDataAreRefusedNamingTheFirstDifferentFile) {
  // The data set was updated between two array tasks: one report averaged runs on two
  // test splits, exit 0.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);  // a copy: its files are changed below
  Grid two{"circle,square"};
  two.root = root;
  ASSERT_EQ(runCli(bench(tmp, tmp / "s1", {"--shard", "1/2"}, two), tmp.path()).exit, 0);
  std::vector<std::string> circles;
  for (const auto& e : fs::directory_iterator(root + "/target/circle")) circles.push_back(e.path().string());
  std::sort(circles.begin(), circles.end());
  fs::remove(circles.front());
  const auto gone = "target/circle/" + fs::path(circles.front()).filename().string();
  ASSERT_EQ(runCli(bench(tmp, tmp / "s2", {"--shard", "2/2"}, two), tmp.path()).exit, 0);
  expectRefused(runCli(bench(tmp, tmp / "m", {"--merge", tmp / "s1", tmp / "s2"}, two), tmp.path()), 1,
                {"'" + (tmp / "s1") + "' and '" + (tmp / "s2") + "' were made from different data below '" + root + "'",
                 "'" + gone + "' of "});
  EXPECT_FALSE(fs::exists(tmp / "m/results.csv"));
  // Shard 1 resumed on the changed data: its kept row was made from the old data.
  const auto s1_csv = readText(tmp / "s1/results.csv");
  expectRefused(runCli(bench(tmp, tmp / "s1", {"--shard", "1/2"}, two), tmp.path()), 1,
                {"'" + (tmp / "s1") + "' holds results made from other data below '" + root + "'", gone});
  EXPECT_EQ(readText(tmp / "s1/results.csv"), s1_csv);
}

namespace {

/// The run folders (holding config.yaml) below `dir`.
std::vector<std::string> runFoldersUnder(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename() == "config.yaml") out.push_back(e.path().parent_path().string());
  return out;
}

}  // namespace

TEST(Bench, SigtermCheckpointsTheRunInProgressReleasesTheLocksAndTheSameCommandResumesIt) {
  // A Slurm task past its --time gets SIGTERM: the bench died by the signal, leaving
  // OUT/lock and the run's lock, which a requeued task on another host cannot take over.
  TempDir tmp;
  const std::vector<std::string> longer = {"--set", "train.epochs=400"};
  const auto ref = runCli(bench(tmp, tmp / "ref", longer), tmp.path());
  ASSERT_EQ(ref.exit, 0) << ref.err;
  const auto out = tmp / "b";
  const pid_t pid = shiftad::test::spawnCli(bench(tmp, out, longer), tmp / "b.log");
  int status = 0;
  while (runFoldersUnder(out + "/runs").empty() && !shiftad::test::exited(pid, status))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(pid, SIGTERM);
  status = shiftad::test::waitExit(pid);
  const auto log = readText(tmp / "b.log");
  ASSERT_EQ(status, 128 + SIGTERM) << log;
  EXPECT_NE(log.find("the run in progress was checkpointed; continue with the same command"), std::string::npos) << log;
  const auto runs = runFoldersUnder(out + "/runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_FALSE(fs::exists(out + "/lock")) << "the bench's lock is released";
  EXPECT_FALSE(fs::exists(runs[0] + "/lock")) << "the run's lock is released";
  EXPECT_TRUE(fs::exists(runs[0] + "/checkpoint.safetensors")) << "the run in progress is checkpointed";
  EXPECT_EQ(rowsIn(out), 0u);
  // The same command resumes the run from its checkpoint, to the uninterrupted row.
  const auto r = runCli(bench(tmp, out, longer), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto summary = nlohmann::json::parse(readText(runs[0] + "/summary.json"));
  EXPECT_GT(summary.value("resumed_at_epoch", 0), 0) << summary.dump();
  const auto a = shiftad::evaluation::readCsv(tmp / "ref/results.csv");
  const auto b = shiftad::evaluation::readCsv(out + "/results.csv");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].auroc, b[0].auroc);
  EXPECT_EQ(a[0].aupr, b[0].aupr);
}

TEST(Bench, AStopWhileItEmbedsADirectionEndsItWithinAChunkNotAfterEveryDomain) {
  // SIGTERM while the bench embedded its domains up front was seen only after every
  // domain was done: minutes on PACS or digits, past a scheduler's grace before SIGKILL
  // (hunt13-a #1); and it said a run was checkpointed where none had started.
  TempDir tmp;
  Grid grid;
  grid.root = shiftad::test::synthRoot();  // 720 images a domain: several chunks
  auto args = bench(tmp, tmp / "b", {"--set", "model.arch=mobilenet_v2", "--set", "data.image_size=64"}, grid);
  args.erase(std::find(args.begin(), args.end(), "-q"));
  const pid_t pid = shiftad::test::spawnCli(args, tmp / "b.log");
  int status = 0;
  const auto embedding = [&] {
    std::error_code ec;
    return fs::exists(tmp / "b.log", ec) && readText(tmp / "b.log").find("cached for later runs") != std::string::npos;
  };
  while (!embedding() && !shiftad::test::exited(pid, status)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGTERM);
  status = shiftad::test::waitExit(pid);
  const auto log = readText(tmp / "b.log");
  ASSERT_EQ(status, 128 + SIGTERM) << log;
  EXPECT_NE(log.find("interrupted after 0 runs; no run was in progress"), std::string::npos) << log;
  // The first domain's embedding began; the second's never did.
  const auto first = log.find("cached for later runs");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("cached for later runs", first + 1), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp / "b/lock"));
}

TEST(Bench, TheProgressCountsThisGridsRunsNotRowsKeptFromAnother) {
  // Rows of other --seeds kept in results.csv were counted: "[2/1] ..., ETA 0s".
  TempDir tmp;
  const auto out = tmp / "b";
  Grid two, third;
  two.seeds = "0,1", third.seeds = "2";
  ASSERT_EQ(runCli(bench(tmp, out, {}, two), tmp.path()).exit, 0);
  auto args = bench(tmp, out, {}, third);
  args.erase(std::find(args.begin(), args.end(), "-q"));
  const auto r = runCli(args, tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("[1/1] "), std::string::npos) << r.err;
  EXPECT_EQ(rowsIn(out), 3u);
}

TEST(Bench, EachRunsLineGivesItsOwnSecondsAndItsTrainingsWhichResultsCsvKeeps) {
  TempDir tmp;
  const auto out = tmp / "b";
  auto args = bench(tmp, out);
  args.erase(std::find(args.begin(), args.end(), "-q"));
  const auto r = runCli(args, tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto rows = shiftad::evaluation::readCsv(out + "/results.csv");
  ASSERT_EQ(rows.size(), 1u);
  // "AUROC 0.xxx (R s, training T s)": R covers the training and the evaluation after it.
  const auto at = r.err.find("AUROC ");
  ASSERT_NE(at, std::string::npos) << r.err;
  double auroc = 0, run = 0, training = 0;
  ASSERT_EQ(std::sscanf(r.err.c_str() + at, "AUROC %lf (%lfs, training %lfs)", &auroc, &run, &training), 3) << r.err;
  EXPECT_NEAR(training, rows[0].seconds, 0.051);
  EXPECT_GE(run + 0.051, training);
}

TEST(Bench, AFinishedRunWithoutItsRowIsEvaluatedNotTrainedAgain) {
  // A run a stop interrupted and the user finished with `shiftad train --resume` (the
  // stop's message offers it), or one whose bench was killed before its row: the next
  // bench trained it again from the start, to the same row.
  TempDir tmp;
  const auto out = tmp / "b";
  const std::vector<std::string> some = {"--set", "train.epochs=2"};
  ASSERT_EQ(runCli(bench(tmp, out, some), tmp.path()).exit, 0);
  const auto runs = runFoldersUnder(out + "/runs");
  ASSERT_EQ(runs.size(), 1u);
  const auto before = shiftad::evaluation::readCsv(out + "/results.csv");
  const auto summary = readText(runs[0] + "/summary.json"), model = readText(runs[0] + "/model.safetensors");
  const auto csv = readText(out + "/results.csv");
  writeFile(out + "/results.csv", csv.substr(0, csv.find('\n') + 1));  // the header alone: no row
  const auto r = runCli(bench(tmp, out, some), tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(readText(runs[0] + "/summary.json"), summary) << "trained again";
  EXPECT_EQ(readText(runs[0] + "/model.safetensors"), model) << "trained again";
  const auto after = shiftad::evaluation::readCsv(out + "/results.csv");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].auroc, before[0].auroc);
  EXPECT_EQ(after[0].seconds, before[0].seconds);
}

TEST(Bench, ARunThatFailsIsNamedInTheError) {
  // In a grid of hundreds of runs, an error that named no run left the user to infer it
  // from the last `[k/n]` line, which named the run before it.
  TempDir tmp;
  const auto root = tmp / "data";
  fs::copy(dataRoot(), root, fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(root + "/source/square")) writeFile(e.path().string(), "broken");
  const auto out = tmp / "b";
  expectRefused(runCli(bench(tmp, out, {}, Grid{"circle,square", "0", "source_only", "synthetic", root}), tmp.path()),
                1, {"the run source → target class 'square' seed 0 source_only failed: ", "source images"});
  EXPECT_EQ(rowsIn(out), 1u) << "the run before it kept its row";
}

TEST(Bench, TheReportsCommandIsTheCommandLineAShellReadsBack) {
  // `--out outs/my bench` was written unquoted: pasted, it ran on other paths (and a
  // backquote in a name ran a command).
  TempDir tmp;
  const auto out = tmp / "my 'b' $x dir";
  const auto args = bench(tmp, out, {}, Grid{"circle"});
  const auto r = runCli(args, tmp.path());
  ASSERT_EQ(r.exit, 0) << r.err;
  const auto md = readText(out + "/report.md");
  const auto from = md.find("- Command: `");
  ASSERT_NE(from, std::string::npos) << md;
  // A Markdown code span: its fence of backquotes, then the text.
  auto command = md.substr(from + 11, md.find('\n', from) - from - 11);
  const auto fence = command.find_first_not_of('`');
  command = command.substr(fence, command.size() - 2 * fence);
  // The oracle: /bin/sh splitting the command into words.
  shiftad::test::writeFile(tmp / "words.sh", "set -- " + command + "\nprintf '%s\\n' \"$@\"\n");
  FILE* sh = ::popen(("/bin/sh '" + tmp / "words.sh" + "'").c_str(), "r");
  ASSERT_NE(sh, nullptr);
  std::vector<std::string> words;
  char line[4096];
  while (std::fgets(line, sizeof line, sh) != nullptr) words.push_back(std::string(line, std::strlen(line) - 1));
  ASSERT_EQ(::pclose(sh), 0) << command;
  std::vector<std::string> expected = {"shiftad"};
  expected.insert(expected.end(), args.begin(), args.end());
  EXPECT_EQ(words, expected) << command;
}
