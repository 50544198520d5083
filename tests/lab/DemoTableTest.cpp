// The table `shiftad demo` prints: this demo's rows only (lab::demoTable).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lab/DemoTable.h"

namespace {

using shiftad::evaluation::BenchRow;

BenchRow row(const std::string& cls, const std::string& variant, int seed, double auroc) {
  return BenchRow{"source", "target", cls, variant, seed, auroc, 0.5, -1, -1, 1.0};
}

}  // namespace

TEST(DemoTable, OnlyThisDemosSeedsAndVariantsAreAveraged) {
  // A second demo with --seeds 1 in the same folder printed the mean of seeds 0 and 1
  // under a caption naming seed 1 (hunt13-b #1). By hand, seed 1 only: circle 0.6 / 0.9,
  // square 0.7 / 0.8; over both classes 65.0 ± 5.0 and 85.0 ± 5.0.
  const std::vector<BenchRow> rows = {
      row("circle", "source_only", 0, 0.1), row("circle", "align_all", 0, 0.2),  // an earlier demo's seed
      row("circle", "source_only", 1, 0.6), row("circle", "align_all", 1, 0.9),    row("square", "source_only", 1, 0.7),
      row("square", "align_all", 1, 0.8),   row("square", "cluster_self", 1, 0.3),  // not this demo's variant
  };
  std::vector<std::string> lines;
  const auto table =
      shiftad::lab::demoTable(rows, {1}, "align_all", [&](const std::string& line) { lines.push_back(line); });
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[0].normal_class, "circle");
  EXPECT_DOUBLE_EQ(table[0].source_only_auroc, 0.6);
  EXPECT_DOUBLE_EQ(table[0].adapted_auroc, 0.9);
  EXPECT_DOUBLE_EQ(table[1].source_only_auroc, 0.7);
  ASSERT_GE(lines.size(), 2u);
  const auto& all = lines[lines.size() - 2];
  EXPECT_EQ(all.rfind("all ", 0), 0u) << all;
  EXPECT_NE(all.find("65.0 ± 5.0"), std::string::npos) << all;
  EXPECT_NE(all.find("85.0 ± 5.0"), std::string::npos) << all;
  EXPECT_NE(lines.back().find("over seeds 1;"), std::string::npos) << lines.back();
}
