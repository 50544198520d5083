#include "evaluation/Svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace shiftad::evaluation {
namespace {

// A colour-blind-safe palette (Okabe-Ito), cycled.
const char* colour(size_t i) {
  static const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                                   "#56B4E9", "#F0E442", "#000000", "#999999"};
  return kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

constexpr double kW = 720, kH = 400;                              // canvas
constexpr double kLeft = 60, kRight = 210, kTop = 34, kBottom = 50;  // margins (legend on the right)

struct Frame {
  PlotSpec s;
  double px(double x) const { return kLeft + (std::clamp(x, s.xmin, s.xmax) - s.xmin) / (s.xmax - s.xmin) * (kW - kLeft - kRight); }
  double py(double y) const { return kH - kBottom - (std::clamp(y, s.ymin, s.ymax) - s.ymin) / (s.ymax - s.ymin) * (kH - kTop - kBottom); }
};

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over [lo, hi].
double tickStep(double lo, double hi, int n) {
  const double raw = (hi - lo) / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string open(const Frame& f, bool x_ticks) {
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      kW, kH);
  o += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n", kLeft, xmlEscape(f.s.title));
  const double ys = tickStep(f.s.ymin, f.s.ymax, 5);
  for (double y = std::ceil(f.s.ymin / ys) * ys; y <= f.s.ymax + 1e-9; y += ys)
    o += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
                     kLeft, kW - kRight, f.py(y), kLeft - 4, f.py(y) + 4, std::round(y * 1e6) / 1e6);
  if (x_ticks) {
    const double xs = tickStep(f.s.xmin, f.s.xmax, 6);
    for (double x = std::ceil(f.s.xmin / xs) * xs; x <= f.s.xmax + 1e-9; x += xs)
      o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n", f.px(x), kH - kBottom + 14,
                       std::round(x * 1e6) / 1e6);
  }
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", kLeft, kTop,
                   kW - kLeft - kRight, kH - kTop - kBottom);
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (kLeft + kW - kRight) / 2, kH - 12,
                   xmlEscape(f.s.xlabel));
  o += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (kTop + kH - kBottom) / 2, xmlEscape(f.s.ylabel));
  return o;
}

std::string legend(const std::vector<Series>& series) {
  std::string o;
  for (size_t i = 0; i < series.size(); ++i)
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                     "<text x=\"{}\" y=\"{}\">{}</text>\n",
                     kW - kRight + 10, kTop + 16 * static_cast<double>(i), colour(i), kW - kRight + 24,
                     kTop + 9 + 16 * static_cast<double>(i), xmlEscape(series[i].label));
  return o;
}

std::string errorBar(double x, double y0, double y1, const char* c) {
  return fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>\n", x, y0, y1, c);
}

}  // namespace

std::string xmlEscape(const std::string& text) {
  std::string o;
  for (char c : text) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string linePlot(const PlotSpec& spec, const std::vector<Series>& series) {
  const Frame f{spec};
  std::string o = open(f, true);
  if (spec.diagonal)
    o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n",
                     f.px(spec.xmin), f.py(spec.ymin), f.px(spec.xmax), f.py(spec.ymax));
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    std::string pts;
    for (size_t j = 0; j < std::min(s.x.size(), s.y.size()); ++j) pts += fmt::format("{:.1f},{:.1f} ", f.px(s.x[j]), f.py(s.y[j]));
    o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", colour(i), pts);
    if (s.x.size() <= 30)
      for (size_t j = 0; j < std::min(s.x.size(), s.y.size()); ++j) {
        o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", f.px(s.x[j]), f.py(s.y[j]), colour(i));
        if (j < s.err.size()) o += errorBar(f.px(s.x[j]), f.py(s.y[j] - s.err[j]), f.py(s.y[j] + s.err[j]), colour(i));
      }
  }
  return o + legend(series) + "</svg>\n";
}

std::string scatterPlot(const PlotSpec& spec, const std::vector<Series>& groups) {
  const Frame f{spec};
  std::string o = open(f, true);
  for (size_t i = 0; i < groups.size(); ++i)
    for (size_t j = 0; j < std::min(groups[i].x.size(), groups[i].y.size()); ++j)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\" fill-opacity=\"0.7\"/>\n",
                       f.px(groups[i].x[j]), f.py(groups[i].y[j]), colour(i));
  return o + legend(groups) + "</svg>\n";
}

std::string barChart(const PlotSpec& spec, const std::vector<std::string>& categories, const std::vector<Series>& series) {
  const Frame f{spec};
  std::string o = open(f, false);
  const double group_w = (kW - kLeft - kRight) / std::max<size_t>(1, categories.size());
  const double bar_w = group_w * 0.8 / std::max<size_t>(1, series.size());
  for (size_t c = 0; c < categories.size(); ++c) {
    const double x0 = kLeft + group_w * (static_cast<double>(c) + 0.1);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x0 + group_w * 0.4,
                     kH - kBottom + 14, xmlEscape(categories[c]));
    for (size_t i = 0; i < series.size(); ++i) {
      if (c >= series[i].y.size() || std::isnan(series[i].y[c])) continue;
      const double x = x0 + bar_w * static_cast<double>(i), y = f.py(series[i].y[c]);
      o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x, y,
                       bar_w * 0.9, f.py(spec.ymin) - y, colour(i));
      if (c < series[i].err.size())
        o += errorBar(x + bar_w * 0.45, f.py(series[i].y[c] - series[i].err[c]), f.py(series[i].y[c] + series[i].err[c]), "#333");
    }
  }
  return o + legend(series) + "</svg>\n";
}

}  // namespace shiftad::evaluation
