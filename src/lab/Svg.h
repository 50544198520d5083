// Plots as standalone SVG text, written by the project itself (no plotting package is
// needed to build or to open a report; browsers and GitHub render SVG). Torch-free.
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace shiftad::evaluation {

/// One line (or point set) of a plot. `err` (optional, same size as y) draws ± bars.
struct Series {
  std::string label;
  std::vector<double> x, y, err;
  int style = -1;         ///< palette entry (colour, then dash beyond the palette); -1: the series' position.
                          ///< Set it to keep one colour per name across figures that show different subsets.
  bool emphasis = false;  ///< drawn thicker (lines) or outlined (bars), on top, bold in the legend
  double legend_value = std::numeric_limits<double>::quiet_NaN();  ///< shown under PlotSpec::legend_metric;
                                                                   ///< NaN: the area under the polyline
};

struct PlotSpec {
  std::string title, xlabel, ylabel;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  bool diagonal = false;      ///< the y = x chance line (ROC plots)
  std::string legend_metric;  ///< non-empty (e.g. "AUROC"): each line's legend entry gets ", NAME 0.934", its
                              ///< legend_value or else its area under the curve (trapezoid), best first
};

/// Lines with markers, a legend, axes with ticks. Values outside the range are clamped
/// to its edge (fit the range to the data with niceRange).
std::string linePlot(const PlotSpec& spec, const std::vector<Series>& series);

/// Points only (x, y of each series), e.g. a 2-D projection of features.
std::string scatterPlot(const PlotSpec& spec, const std::vector<Series>& groups);

/// Grouped bars: one group per category, one bar per series (series[i].y[j] is the
/// value of series i in category j; err optional), each labelled with its value
/// (one decimal). x of the series is ignored; the bars rise from spec.ymin, so a
/// fitted range shows differences the full range would flatten. The canvas widens
/// with the number of bars so that each stays wide enough for its label.
std::string barChart(const PlotSpec& spec, const std::vector<std::string>& categories,
                     const std::vector<Series>& series);

/// An axis range holding [lo, hi]: widened to multiples of a "nice" tick step (1, 2 or
/// 5 × 10^k, giving about `ticks` ticks), then cut to [floor, ceil] (e.g. 0–100 for a
/// percentage). A single value gets a range around it.
struct AxisRange {
  double lo = 0, hi = 1;
};
AxisRange niceRange(double lo, double hi, int ticks = 5, double floor = -std::numeric_limits<double>::infinity(),
                    double ceil = std::numeric_limits<double>::infinity());

/// The smallest and largest y (minus / plus its err where given) over the series,
/// NaN skipped; {+inf, -inf} when there is none.
AxisRange dataRange(const std::vector<Series>& series);

/// Palette entry i: one of 10 clearly different colours (Tableau 10), and beyond them
/// the colours again with a dash pattern (SVG stroke-dasharray; "" for the first 10).
std::string seriesColour(size_t i);
std::string seriesDash(size_t i);

/// Area under a series' (x, y) polyline, trapezoid rule (x ascending).
double areaUnder(const Series& s);

/// Escape &, <, >, " for XML/HTML text; a C0 control character other than tab, LF and
/// CR (which XML cannot hold) becomes U+FFFD.
std::string xmlEscape(const std::string& text);

}  // namespace shiftad::evaluation
