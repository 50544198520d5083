// Benchmark suites (config/Suite) and reports (evaluation/Report): parsing, errors,
// and the report's figures against hand-computed means.
#include <filesystem>
#include <fstream>
#include <tuple>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "config/Suite.h"
#include "evaluation/Report.h"
#include "shiftad/Config.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const shiftad::Error& e) {
    return e.what();
  }
  return "";
}

std::string writeSuite(const TempDir& dir, const std::string& text) {
  const auto path = dir / "suite.yaml";
  std::ofstream(path) << text;
  return path;
}

/// Write rows as results.csv and read them back.
std::vector<shiftad::evaluation::BenchRow> roundTrip(const TempDir& dir, const std::vector<shiftad::evaluation::BenchRow>& rows) {
  {
    std::ofstream f(dir / "results.csv");
    f << shiftad::evaluation::csvHeader() << "\n";
    for (const auto& r : rows) f << shiftad::evaluation::csvLine(r) << "\n";
  }
  return shiftad::evaluation::readCsv(dir / "results.csv");
}

}  // namespace

TEST(Suite, EveryShippedSuiteParsesWithAndWithoutQuick) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(shiftad::suitesDir())) {
    if (e.path().extension() != ".yaml") continue;
    for (bool quick : {false, true}) {
      const auto s = shiftad::loadSuite(e.path().stem().string(), quick);
      EXPECT_EQ(s.name, e.path().stem().string());
      EXPECT_FALSE(s.directions.empty());
      EXPECT_FALSE(s.seeds.empty());
    }
    ++n;
  }
  EXPECT_GE(n, 6);
  // The paper's Office-31 classes, and quick settings replacing the full ones.
  EXPECT_EQ(shiftad::loadSuite("office31", false).classes.size(), 10u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", false).directions.size(), 4u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", true).directions.size(), 1u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", true).seeds, std::vector<int>{0});
}

TEST(Suite, BadSuitesAreClearErrors) {
  TempDir dir;
  const std::string ok = "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0]\nvariants: [source_only]\n";
  EXPECT_NO_THROW(shiftad::loadSuite(writeSuite(dir, ok), false));
  auto msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "sedes: [1]\n"), false); });
  EXPECT_NE(msg.find("unknown suite key 'sedes'"), std::string::npos) << msg;
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0]\nvariants: [sauce]\n"), false); });
  EXPECT_NE(msg.find("source_only"), std::string::npos) << msg;  // lists the known variants
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "config: {train: {epochs: -1}}\n"), false); });
  EXPECT_NE(msg.find("train.epochs"), std::string::npos) << msg;
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a]]\nseeds: [0]\nvariants: [source_only]\n"), false); });
  EXPECT_NE(msg.find("[source, target]"), std::string::npos) << msg;
  msg = errorOf([&] { shiftad::loadSuite("no-such-suite", false); });
  EXPECT_NE(msg.find("office-caltech10"), std::string::npos) << msg;
}

