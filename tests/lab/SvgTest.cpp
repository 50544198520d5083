// The report's plots (evaluation/Svg): axes fitted to the data, value labels on bars,
// areas in ROC legends, distinct colours, the emphasised series. Values are read back
// from the SVG text and compared with hand-checked numbers or with formulas computed
// here, independently of Svg.cpp.
#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lab/Svg.h"

namespace ev = shiftad::evaluation;

namespace {

/// The numbers of the y-axis tick labels (right-aligned texts left of the frame).
std::vector<double> yTicks(const std::string& svg) {
  std::vector<double> out;
  const std::regex re("text-anchor=\"end\">([-0-9.e]+)</text>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) out.push_back(std::stod((*it)[1]));
  return out;
}

/// All captures of `pattern`'s first group, in order.
std::vector<std::string> capturesOf(const std::string& svg, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

/// Trapezoid area under (x, y), written out here rather than calling ev::areaUnder.
double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double a = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) a += 0.5 * (x[i + 1] - x[i]) * (y[i] + y[i + 1]);
  return a;
}

}  // namespace

TEST(Svg, NiceRangeHoldsTheDataOnNiceTicksHandChecked) {
  // 97.1..99.8 spans 2.7: about 5 ticks gives step 1, so 97..100, far tighter than 0-100.
  auto r = ev::niceRange(97.1, 99.8, 5, 0, 100);
  EXPECT_DOUBLE_EQ(r.lo, 97);
  EXPECT_DOUBLE_EQ(r.hi, 100);
  // 0.234..0.876: step 0.2 (0.642 / 5 = 0.128 rounds up to 0.2), so 0.2..1.
  r = ev::niceRange(0.234, 0.876);
  EXPECT_NEAR(r.lo, 0.2, 1e-12);
  EXPECT_NEAR(r.hi, 1.0, 1e-12);
  // -3..7: step 2, so -4..8.
  r = ev::niceRange(-3, 7);
  EXPECT_DOUBLE_EQ(r.lo, -4);
  EXPECT_DOUBLE_EQ(r.hi, 8);
  // 95.5..100.4 would round out to 95..101; the ceiling cuts it at 100.
  r = ev::niceRange(95.5, 100.4, 5, 0, 100);
  EXPECT_DOUBLE_EQ(r.lo, 95);
  EXPECT_DOUBLE_EQ(r.hi, 100);
  // One value gets a range around it (±5% → 47.5..52.5 → step 1 → 47..53).
  r = ev::niceRange(50, 50);
  EXPECT_DOUBLE_EQ(r.lo, 47);
  EXPECT_DOUBLE_EQ(r.hi, 53);
  // A value on a tick stays the end of the range.
  r = ev::niceRange(90, 100, 5, 0, 100);
  EXPECT_DOUBLE_EQ(r.lo, 90);
  EXPECT_DOUBLE_EQ(r.hi, 100);
}

TEST(Svg, DataRangeCountsErrorBarsAndSkipsNaN) {
  const std::vector<ev::Series> s = {{"a", {}, {97.5, NAN}, {1.0, 3.0}}, {"b", {}, {99.0, 98.0}, {}}};
  const auto r = ev::dataRange(s);
  EXPECT_DOUBLE_EQ(r.lo, 96.5);  // 97.5 - 1
  EXPECT_DOUBLE_EQ(r.hi, 99.0);  // 97.5 + 1 = 98.5 < 99
}

TEST(Svg, BarChartHasAFittedAxisAndEveryValueOnItsBar) {
  const std::vector<ev::Series> bars = {
      {"source_only", {}, {97.7, 97.5}, {}}, {"align_all", {}, {99.7, 98.8}, {}}, {"oracle", {}, {99.8, 99.1}, {}}};
  ev::PlotSpec spec{"t", "direction", "AUROC %"};
  const auto r = ev::niceRange(97.5, 99.8, 5, 0, 100);
  spec.ymin = r.lo, spec.ymax = r.hi;
  const auto svg = ev::barChart(spec, {"a → b", "b → a"}, bars);
  const auto ticks = yTicks(svg);
  ASSERT_GE(ticks.size(), 3u) << svg;
  // The ticks hold every value and are tighter than the former fixed 40-100.
  EXPECT_LE(*std::min_element(ticks.begin(), ticks.end()), 97.5);
  EXPECT_GE(*std::max_element(ticks.begin(), ticks.end()), 99.8);
  EXPECT_GT(*std::min_element(ticks.begin(), ticks.end()), 90);
  // One value label per bar, one decimal, in the series' order.
  const auto labels = capturesOf(svg, "rotate\\(-90\\)\" font-size=\"10\"[^>]*>([0-9.]+)</text>");
  EXPECT_EQ(labels, (std::vector<std::string>{"97.7", "99.7", "99.8", "97.5", "98.8", "99.1"})) << svg;
}

