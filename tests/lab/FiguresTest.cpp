// The ROC figures of a bench report (api/Figures): the curve drawn is the vertical mean
// of the runs' ROC curves, read back from the SVG and compared with ROCs computed by
// hand from four test scores per run.
#include "lab/Figures.h"

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lab/Report.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::evaluation::BenchRow;
using shiftad::test::TempDir;

namespace {

/// The first capture group of each match of `pattern` in `svg`.
std::vector<std::string> capturesOf(const std::string& svg, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

/// The (fpr, tpr) points of the plot's one curve, mapped back from pixels through the
/// plot frame (its <rect>) and the lowest and highest y tick labels.
std::vector<std::pair<double, double>> curveOf(const std::string& svg) {
  const std::regex frame_re(
      "<rect x=\"([0-9.]+)\" y=\"([0-9.]+)\" width=\"([0-9.]+)\" height=\"([0-9.]+)\" fill=\"none\"");
  std::smatch frame;
  EXPECT_TRUE(std::regex_search(svg, frame, frame_re));
  const double x0 = std::stod(frame[1]), y0 = std::stod(frame[2]), w = std::stod(frame[3]), h = std::stod(frame[4]);
  std::vector<double> ticks;
  for (const auto& t : capturesOf(svg, "text-anchor=\"end\">([-0-9.e]+)</text>")) ticks.push_back(std::stod(t));
  const double lo = *std::min_element(ticks.begin(), ticks.end()), hi = *std::max_element(ticks.begin(), ticks.end());
  const auto lines = capturesOf(svg, "<polyline[^>]* points=\"([^\"]*)\"");
  EXPECT_EQ(lines.size(), 1u);
  std::vector<std::pair<double, double>> out;
  std::istringstream in(lines.at(0));
  double px = 0, py = 0;
  char comma = 0;
  while (in >> px >> comma >> py) out.emplace_back((px - x0) / w, lo + (y0 + h - py) / h * (hi - lo));
  return out;
}

}  // namespace

TEST(Figures, RocFigureIsTheVerticalMeanOfTheRunsRocHandComputed) {
  TempDir out;
  // Two classes of one direction and variant. Class c1, scores by rank: anomaly 0.8,
  // normal 0.4, anomaly 0.35, normal 0.1: TPR 1/2 up to FPR 1/2, then 1 (AUROC 3/4).
  // Class c2 separates perfectly: TPR 1 from FPR 0 (AUROC 1).
  const std::vector<BenchRow> rows = {{"a", "b", "c1", "v", 0, 0.75, 0, -1, -1, 0},
                                      {"a", "b", "c2", "v", 0, 1.0, 0, -1, -1, 0}};
  shiftad::test::writeFile(shiftad::lab::benchRunDir(out.path(), rows[0]) + "/test_scores.csv",
                           "label,score,path\n1,0.8,x/a1.png\n0,0.4,\"x/n,1.png\"\n1,0.35,x/a2.png\n0,0.1,x/n2.png\n");
  shiftad::test::writeFile(shiftad::lab::benchRunDir(out.path(), rows[1]) + "/test_scores.csv",
                           "label,score,path\n0,0.1,n1\n0,0.2,n2\n1,0.8,a1\n1,0.9,a2\n");
  const auto figures = shiftad::lab::rocFigures(out.path(), rows);
  ASSERT_EQ(figures.size(), 1u);
  EXPECT_EQ(figures[0].name, "roc-a-b");
  const auto curve = curveOf(figures[0].svg);
  ASSERT_EQ(curve.size(), 101u);  // the mean is sampled at FPR 0, 0.01, ..., 1
  for (size_t j = 0; j < curve.size(); ++j) {
    const double fpr = static_cast<double>(j) / 100;
    // Mean of c1 (1/2, then 1 from FPR 1/2) and c2 (1): 3/4, then 1.
    const double tpr = fpr < 0.5 ? 0.75 : 1.0;
    EXPECT_NEAR(curve[j].first, fpr, 2e-3) << j;
    EXPECT_NEAR(curve[j].second, tpr, 2e-3) << j;
  }
  // The legend gives the runs' mean AUROC: (3/4 + 1) / 2.
  EXPECT_NE(figures[0].svg.find("AUROC 0.875"), std::string::npos) << figures[0].svg;
}

TEST(Figures, RocCaptionNamesTheVariantsWhoseScoresAreNotInTheFolder) {
  // A merged bench can hold rows whose runs ran elsewhere: variant "w" has a row but no
  // test scores, so it has no curve, and the caption says so; "v" has both.
  TempDir out;
  const std::vector<BenchRow> rows = {{"a", "b", "c1", "v", 0, 1.0, 0, -1, -1, 0},
                                      {"a", "b", "c1", "w", 0, 0.5, 0, -1, -1, 0}};
  shiftad::test::writeFile(shiftad::lab::benchRunDir(out.path(), rows[0]) + "/test_scores.csv",
                           "label,score,path\n0,0.1,n1\n1,0.9,a1\n");
  const auto with_absent = shiftad::lab::rocFigures(out.path(), rows);
  ASSERT_EQ(with_absent.size(), 1u);
  EXPECT_NE(with_absent[0].caption.find("no curve for w "), std::string::npos) << with_absent[0].caption;
  EXPECT_EQ(capturesOf(with_absent[0].svg, "<polyline[^>]* points=\"([^\"]*)\"").size(), 1u);
  const auto complete = shiftad::lab::rocFigures(out.path(), {rows[0]});
  EXPECT_EQ(complete[0].caption.find("no curve"), std::string::npos) << complete[0].caption;
}

TEST(Figures, EveryDirectionHasAFigureFileOfItsOwn) {
  // "cam A → cam B" and "cam C → cam B" were both named by their first and last words
  // ("roc-cam-B"), and "a b → c" and "a_b → c" slug alike: one file for two directions.
  TempDir out;
  const std::vector<BenchRow> rows = {{"cam A", "cam B", "c1", "v", 0, 1.0, 0, -1, -1, 0},
                                      {"cam C", "cam B", "c1", "v", 0, 1.0, 0, -1, -1, 0},
                                      {"a b", "c", "c1", "v", 0, 1.0, 0, -1, -1, 0},
                                      {"a_b", "c", "c1", "v", 0, 1.0, 0, -1, -1, 0}};
  for (const auto& r : rows)
    shiftad::test::writeFile(shiftad::lab::benchRunDir(out.path(), r) + "/test_scores.csv",
                             "label,score,path\n0,0.1,n1\n1,0.9,a1\n");
  const auto figures = shiftad::lab::rocFigures(out.path(), rows);
  ASSERT_EQ(figures.size(), 4u);
  EXPECT_EQ(figures[0].name, "roc-cam_A-cam_B");
  EXPECT_EQ(figures[1].name, "roc-cam_C-cam_B");
  EXPECT_EQ(figures[2].name, "roc-a_b-c");
  EXPECT_TRUE(std::regex_match(figures[3].name, std::regex("roc-a_b-c-[0-9a-f]{8}"))) << figures[3].name;
  // The same rows name the same files again (a report regenerated keeps its links).
  EXPECT_EQ(shiftad::lab::rocFigures(out.path(), rows)[3].name, figures[3].name);
}

TEST(Figures, ABenchRunFolderIsOneFolderPerNameInsideRunsWhateverTheNamesHold) {
  // A direction spelled ["../../data/source", target] kept its runs outside OUT.
  const auto parts = [](const BenchRow& r) {
    const auto rel = fs::path(shiftad::lab::benchRunDir("/out", r)).lexically_relative("/out/runs");
    return std::vector<std::string>(rel.begin(), rel.end());
  };
  BenchRow hostile{"../../data/source", "t", "..", "a/b", 3, 0.5, 0, -1, -1, 0};
  hostile.setting = "model.weights=../w";
  EXPECT_EQ(parts(hostile), (std::vector<std::string>{"model.weights=..%2Fw", "..%2F..%2Fdata%2Fsource-t", "%2E%2E",
                                                      "seed3", "a%2Fb"}));
  // One-to-one: a name holding the escape itself does not meet the escaped one.
  BenchRow percent = hostile;
  percent.variant = "a%2Fb";
  EXPECT_EQ(parts(percent).back(), "a%252Fb");
  // Ordinary names are the folders they always were.
  EXPECT_EQ(shiftad::lab::benchRunDir("/out", {"amazon", "webcam", "mug", "default", 0, 0.5, 0, -1, -1, 0}),
            "/out/runs/amazon-webcam/mug/seed0/default");
}