TEST(Report, CsvRoundTripsAndSummaryIsTheMeanOverClassesAndSeeds) {
  using shiftad::evaluation::BenchRow;
  std::vector<BenchRow> rows = {
      {"a", "b", "c1", "trained", 0, 0.90, 0.5, 0.95, 0.8, 1.0}, {"a", "b", "c1", "trained", 1, 0.80, 0.5, 0.9, 0.8, 1.0},
      {"a", "b", "c2", "trained", 0, 0.70, 0.5, 1.0, 0.8, 1.0},  {"a", "b", "c1", "frozen_only", 0, 0.85, 0.5, -1, -1, 0},
      {"a", "b", "c1", "frozen_only", 1, 0.85, 0.5, -1, -1, 0},  {"a", "b", "c2", "frozen_only", 0, 0.85, 0.5, -1, -1, 0},
      {"a", "b", "c1", "oracle", 0, 0.99, 0.5, -1, -1, 0}};
  TempDir dir;
  const auto back = roundTrip(dir, rows);
  ASSERT_EQ(back.size(), rows.size());
  EXPECT_EQ(back[1].seed, 1);
  EXPECT_DOUBLE_EQ(back[1].auroc, 0.8);
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.frozen_variants = {"frozen_only"};
  info.upper_bounds = {"oracle"};
  const auto md = shiftad::evaluation::markdownReport(back, info);
  // trained: mean of 0.9, 0.8, 0.7 = 80.0, population std 8.2; frozen: 85.0 ± 0.0.
  EXPECT_NE(md.find("| a → b | 80.0 ± 8.2 | 85.0 ± 0.0 | 99.0 ± 0.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("oracle (upper bound)"), std::string::npos);
  // The oracle never wins; the frozen encoder does, and the report says so.
  EXPECT_NE(md.find("**the frozen encoder wins** by 5.0 points"), std::string::npos) << md;
  // Per class, over seeds: c1 trained = 85.0 ± 5.0.
  EXPECT_NE(md.find("| c1 | 85.0 ± 5.0 | 85.0 ± 0.0 | 99.0 ± 0.0 |"), std::string::npos) << md;
  EXPECT_THROW(shiftad::evaluation::csvLine({"a,b", "b", "c", "v", 0, 0, 0, 0, 0, 0}), shiftad::Error);
}

TEST(Report, OlderCsvWithoutSettingColumnStillReads) {
  TempDir dir;
  std::ofstream(dir / "old.csv") << "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds\n"
                                    "a,b,c,2,source_only,0.750000,0.5,-1,-1,1.5\n";
  const auto rows = shiftad::evaluation::readCsv(dir / "old.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seed, 2);
  EXPECT_EQ(rows[0].setting, "");
  std::ofstream(dir / "bad.csv") << "source,target\n";
  EXPECT_NE(errorOf([&] { shiftad::evaluation::readCsv(dir / "bad.csv"); }).find("not a shiftad results.csv"), std::string::npos);
}

TEST(Report, SweepRowsGetTheirOwnTableAndPlot) {
  using shiftad::evaluation::BenchRow;
  // AUROC of each (value, variant), averaged over two classes: hand means 60, 70 / 80, 90.
  std::vector<BenchRow> rows;
  for (const auto& [value, variant, a, b] : std::vector<std::tuple<std::string, std::string, double, double>>{
           {"0", "source_only", 0.55, 0.65}, {"0", "adapted", 0.65, 0.75},
           {"0.5", "source_only", 0.75, 0.85}, {"0.5", "adapted", 0.85, 0.95}}) {
    rows.push_back({"s", "t", "c1", variant, 0, a, 0.5, -1, -1, 1, "data.contamination=" + value});
    rows.push_back({"s", "t", "c2", variant, 0, b, 0.5, -1, -1, 1, "data.contamination=" + value});
  }
  TempDir dir;
  const auto back = roundTrip(dir, rows);
  ASSERT_EQ(back.size(), rows.size());
  EXPECT_EQ(back[4].setting, "data.contamination=0.5");
  shiftad::evaluation::ReportInfo info;
  info.title = "sweep";
  info.figures = shiftad::evaluation::summaryFigures(back);
  ASSERT_EQ(info.figures.size(), 1u);  // no main grid: only the sweep's plot
  EXPECT_EQ(info.figures[0].name, "sweep-data.contamination");
  EXPECT_NE(info.figures[0].svg.find("<polyline"), std::string::npos);
  const auto md = shiftad::evaluation::markdownReport(back, info);
  EXPECT_NE(md.find("| 0 | 60.0 ± 5.0 | 70.0 ± 5.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.5 | 80.0 ± 5.0 | 90.0 ± 5.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("![Mean target AUROC as `data.contamination` varies"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Summary"), std::string::npos) << md;  // sweep rows are not the main grid
  // A non-numeric sweep gets its table but no plot ("infonce" must not read as inf).
  std::vector<BenchRow> named = {{"s", "t", "c1", "v", 0, 0.7, 0.5, -1, -1, 1, "align.method=infonce"},
                                 {"s", "t", "c1", "v", 0, 0.8, 0.5, -1, -1, 1, "align.method=mmd"}};
  EXPECT_TRUE(shiftad::evaluation::summaryFigures(named).empty());
  info.figures.clear();
  EXPECT_NE(shiftad::evaluation::markdownReport(named, info).find("| infonce | 70.0 ± 0.0 |"), std::string::npos);
}

TEST(Report, HtmlIsSelfContainedAndSaysWhatMarkdownSays) {
  using shiftad::evaluation::BenchRow;
  const std::vector<BenchRow> rows = {{"photo", "cartoon", "dog", "cluster_frozen", 0, 0.8, 0.5, 0.9, 0.5, 1},
                                      {"photo", "cartoon", "dog", "frozen_only", 0, 0.7, 0.5, -1, -1, 0}};
  shiftad::evaluation::ReportInfo info;
  info.title = "pacs <test>";
  info.suite = "pacs";
  info.frozen_variants = {"frozen_only"};
  info.paper = shiftad::evaluation::readPaperFigures(fs::path(shiftad::suitesDir()) / "paper" / "auroc.csv");
  info.figures = shiftad::evaluation::summaryFigures(rows);
  const auto html = shiftad::evaluation::htmlReport(rows, info);
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  // Self-contained: the figures are inline and nothing is fetched.
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_NE(html.find("pacs &lt;test&gt;"), std::string::npos);  // escaped
  EXPECT_NE(html.find("<td>80.0 ± 0.0</td><td>70.0 ± 0.0</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("training wins by 10.0 points"), std::string::npos) << html;
  EXPECT_NE(md.find("training wins by 10.0 points"), std::string::npos) << md;
  // The paper's Table 5 (PACS, photo → cartoon: "Ours" 75.35) beside our cluster_frozen.
  EXPECT_NE(md.find("| photo → cartoon | table5 | Ours | 75.35 | `cluster_frozen` | 80.0 ± 0.0 |"), std::string::npos) << md;
  EXPECT_NE(html.find("<td>table5</td><td>Ours</td><td>75.35</td>"), std::string::npos);
}

TEST(Report, PaperFiguresMatchThePaperTablesSpotChecks) {
  // Values read by hand from the paper's Tables 1, 4 and 5.
  const auto paper = shiftad::evaluation::readPaperFigures(fs::path(shiftad::suitesDir()) / "paper" / "auroc.csv");
  auto find = [&](const std::string& table, const std::string& tgt, const std::string& cls, const std::string& method) {
    for (const auto& p : paper)
      if (p.table == table && p.target == tgt && p.normal_class == cls && p.method == method) return p.auroc;
    return -1.0;
  };
  EXPECT_DOUBLE_EQ(find("table1", "webcam", "back_pack", "Ours unsupervised"), 97.59);
  EXPECT_DOUBLE_EQ(find("table1", "Product", "Paper_Clip", "Source only DSVDD"), 53.04);
  EXPECT_DOUBLE_EQ(find("table4", "validation", "mean", "Oracle"), 81.65);
  EXPECT_DOUBLE_EQ(find("table4", "validation", "std", "CLIP-ViT-B32 frozen"), 17.83);
  EXPECT_DOUBLE_EQ(find("table5", "sketch", "mean", "Ours"), 74.04);
  TempDir dir;
  std::ofstream(dir / "p.csv") << "table,suite,source,target,class,method,variant,auroc\nt,s,a,b,c,m,v,x\n";
  EXPECT_NE(errorOf([&] { shiftad::evaluation::readPaperFigures(dir / "p.csv"); }).find("line 2"), std::string::npos);
}

TEST(Suite, PathsResolveAgainstTheSuiteFilesFolder) {
  TempDir dir;
  fs::create_directories(dir / "suites");
  const auto path = dir / "suites/t.yaml";
  shiftad::test::writeFile(path, "suite: t\nroot: ../data\ndirections: [[a, b]]\nseeds: [0]\nvariants: [source_only]\n"
                                 "config: {model: {weights: w/trunk.safetensors}}\n");
  const auto s = shiftad::loadSuite(path, false);
  EXPECT_EQ(s.root, (fs::path(dir.path()) / "data").string());
  const auto cfg = shiftad::parseConfig(s.config_yaml, {}, "t", s.base_dir);
  EXPECT_EQ(cfg.model.weights, (fs::path(dir.path()) / "suites/w/trunk.safetensors").string());
  // The shipped suites find ../shared beside the checkout from any working directory.
  const auto shared = (fs::path(SHIFTAD_SOURCE_DIR).parent_path() / "shared").lexically_normal();
  const auto pacs = shiftad::loadSuite("pacs", false);
  EXPECT_EQ(pacs.root, (shared / "datasets/PACS").string());
  EXPECT_EQ(shiftad::parseConfig(pacs.config_yaml, {}, "pacs", pacs.base_dir).model.weights,
            (shared / "weights/mobilenet_v2_imagenet.safetensors").string());
}