TEST(Svg, BarChartWidensWithManyBarsAndDrawsNoZeroErrorBars) {
  std::vector<ev::Series> bars;
  for (int i = 0; i < 9; ++i) bars.push_back({"v" + std::to_string(i), {}, {90, 91, 92, 93}, {0, 0, 0, 0}});
  const auto svg = ev::barChart({"t", "x", "y", 0, 1, 80, 100}, {"a", "b", "c", "d"}, bars);
  const auto width = std::stod(capturesOf(svg, "<svg[^>]* width=\"([0-9.]+)\"").at(0));
  // 36 bars of at least 17 px in 80% of the plot, plus the 270 px of margins.
  EXPECT_GE(width, 36 * 17 / 0.8 + 270 - 1e-9);
  EXPECT_EQ(svg.find("stroke=\"#333\""), std::string::npos);  // std 0 (one run): no whisker
}

TEST(Svg, RocLegendGivesEachCurvesAreaSortedBestFirst) {
  // Hand-checked: (0,0) (0,.5) (.5,1) (1,1) has area .5·.75 + .5·1 = .875.
  const std::vector<ev::Series> curves = {
      {"weak", {0, 0.5, 1}, {0, 0.6, 1}},
      {"strong", {0, 0, 0.5, 1}, {0, 0.5, 1, 1}},
      {"chance", {0, 1}, {0, 1}},
  };
  EXPECT_DOUBLE_EQ(trapezoid(curves[1].x, curves[1].y), 0.875);
  ev::PlotSpec spec{"ROC", "fpr", "tpr", 0, 1, 0, 1, true, "AUROC"};
  const auto svg = ev::linePlot(spec, curves);
  std::vector<std::pair<double, std::string>> by_area;
  for (const auto& c : curves) {
    const double a = trapezoid(c.x, c.y);
    char text[64];
    std::snprintf(text, sizeof text, "%s, AUROC %.3f</text>", c.label.c_str(), a);
    EXPECT_NE(svg.find(text), std::string::npos) << text << "\n" << svg;
    by_area.push_back({-a, text});
  }
  EXPECT_EQ(svg.find(">-0</text>"), std::string::npos) << "a tick at 0 printed as -0";
  std::sort(by_area.begin(), by_area.end());
  for (size_t i = 1; i < by_area.size(); ++i)
    EXPECT_LT(svg.find(by_area[i - 1].second), svg.find(by_area[i].second)) << "legend not sorted by area";
}

