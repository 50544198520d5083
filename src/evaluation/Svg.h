// Plots as standalone SVG text, written by the project itself (no plotting package is
// needed to build or to open a report; browsers and GitHub render SVG). Torch-free.
#pragma once

#include <string>
#include <vector>

namespace shiftad::evaluation {

/// One line (or point set) of a plot. `err` (optional, same size as y) draws ± bars.
struct Series {
  std::string label;
  std::vector<double> x, y, err;
};

struct PlotSpec {
  std::string title, xlabel, ylabel;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  bool diagonal = false;  ///< the y = x chance line (ROC plots)
};

/// Lines with markers, a legend, axes with ticks. Values outside the range are clipped.
std::string linePlot(const PlotSpec& spec, const std::vector<Series>& series);

/// Points only (x, y of each series), e.g. a 2-D projection of features.
std::string scatterPlot(const PlotSpec& spec, const std::vector<Series>& groups);

/// Grouped bars: one group per category, one bar per series (series[i].y[j] is the
/// value of series i in category j; err optional). x of the series is ignored.
std::string barChart(const PlotSpec& spec, const std::vector<std::string>& categories, const std::vector<Series>& series);

/// Escape &, <, >, " for XML/HTML text.
std::string xmlEscape(const std::string& text);

}  // namespace shiftad::evaluation
