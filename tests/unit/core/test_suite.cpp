// Benchmark suites (config/Suite) and reports (evaluation/Report): parsing, errors,
// and the report's figures against hand-computed means.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "config/Suite.h"
#include "evaluation/Report.h"
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
  {
    std::ofstream f(dir / "results.csv");
    f << shiftad::evaluation::csvHeader() << "\n";
    for (const auto& r : rows) f << shiftad::evaluation::csvLine(r) << "\n";
  }
  const auto back = shiftad::evaluation::readCsv(dir / "results.csv");
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
