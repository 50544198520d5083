// Reports (evaluation/Report): results.csv round trips, and the report's tables and
// figures against hand-computed means.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "config/Suite.h"
#include "lab/Report.h"
#include "lab/Svg.h"
#include "lab/Tenths.h"
#include "shiftad/Config.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::TempDir;

namespace {

/// Write rows as results.csv and read them back.
std::vector<shiftad::evaluation::BenchRow> roundTrip(const TempDir& dir,
                                                     const std::vector<shiftad::evaluation::BenchRow>& rows) {
  {
    std::ofstream f(dir / "results.csv");
    f << shiftad::evaluation::csvHeader() << "\n";
    for (const auto& r : rows) f << shiftad::evaluation::csvLine(r) << "\n";
  }
  return shiftad::evaluation::readCsv(dir / "results.csv");
}

}  // namespace

TEST(Report, CsvRoundTripsAndSummaryIsTheMeanOverClassesAndSeeds) {
  using shiftad::evaluation::BenchRow;
  std::vector<BenchRow> rows = {{"a", "b", "c1", "trained", 0, 0.90, 0.5, 0.95, 0.8, 1.0},
                                {"a", "b", "c1", "trained", 1, 0.80, 0.5, 0.9, 0.8, 1.0},
                                {"a", "b", "c2", "trained", 0, 0.70, 0.5, 1.0, 0.8, 1.0},
                                {"a", "b", "c1", "frozen_only", 0, 0.85, 0.5, -1, -1, 0},
                                {"a", "b", "c1", "frozen_only", 1, 0.85, 0.5, -1, -1, 0},
                                {"a", "b", "c2", "frozen_only", 0, 0.85, 0.5, -1, -1, 0},
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
  // trained: mean of 0.9, 0.8, 0.7 = 80.0, population std 8.2; frozen: 85.0 ± 0.0 over
  // three runs (bold: the row's best, the oracle aside); the oracle's one run: 99.0 alone.
  EXPECT_NE(md.find("| a → b | 80.0 ± 8.2 | **85.0 ± 0.0** | 99.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("oracle (upper bound)"), std::string::npos);
  // The oracle never wins; the frozen encoder does, and the report says so.
  EXPECT_NE(md.find("**the frozen encoder wins** by 5.0 points"), std::string::npos) << md;
  // Per class, over seeds: c1 trained = 85.0 ± 5.0, tied with frozen at the shown decimal: both bold.
  EXPECT_NE(md.find("| c1 | **85.0 ± 5.0** | **85.0 ± 0.0** | 99.0 |"), std::string::npos) << md;
  // Names with a comma, a quote or a line break are quoted (RFC 4180) and read back whole.
  const std::vector<BenchRow> odd = {{"a,b", "say \"hi\"", "two\nlines", "v", 3, 0.25, 0.5, -1, -1, 0, "k=a,b"}};
  EXPECT_EQ(shiftad::evaluation::csvLine(odd[0]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",3,v,0.25,0.5,-1,-1,0.00,\"k=a,b\",,,,,,,");
  const auto odd_back = roundTrip(dir, odd);
  ASSERT_EQ(odd_back.size(), 1u);
  EXPECT_EQ(odd_back[0].source, "a,b");
  EXPECT_EQ(odd_back[0].target, "say \"hi\"");
  EXPECT_EQ(odd_back[0].normal_class, "two\nlines");
  EXPECT_EQ(odd_back[0].seed, 3);
  EXPECT_EQ(odd_back[0].setting, "k=a,b");
}

TEST(Report, AResultsCsvSavedWithCrlfLineEndsReadsAsTheOneWritten) {
  // A spreadsheet or a git checkout with autocrlf: it was refused, "not a shiftad
  // results.csv (header '...,contamination\r')", on a resume or a merge.
  using shiftad::evaluation::BenchRow;
  const std::vector<BenchRow> rows = {{"a", "b", "c1", "v", 0, 0.9, 0.5, 0.95, 0.8, 1.0, "k=1"},
                                      {"a", "b", "end\r", "v", 1, 0.8, 0.5, -1, -1, 0}};  // a name ending in CR
  TempDir dir;
  const auto lf = roundTrip(dir, rows);
  std::string crlf;
  std::ifstream in(dir / "results.csv", std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char ch : written) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  shiftad::test::writeFile(dir / "results.csv", crlf);
  const auto back = shiftad::evaluation::readCsv(dir / "results.csv");
  ASSERT_EQ(back.size(), lf.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(shiftad::evaluation::csvLine(back[i]), shiftad::evaluation::csvLine(lf[i]));
    EXPECT_EQ(back[i].normal_class, rows[i].normal_class);
  }
}

TEST(Report, ACellOfOneValueShowsItAloneAndOfSeveralItsMeanAndStd) {
  // One run has no spread to show: "± 0.0" would read as a measured one (the reports and
  // the demo's console table, which printed it for `demo --seeds 0`).
  EXPECT_EQ(shiftad::evaluation::meanStdCell(85.6, 0.0, 1), "85.6");
  EXPECT_EQ(shiftad::evaluation::meanStdCell(85.64, 1.26, 3), "85.6 ± 1.3");
  EXPECT_EQ(shiftad::evaluation::meanStdCell(70.0, 0.0, 2), "70.0 ± 0.0");
}

TEST(Report, ResultsCsvKeepsEveryMetricExactlySoAReportRebuiltFromItIsTheSame) {
  // A resumed, re-run or merged bench reports from results.csv: 6 decimals (AUROC) and 4
  // (purity) moved a mean on a .x5 boundary by 0.1 (purity 60/67 = 89.55 % read back as
  // 0.8955, shown 89.5 instead of 89.6).
  using shiftad::evaluation::BenchRow;
  BenchRow r{"a", "b", "c", "v", 0, 15534.0 / 18000, 1.0 / 3, 60.0 / 67, 67.0 / 70, 1.0};
  r.f1 = 2.0 / 3, r.f1_max = 5.0 / 7, r.precision = 0.1, r.recall = 1.0 / 9, r.fpr = 1e-7;
  r.contamination_estimate = 1.0 / 11, r.contamination = 7.0 / 67;
  TempDir dir;
  const auto back = roundTrip(dir, {r});
  ASSERT_EQ(back.size(), 1u);
  for (const auto& [got, want] :
       std::vector<std::pair<double, double>>{{back[0].auroc, r.auroc},
                                              {back[0].aupr, r.aupr},
                                              {back[0].purity, r.purity},
                                              {back[0].share, r.share},
                                              {back[0].f1, r.f1},
                                              {back[0].f1_max, r.f1_max},
                                              {back[0].recall, r.recall},
                                              {back[0].fpr, r.fpr},
                                              {back[0].contamination_estimate, r.contamination_estimate},
                                              {back[0].contamination, r.contamination}})
    EXPECT_EQ(got, want);  // bit for bit
}

TEST(Report, CellsBoldMarksRanksAndGapsUseTheOneRoundingTheyShow) {
  using shiftad::evaluation::BenchRow;
  using shiftad::evaluation::shownTenths;
  // Half away from zero on the decimal value: the mean of 0.863 and 0.700 is 78.15 %,
  // held as 78.14999999999999 ("{:.1f}": 78.1), while 63.85 is held as 63.850...01 (63.9).
  EXPECT_EQ(shownTenths(78.14999999999999), 782);
  EXPECT_EQ(shownTenths(63.85), 639);
  EXPECT_EQ(shownTenths(78.14), 781);
  EXPECT_EQ(shownTenths(-0.04), 0);
  EXPECT_EQ(shownTenths(-0.05), -1);
  EXPECT_EQ(shiftad::evaluation::tenthsText(0), "0.0");
  EXPECT_EQ(shiftad::evaluation::tenthsText(-15), "-1.5");
  EXPECT_EQ(shiftad::evaluation::gapText(12), "+1.2");
  EXPECT_EQ(shiftad::evaluation::gapText(-3), "-0.3");
  EXPECT_EQ(shiftad::evaluation::gapText(0), "0.0");
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.recommended = "default";
  info.frozen_variants = {"frozen_only"};
  const auto report = [&](double frozen) {
    std::vector<BenchRow> rows = {{"s", "t", "c", "default", 0, 0.863, 0.5, -1, -1, 1},
                                  {"s", "t", "c", "default", 1, 0.700, 0.5, -1, -1, 1},
                                  {"s", "t", "c", "frozen_only", 0, frozen, 0.5, -1, -1, 0},
                                  {"s", "t", "c", "frozen_only", 1, frozen, 0.5, -1, -1, 0}};
    return shiftad::evaluation::markdownReport(rows, info);
  };
  // 78.2 against 78.1 (unrounded 78.15 against 78.14): the gap is the shown one, 0.1
  // (it was "+0.0" and "wins by 0.0" beside two cells a tenth apart), one bold.
  auto md = report(0.7814);
  EXPECT_NE(md.find("| s → t | **78.2 ± 8.2** | 78.1 ± 0.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("recommended `default` 78.2, against the best frozen baseline `frozen_only` 78.1 (+0.1); rank "
                    "among the variants: best of 2"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("`default` 78.2; best frozen baseline `frozen_only` 78.1: training wins by 0.1 points"),
            std::string::npos)
      << md;
  // 78.2 against 78.2: a tie as shown, both bold (a 78.1 beside a 78.2 was bold as its equal).
  md = report(0.782);
  EXPECT_NE(md.find("| s → t | **78.2 ± 8.2** | **78.2 ± 0.0** |"), std::string::npos) << md;
  EXPECT_NE(md.find("`frozen_only` 78.2 (0.0); rank among the variants: best of 2"), std::string::npos) << md;
  EXPECT_NE(md.find("78.2: a tie at the shown decimal"), std::string::npos) << md;
}

TEST(Report, OlderCsvWithoutSettingColumnStillReads) {
  TempDir dir;
  std::ofstream(dir / "old.csv")
      << "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds\n"
         "a,b,c,2,source_only,0.750000,0.5,-1,-1,1.5\n";
  const auto rows = shiftad::evaluation::readCsv(dir / "old.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seed, 2);
  EXPECT_EQ(rows[0].setting, "");
  std::ofstream(dir / "bad.csv") << "source,target\n";
  EXPECT_NE(errorOf([&] { shiftad::evaluation::readCsv(dir / "bad.csv"); }).find("not a shiftad results.csv"),
            std::string::npos);
  // An AUROC or AUPR outside [0, 1] was edited in or damaged: named with its line, never reported.
  for (const auto& [auroc, aupr] : std::vector<std::pair<std::string, std::string>>{
           {"1.700000", "0.5"}, {"nan", "0.5"}, {"-0.1", "0.5"}, {"0.75", "inf"}}) {
    std::ofstream(dir / "edited.csv")
        << "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds\n"
           "a,b,c,2,source_only,0.750000,0.5,-1,-1,1.5\n"
           "a,b,d,2,source_only," +
               auroc + "," + aupr + ",-1,-1,1.5\n";
    const auto msg = errorOf([&] { shiftad::evaluation::readCsv(dir / "edited.csv"); });
    EXPECT_NE(msg.find("edited.csv' line 3: au"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is not in [0, 1]"), std::string::npos) << msg;
  }
}

TEST(Report, ThresholdColumnsRoundTripAndAnElevenColumnFileReadsThemAsUnknown) {
  using shiftad::evaluation::BenchRow;
  BenchRow r{"a", "b", "c", "align_all", 0, 0.9, 0.8, -1, -1, 1.0};
  r.f1 = 0.8, r.f1_max = 0.9, r.precision = 0.95, r.recall = 0.7, r.fpr = 0.125;
  TempDir dir;
  const auto back = roundTrip(dir, {r});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_DOUBLE_EQ(back[0].f1, 0.8);
  EXPECT_DOUBLE_EQ(back[0].f1_max, 0.9);
  EXPECT_DOUBLE_EQ(back[0].precision, 0.95);
  EXPECT_DOUBLE_EQ(back[0].recall, 0.7);
  EXPECT_DOUBLE_EQ(back[0].fpr, 0.125);
  // The header of the previous version (with the setting column, as the committed
  // docs/results/*/results.csv are): the rates are unknown, and no decision table shows.
  std::ofstream(dir / "eleven.csv")
      << "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds,setting\n"
         "a,b,c,2,source_only,0.750000,0.5,-1,-1,1.5,\n";
  const auto old = shiftad::evaluation::readCsv(dir / "eleven.csv");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_TRUE(std::isnan(old[0].f1));
  EXPECT_TRUE(std::isnan(old[0].fpr));
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  EXPECT_EQ(shiftad::evaluation::markdownReport(old, info).find("label-free threshold"), std::string::npos);
  // Written back in the current format, the unknown rates stay empty fields.
  EXPECT_EQ(shiftad::evaluation::csvLine(old[0]), "a,b,c,2,source_only,0.75,0.5,-1,-1,1.50,,,,,,,,");
}

TEST(Report, ContaminationColumnsRoundTripAndASixteenColumnFileReadsThemAsUnknown) {
  using shiftad::evaluation::BenchRow;
  BenchRow r{"a", "b", "c", "default", 0, 0.9, 0.8, 0.95, 0.7, 1.0};
  r.contamination_estimate = 0.3, r.contamination = 0.2;
  TempDir dir;
  const auto back = roundTrip(dir, {r});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_DOUBLE_EQ(back[0].contamination_estimate, 0.3);
  EXPECT_DOUBLE_EQ(back[0].contamination, 0.2);
  // The previous version's header (threshold columns, no contamination columns).
  std::ofstream(dir / "sixteen.csv")
      << "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds,setting,f1,"
         "f1_max,precision,recall,fpr\n"
         "a,b,c,2,align_all,0.750000,0.5,1,1,1.5,,0.8,0.9,0.95,0.7,0.125\n";
  const auto old = shiftad::evaluation::readCsv(dir / "sixteen.csv");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_DOUBLE_EQ(old[0].fpr, 0.125);
  EXPECT_TRUE(std::isnan(old[0].contamination_estimate));
  EXPECT_TRUE(std::isnan(old[0].contamination));
}

TEST(Report, DecisionTableShowsTheMeansAndTheGoalOfTheRecommendedVariant) {
  using shiftad::evaluation::BenchRow;
  std::vector<BenchRow> rows;
  // align_all: F1 0.80 and 0.60 (mean 70.0), F1-max 0.90 and 0.90 (mean 90.0): 0.778 of
  // it, short of 0.9 by 0.9 * 90.0 - 70.0 = 11.0 points. source_only: 0.85 / 0.90.
  for (const auto& [variant, f1, f1_max] : std::vector<std::tuple<std::string, double, double>>{
           {"align_all", 0.8, 0.9}, {"align_all", 0.6, 0.9}, {"source_only", 0.85, 0.9}}) {
    BenchRow r{"a", "b", "c" + std::to_string(rows.size()), variant, 0, 0.9, 0.8, -1, -1, 1.0};
    r.f1 = f1, r.f1_max = f1_max, r.precision = 1.0, r.recall = 0.5, r.fpr = 0.25;
    rows.push_back(r);
  }
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.recommended = "align_all";
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(
      md.find("| a → b | align_all ★ | 70.0 ± 10.0 | 90.0 ± 0.0 | 0.778 | 100.0 ± 0.0 | 50.0 ± 0.0 | 25.0 ± 0.0 |"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| a → b | source_only | 85.0 | 90.0 | 0.944 | 100.0 | 50.0 | 25.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("mean F1 70.0 at the threshold, mean F1-max 90.0: 0.778 of it; the goal is at least 0.9: **short "
                    "by 11.0 F1 points**"),
            std::string::npos)
      << md;
}

TEST(Report, APrecisionOfNoImageAboveTheThresholdIsLeftOutNotAveragedAsZero) {
  // A run that called no image anomalous (recall 0, FPR 0) holds precision 0 in
  // results.csv, as sklearn's zero_division default; `eval` calls it undefined, and the
  // report averaged the 0 in. By hand: precision 0.8 and 0.6 over the two runs that
  // called images (70.0 ± 10.0, 2 of 3); a precision 0 with a false positive (FPR > 0)
  // is a real 0 and counts.
  using shiftad::evaluation::BenchRow;
  std::vector<BenchRow> rows;
  for (const auto& [variant, precision, recall, fpr] :
       std::vector<std::tuple<std::string, double, double, double>>{{"align_all", 0.8, 0.5, 0.1},
                                                                    {"align_all", 0.6, 0.5, 0.2},
                                                                    {"align_all", 0.0, 0.0, 0.0},
                                                                    {"source_only", 0.0, 0.0, 0.25},
                                                                    {"source_only", 0.0, 0.0, 0.0}}) {
    BenchRow r{"a", "b", "c" + std::to_string(rows.size()), variant, 0, 0.9, 0.8, -1, -1, 1.0};
    r.f1 = 0.5, r.f1_max = 0.5, r.precision = precision, r.recall = recall, r.fpr = fpr;
    rows.push_back(r);
  }
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(md.find("| 70.0 ± 10.0 (2 of 3 runs) | 33.3 ± 23.6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.0 (1 of 2 runs) | 0.0 ± 0.0 | 12.5 ± 12.5 |"), std::string::npos) << md;
  rows.erase(rows.begin() + 3);  // source_only: no run above the threshold at all
  EXPECT_NE(shiftad::evaluation::markdownReport(rows, info).find("| – (no image above it) |"), std::string::npos);
}

TEST(Report, ThePurityTableFollowsTheGridsOrder) {
  // It iterated a map: directions and variants alphabetically, where every other table
  // has them in the order the bench ran them.
  using shiftad::evaluation::BenchRow;
  std::vector<BenchRow> rows;
  for (const auto& [src, variant] :
       std::vector<std::pair<std::string, std::string>>{{"z", "zeta"}, {"z", "alpha"}, {"a", "zeta"}, {"a", "alpha"}}) {
    BenchRow r{src, "t", "c", variant, 0, 0.9, 0.8, 0.75, 0.5, 1.0};
    rows.push_back(r);
  }
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  const auto purity = md.find("Dominant-set purity");
  ASSERT_NE(purity, std::string::npos) << md;
  std::vector<size_t> at;
  for (const char* row : {"| z → t | zeta |", "| z → t | alpha |", "| a → t | zeta |", "| a → t | alpha |"})
    at.push_back(md.find(row, purity));
  EXPECT_NE(at[0], std::string::npos) << md;
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << md.substr(purity);
}

TEST(Report, SweepRowsGetTheirOwnTableAndPlot) {
  using shiftad::evaluation::BenchRow;
  // AUROC of each (value, variant), averaged over two classes: hand means 60, 70 / 80, 90.
  std::vector<BenchRow> rows;
  for (const auto& [value, variant, a, b] :
       std::vector<std::tuple<std::string, std::string, double, double>>{{"0", "source_only", 0.55, 0.65},
                                                                         {"0", "adapted", 0.65, 0.75},
                                                                         {"0.5", "source_only", 0.75, 0.85},
                                                                         {"0.5", "adapted", 0.85, 0.95}}) {
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
  EXPECT_NE(md.find("| 0 | 60.0 ± 5.0 | **70.0 ± 5.0** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.5 | 80.0 ± 5.0 | **90.0 ± 5.0** |"), std::string::npos) << md;
  EXPECT_NE(md.find("![Mean target AUROC as `data.contamination` varies"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Summary"), std::string::npos) << md;  // sweep rows are not the main grid
  // A non-numeric sweep gets its table but no plot ("infonce" must not read as inf).
  std::vector<BenchRow> named = {{"s", "t", "c1", "v", 0, 0.7, 0.5, -1, -1, 1, "align.method=infonce"},
                                 {"s", "t", "c1", "v", 0, 0.8, 0.5, -1, -1, 1, "align.method=mmd"}};
  EXPECT_TRUE(shiftad::evaluation::summaryFigures(named).empty());
  info.figures.clear();
  EXPECT_NE(shiftad::evaluation::markdownReport(named, info).find("| infonce | 70.0 |"), std::string::npos);
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
  EXPECT_NE(html.find("<td><b>80.0</b></td><td>70.0</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("training wins by 10.0 points"), std::string::npos) << html;
  EXPECT_NE(md.find("training wins by 10.0 points"), std::string::npos) << md;
  // The paper's Table 5 (PACS, photo → cartoon: "Ours" 75.35) beside our cluster_frozen.
  EXPECT_NE(md.find("| photo → cartoon | table5 | Ours | 75.35 | `cluster_frozen` | 80.0 |"), std::string::npos) << md;
  EXPECT_NE(html.find("<td>table5</td><td>Ours</td><td>75.35</td>"), std::string::npos);
}

TEST(Report, NamesFromTheDataShowAsTheyAreInBothReports) {
  // Folder names are data: a class `a|b` split its table row, `**x**` and `_u_` were
  // emphasis, `<img src=x>` an HTML tag in the rendered Markdown; a control character
  // made report.html's inline SVG unreadable XML.
  using shiftad::evaluation::BenchRow;
  const std::string cls = "a|b **x** _u_ `c` <img src=x>", odd = "bell\x07";
  const std::vector<BenchRow> rows = {{"s*1", "t", cls, "source_only", 0, 0.8, 0.5, -1, -1, 1},
                                      {"s*1", "t", cls, "align_all", 0, 0.7, 0.5, -1, -1, 1},
                                      {"s*1", "t", odd, "source_only", 0, 0.6, 0.5, -1, -1, 1},
                                      {"s*1", "t", odd, "align_all", 0, 0.9, 0.5, -1, -1, 1}};
  shiftad::evaluation::ReportInfo info;
  info.title = "suite_1";
  info.figures = shiftad::evaluation::summaryFigures(rows);
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(md.find("| a\\|b \\*\\*x\\*\\* \\_u\\_ \\`c\\` &lt;img src=x&gt; | **80.0** | 70.0 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("### s\\*1 → t\n"), std::string::npos) << md;
  EXPECT_NE(md.find("# Benchmark report: suite\\_1\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| bell\\\\x07 |"), std::string::npos) << md;  // Markdown's \\ is a backslash
  EXPECT_EQ(md.find("<img"), std::string::npos) << md;
  const auto html = shiftad::evaluation::htmlReport(rows, info);
  EXPECT_NE(html.find("<td>a|b **x** _u_ `c` &lt;img src=x&gt;</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<h3>s*1 → t</h3>"), std::string::npos) << html;
  EXPECT_EQ(html.find("<img"), std::string::npos) << html;
  EXPECT_EQ(html.find('\x07'), std::string::npos) << "a control character in report.html";
  EXPECT_NE(html.find("<td>bell\\x07</td>"), std::string::npos) << html;
  // The command line the user typed, as code whatever it holds: a backtick ended the span
  // early, and what followed was Markdown.
  info.command = "shiftad bench --out 'a`b **c**' --set x=<i>";
  const auto with_command = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(with_command.find("- Command: ``shiftad bench --out 'a`b **c**' --set x=<i>``\n"), std::string::npos)
      << with_command;
  EXPECT_NE(shiftad::evaluation::htmlReport(rows, info)
                .find("<li>Command: <code>shiftad bench --out 'a`b **c**' --set x=&lt;i&gt;</code></li>"),
            std::string::npos);
  // The summary figure (an SVG) names the direction; its labels hold no control character either.
  EXPECT_EQ(shiftad::evaluation::xmlEscape("bell\x07\x01 tab\t"), "bell\xEF\xBF\xBD\xEF\xBF\xBD tab\t");
}

TEST(Report, ACutLastRowIsLeftOutWithAWarning) {
  // A bench killed (or out of disk) while appending a row leaves half a line without
  // its line end: the rows before it read, that one is dropped (its run is run again).
  TempDir dir;
  const std::vector<shiftad::evaluation::BenchRow> rows = {{"a", "b", "c", "source_only", 0, 0.75, 0.5, -1, -1, 1},
                                                           {"a", "b", "d", "source_only", 0, 0.5, 0.5, -1, -1, 1}};
  std::string text = shiftad::evaluation::csvHeader() + "\n" + shiftad::evaluation::csvLine(rows[0]) + "\n";
  std::ofstream(dir / "cut.csv") << text << shiftad::evaluation::csvLine(rows[1]).substr(0, 12);
  const auto read = shiftad::evaluation::readCsv(dir / "cut.csv");
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].normal_class, "c");
  // Whole rows read as before.
  std::ofstream(dir / "whole.csv") << text << shiftad::evaluation::csvLine(rows[1]) << "\n";
  EXPECT_EQ(shiftad::evaluation::readCsv(dir / "whole.csv").size(), 2u);
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

namespace {

/// Rows of a grid with every AUROC drawn from a fixed pseudo-random sequence.
std::vector<shiftad::evaluation::BenchRow> randomGrid(const std::vector<std::string>& variants,
                                                      const std::vector<int>& seeds, double lo, double hi) {
  std::vector<shiftad::evaluation::BenchRow> rows;
  unsigned state = 12345;
  for (const auto* dir : {"a", "b"})
    for (const auto* cls : {"c1", "c2", "c3"})
      for (int seed : seeds)
        for (const auto& v : variants) {
          state = state * 1103515245u + 12345u;
          const double u = static_cast<double>((state >> 8) % 10000) / 10000.0;
          rows.push_back({dir, std::string(dir) == "a" ? "b" : "a", cls, v, seed, lo + (hi - lo) * u, 0.5, -1, -1, 1});
        }
  return rows;
}

/// The Markdown table line that starts with "| first |".
std::string rowLine(const std::string& md, const std::string& first, size_t from = 0) {
  const auto at = md.find("\n| " + first + " |", from);
  if (at == std::string::npos) return "";
  return md.substr(at + 1, md.find('\n', at + 1) - at - 1);
}

std::vector<std::string> cellsOf(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string c;
  std::getline(ss, c, '|');  // before the first bar
  while (std::getline(ss, c, '|')) {
    const auto b = c.find_first_not_of(' '), e = c.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(c.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

TEST(Report, EachRowMarksItsBestVariantButNeverAnUpperBound) {
  using shiftad::evaluation::BenchRow;
  const std::vector<std::string> variants = {"source_only", "align_all", "cluster_self", "oracle"};
  auto rows = randomGrid(variants, {0}, 0.6, 0.95);
  for (auto& r : rows)
    if (r.variant == "oracle") r.auroc = 0.99;  // above everything, yet never the winner
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.upper_bounds = {"oracle"};
  info.recommended = "align_all";
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(md.find("| align_all ★ (recommended) |"), std::string::npos) << md;
  EXPECT_NE(md.find("★: the suite's recommended variant, `align_all`."), std::string::npos) << md;
  EXPECT_NE(md.find("| oracle (upper bound) |"), std::string::npos) << md;
  // Per class (one seed, so each cell is one run): the bold cell is the max this test finds.
  const auto per_class = md.find("## Per class");
  ASSERT_NE(per_class, std::string::npos);
  for (const auto* dir : {"a → b", "b → a"}) {
    const auto section = md.find("### " + std::string(dir), per_class);
    ASSERT_NE(section, std::string::npos) << dir;
    for (const auto* cls : {"c1", "c2", "c3"}) {
      double best = -1;
      size_t best_i = 0;
      for (const auto& r : rows)
        if (r.source + " → " + r.target == dir && r.normal_class == cls && r.variant != "oracle" && r.auroc > best) {
          best = r.auroc;
          best_i = static_cast<size_t>(std::find(variants.begin(), variants.end(), r.variant) - variants.begin());
        }
      const auto cells = cellsOf(rowLine(md, cls, section));
      ASSERT_EQ(cells.size(), variants.size() + 1) << rowLine(md, cls, section);
      // Bold: the best, and any other competing variant equal to it at the shown decimal.
      for (size_t i = 0; i < variants.size(); ++i) {
        double x = -1;
        for (const auto& r : rows)
          if (r.source + " → " + r.target == dir && r.normal_class == cls && r.variant == variants[i]) x = r.auroc;
        const bool tied = variants[i] != "oracle" && std::lround(1000 * x) == std::lround(1000 * best);
        const bool bold = cells[i + 1].rfind("**", 0) == 0;
        EXPECT_EQ(bold, i == best_i || tied) << dir << " " << cls << " " << variants[i] << ": " << cells[i + 1];
      }
      char expect[32];
      std::snprintf(expect, sizeof expect, "**%.1f**", 100 * best);
      EXPECT_EQ(cells[best_i + 1], expect);
    }
  }
  // HTML says the same with <b>.
  EXPECT_NE(shiftad::evaluation::htmlReport(rows, info).find("<td><b>"), std::string::npos);
  // Where the recommended variant stands, per direction.
  EXPECT_NE(md.find("recommended `align_all`"), std::string::npos) << md;
}

TEST(Report, OneSeedShowsNoZeroSpread) {
  const auto rows = randomGrid({"source_only", "align_all"}, {0}, 0.6, 0.95);
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.recommended = "cluster_frozen";  // not in this grid: nothing says ★
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_EQ(md.find("★"), std::string::npos) << md;
  EXPECT_EQ(md.find("± 0.0"), std::string::npos) << md;
  EXPECT_NE(md.find("## Per class: AUROC % (one seed)"), std::string::npos) << md;
  // The summary still averages three classes, so its spread is a real one.
  EXPECT_NE(rowLine(md, "a → b").find(" ± "), std::string::npos) << md;
  // With two seeds the per-class cells are mean ± std again.
  const auto two =
      shiftad::evaluation::markdownReport(randomGrid({"source_only", "align_all"}, {0, 1}, 0.6, 0.95), info);
  EXPECT_NE(two.find("## Per class: AUROC %, mean ± std over seeds"), std::string::npos);
  EXPECT_NE(rowLine(two, "c1").find(" ± "), std::string::npos) << two;
}

TEST(Report, SummaryBarsHaveAFittedAxisValueLabelsAndTheRecommendedOutlined) {
  // Every AUROC at 97-100%: the axis must not run from 40 (or 0) to 100.
  const auto rows = randomGrid({"source_only", "align_all", "frozen_only"}, {0, 1}, 0.97, 1.0);
  const auto figs = shiftad::evaluation::summaryFigures(rows, "align_all");
  ASSERT_EQ(figs.size(), 1u);
  const auto& svg = figs[0].svg;
  std::vector<double> ticks;
  const std::regex tick_re("text-anchor=\"end\">([-0-9.]+)</text>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), tick_re), end; it != end; ++it)
    ticks.push_back(std::stod((*it)[1]));
  ASSERT_GE(ticks.size(), 3u);
  // The ticks hold every mean ± std bar end this test computes.
  double lo = 1e9, hi = -1e9;
  std::map<std::pair<std::string, std::string>, std::vector<double>> by;
  for (const auto& r : rows) by[{r.source, r.variant}].push_back(100 * r.auroc);
  for (const auto& [k, v] : by) {
    double m = 0, q = 0;
    for (double x : v) m += x / static_cast<double>(v.size());
    for (double x : v) q += (x - m) * (x - m) / static_cast<double>(v.size());
    lo = std::min(lo, m - std::sqrt(q)), hi = std::max(hi, m + std::sqrt(q));
    // Each bar is labelled with its mean.
    char label[16];
    std::snprintf(label, sizeof label, ">%.1f</text>", m);
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  EXPECT_LE(*std::min_element(ticks.begin(), ticks.end()), lo);
  EXPECT_GE(*std::max_element(ticks.begin(), ticks.end()), std::min(hi, 100.0));
  EXPECT_LE(*std::max_element(ticks.begin(), ticks.end()), 100.0);
  EXPECT_GE(*std::min_element(ticks.begin(), ticks.end()), 90.0) << "axis not fitted to 97-100% data";
  // The recommended variant: starred in the legend, its bars outlined.
  EXPECT_NE(svg.find("font-weight=\"bold\">align_all ★</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("stroke=\"#000\""), std::string::npos);
}

TEST(Report, VerdictLeadsWithTheRecommendedVariantAgainstWhatNeedsNoLabels) {
  using shiftad::evaluation::BenchRow;
  // One direction, one run per variant (hand values): the recommended `default` 85.0 is
  // 5.0 above the best frozen baseline (frozen_dominant 80.0; frozen_only 60.0), 15.0 above
  // source_only 70.0, second of four behind align_all 90.0, the best trained variant.
  std::vector<BenchRow> rows;
  for (const auto& [variant, auroc] : std::vector<std::pair<std::string, double>>{{"default", 0.85},
                                                                                  {"source_only", 0.70},
                                                                                  {"align_all", 0.90},
                                                                                  {"frozen_dominant", 0.80},
                                                                                  {"frozen_only", 0.60},
                                                                                  {"oracle", 0.99}})
    rows.push_back({"s", "t", "c1", variant, 0, auroc, 0.5, -1, -1, 1});
  shiftad::evaluation::ReportInfo info;
  info.title = "t";
  info.recommended = "default";
  info.frozen_variants = {"frozen_dominant", "frozen_only"};
  info.upper_bounds = {"oracle"};
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(md.find("- s → t: recommended `default` 85.0, against the best frozen baseline `frozen_dominant` 80.0 "
                    "(+5.0) and `source_only` 70.0 (+15.0); rank among the variants: rank 2 of 5, 5.0 below the "
                    "best; best trained variant, picked after the fact with the test labels: `align_all` 90.0; best "
                    "frozen baseline `frozen_dominant` 80.0: training wins by 10.0 points"),
            std::string::npos)
      << md;
  // Without a frozen baseline in the grid, against source-only alone.
  std::vector<BenchRow> trained;
  for (const auto& r : rows)
    if (r.variant == "default" || r.variant == "source_only") trained.push_back(r);
  EXPECT_NE(shiftad::evaluation::markdownReport(trained, info)
                .find("- s → t: recommended `default` 85.0, against `source_only` 70.0 (+15.0); rank among the "
                      "variants: best of 2\n"),
            std::string::npos);
  // Without a recommended variant, only the after-the-fact line.
  info.recommended = "";
  const auto plain = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(plain.find("- s → t: best trained variant, picked after the fact"), std::string::npos) << plain;
}

TEST(Report, SweepShowsTheRecommendedMarginAndOneTablePerDirection) {
  using shiftad::evaluation::BenchRow;
  // Two directions, one class, one seed. At 0: rec 0.80/0.70, other 0.70/0.90 -> pooled
  // means 75 and 80: margin -5.0; per direction +10.0 (s → t) and -20.0 (t → s). At 0.5:
  // rec 0.9/0.9, other 0.6/0.6 and an upper bound at 0.99 that is never the "best other".
  std::vector<BenchRow> rows;
  for (const auto& [src, tgt, value, variant, a] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string, double>>{
           {"s", "t", "0", "rec", 0.8},
           {"s", "t", "0", "other", 0.7},
           {"t", "s", "0", "rec", 0.7},
           {"t", "s", "0", "other", 0.9},
           {"s", "t", "0.5", "rec", 0.9},
           {"s", "t", "0.5", "other", 0.6},
           {"t", "s", "0.5", "rec", 0.9},
           {"t", "s", "0.5", "other", 0.6},
           {"s", "t", "0.5", "oracle", 0.99}})
    rows.push_back({src, tgt, "c1", variant, 0, a, 0.5, -1, -1, 1, "data.contamination=" + value});
  shiftad::evaluation::ReportInfo info;
  info.title = "sweep";
  info.recommended = "rec";
  info.upper_bounds = {"oracle"};
  const auto md = shiftad::evaluation::markdownReport(rows, info);
  EXPECT_NE(md.find("| data.contamination | rec ★ (recommended) | other | oracle (upper bound) | ★ − best other |"),
            std::string::npos)
      << md;
  EXPECT_NE(rowLine(md, "0").find("| -5.0 |"), std::string::npos) << md;
  EXPECT_NE(rowLine(md, "0.5").find("| +30.0 |"), std::string::npos) << md;
  const auto st = md.find("### s → t"), ts = md.find("### t → s");
  ASSERT_NE(st, std::string::npos) << md;
  ASSERT_NE(ts, std::string::npos) << md;
  EXPECT_NE(rowLine(md, "0", st).find("| +10.0 |"), std::string::npos) << md;
  EXPECT_NE(rowLine(md, "0", ts).find("| -20.0 |"), std::string::npos) << md;
}