TEST(Svg, LegendShowsAGivenValueInsteadOfTheArea) {
  // A given legend value (the runs' mean AUROC) replaces the area under the drawn curve.
  std::vector<ev::Series> curves = {{"a", {0, 1}, {0, 1}}, {"b", {0, 0, 1}, {0, 1, 1}}};
  curves[0].legend_value = 0.8127;
  const auto svg = ev::linePlot({"ROC", "fpr", "tpr", 0, 1, 0, 1, true, "AUROC"}, curves);
  EXPECT_NE(svg.find(">a, AUROC 0.813</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">b, AUROC 1.000</text>"), std::string::npos) << svg;
  EXPECT_LT(svg.find(">b, AUROC"), svg.find(">a, AUROC"));  // best first
}

TEST(Svg, TenSeriesGetTenClearlyDifferentColoursThenDashes) {
  std::set<std::string> seen;
  for (size_t i = 0; i < 10; ++i) {
    const auto c = ev::seriesColour(i);
    ASSERT_EQ(c.size(), 7u);
    EXPECT_TRUE(ev::seriesDash(i).empty());
    for (const auto& other : seen) {
      // Euclidean RGB distance: the closest pair of Tableau 10 (purple, grey) is 56 of 441.
      double d2 = 0;
      for (int k = 1; k < 7; k += 2) {
        const double a = std::stoi(c.substr(k, 2), nullptr, 16), b = std::stoi(other.substr(k, 2), nullptr, 16);
        d2 += (a - b) * (a - b);
      }
      EXPECT_GT(std::sqrt(d2), 50) << c << " vs " << other;
    }
    seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 10u);
  // Beyond ten the colours repeat, told apart by a dash pattern.
  EXPECT_EQ(ev::seriesColour(10), ev::seriesColour(0));
  EXPECT_FALSE(ev::seriesDash(10).empty());
  // In a plot: the first ten polylines have ten colours, the eleventh is dashed.
  std::vector<ev::Series> lines;
  for (int i = 0; i < 11; ++i) lines.push_back({"s" + std::to_string(i), {0, 1}, {0, 0.1 * i}});
  const auto svg = ev::linePlot({"t", "x", "y"}, lines);
  const auto strokes = capturesOf(svg, "<polyline fill=\"none\" stroke=\"(#[0-9A-F]{6})\"");
  ASSERT_EQ(strokes.size(), 11u);
  EXPECT_EQ(std::set<std::string>(strokes.begin(), strokes.begin() + 10).size(), 10u);
  EXPECT_EQ(capturesOf(svg, "<polyline[^>]*stroke-dasharray=\"([0-9 ]+)\"").size(), 1u);
}

TEST(Svg, StyleKeepsAColourAcrossPlotsAndEmphasisDrawsOnTop) {
  // A series with style 3 takes palette entry 3 whatever its position.
  const std::vector<ev::Series> lines = {{"rec", {0, 1}, {0, 1}, {}, 3, true}, {"other", {0, 1}, {1, 0}, {}, 0, false}};
  const auto svg = ev::linePlot({"t", "x", "y"}, lines);
  const auto strokes = capturesOf(svg, "<polyline fill=\"none\" stroke=\"(#[0-9A-F]{6})\"");
  // The emphasised series is drawn last (on top), thicker, and bold in the legend.
  EXPECT_EQ(strokes, (std::vector<std::string>{ev::seriesColour(0), ev::seriesColour(3)}));
  const auto widths = capturesOf(svg, "<polyline[^>]*stroke-width=\"([0-9.]+)\"");
  ASSERT_EQ(widths.size(), 2u);
  EXPECT_GT(std::stod(widths[1]), std::stod(widths[0]));
  EXPECT_NE(svg.find("font-weight=\"bold\">rec</text>"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("font-weight=\"bold\">other</text>"), std::string::npos);
}

TEST(Svg, DiagonalStaysInsideAFittedFrame) {
  // With TPR fitted to 0.6..1 the chance line runs from (0.6, 0.6) to (1, 1): its left
  // end sits on the frame's bottom edge, not clamped into a horizontal run from x = 0.
  const auto svg = ev::linePlot({"t", "x", "y", 0, 1, 0.6, 1, true}, {});
  const auto x1 = std::stod(
      capturesOf(svg, "<line x1=\"([0-9.]+)\" y1=\"[0-9.]+\" x2=\"[0-9.]+\" y2=\"[0-9.]+\" stroke=\"#999\"").at(0));
  // Plot area: x 60..510 px; 0.6 of it is 60 + 0.6 · 450 = 330.
  EXPECT_NEAR(x1, 330, 0.05);
}

TEST(Svg, TextIsEscaped) {
  EXPECT_EQ(ev::xmlEscape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
  const auto svg = ev::scatterPlot({"x < y", "a", "b"}, {{"p&q", {0.5}, {0.5}}});
  EXPECT_NE(svg.find("x &lt; y"), std::string::npos);
  EXPECT_NE(svg.find("p&amp;q"), std::string::npos);
  EXPECT_EQ(svg.find("p&q"), std::string::npos);
}
