#include "lab/Svg.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "lab/Tenths.h"

namespace shiftad::evaluation {
namespace {

// Tableau 10: ten hues a reader tells apart at a glance (the former Okabe-Ito set had
// eight, two of them near-black and yellow, so nine variants shared look-alike colours).
constexpr const char* kPalette[] = {"#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                                    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC"};
constexpr size_t kColours = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr const char* kDashes[] = {"", "7 3", "2 2", "9 3 2 3"};

constexpr double kW = 720, kH = 400;                                 // default canvas
constexpr double kLeft = 60, kRight = 210, kTop = 34, kBottom = 50;  // margins (legend on the right)
constexpr double kLabelRoom = 30;  // above the frame of a bar chart: value labels of the tallest bars
constexpr double kMinBar = 17;     // px per bar: room for a rotated value label

struct Frame {
  PlotSpec s;
  double w = kW, top = kTop;
  double px(double x) const {
    return kLeft + (std::clamp(x, s.xmin, s.xmax) - s.xmin) / (s.xmax - s.xmin) * (w - kLeft - kRight);
  }
  double py(double y) const {
    return kH - kBottom - (std::clamp(y, s.ymin, s.ymax) - s.ymin) / (s.ymax - s.ymin) * (kH - top - kBottom);
  }
};

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over [lo, hi].
double tickStep(double lo, double hi, int n) {
  const double raw = (hi - lo) / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

size_t styleOf(const Series& s, size_t position) { return s.style >= 0 ? static_cast<size_t>(s.style) : position; }

std::string open(const Frame& f, bool x_ticks) {
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      f.w, kH);
  o += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n", kLeft,
                   xmlEscape(f.s.title));
  // Tick values: rounded so that 0.6000000001 prints as 0.6, + 0.0 so that the first
  // tick of a range starting at 0 (ceil(-1e-9) = -0) does not print as "-0".
  const double ys = tickStep(f.s.ymin, f.s.ymax, 5);
  for (double y = std::ceil(f.s.ymin / ys - 1e-9) * ys; y <= f.s.ymax + 1e-9 * ys; y += ys)
    o += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
        kLeft, f.w - kRight, f.py(y), kLeft - 4, f.py(y) + 4, std::round(y * 1e6) / 1e6 + 0.0);
  if (x_ticks) {
    const double xs = tickStep(f.s.xmin, f.s.xmax, 6);
    for (double x = std::ceil(f.s.xmin / xs - 1e-9) * xs; x <= f.s.xmax + 1e-9 * xs; x += xs)
      o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n", f.px(x), kH - kBottom + 14,
                       std::round(x * 1e6) / 1e6 + 0.0);
  }
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", kLeft, f.top,
                   f.w - kLeft - kRight, kH - f.top - kBottom);
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (kLeft + f.w - kRight) / 2, kH - 12,
                   xmlEscape(f.s.xlabel));
  o += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (f.top + kH - kBottom) / 2, xmlEscape(f.s.ylabel));
  return o;
}

/// stroke-dasharray attribute of palette entry i ("" for a solid line).
std::string dashAttr(size_t i) { return seriesDash(i).empty() ? "" : " stroke-dasharray=\"" + seriesDash(i) + "\""; }

enum class Mark { line, box };

/// The legend, one entry per series in `order`; `suffix[i]` is appended to series i's label.
std::string legend(const Frame& f, const std::vector<Series>& series, const std::vector<size_t>& order, Mark mark,
                   const std::vector<std::string>& suffix = {}) {
  std::string o;
  const double x = f.w - kRight + 10;
  for (size_t row = 0; row < order.size(); ++row) {
    const size_t i = order[row], st = styleOf(series[i], i);
    const double y = f.top + 16 * static_cast<double>(row);
    if (mark == Mark::line)
      o += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"{}\"{}/>", x,
                       x + 20, y + 5, y + 5, seriesColour(st), series[i].emphasis ? 3.5 : 2, dashAttr(st));
    else
      o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"{}/>", x, y, seriesColour(st),
                       series[i].emphasis ? " stroke=\"#000\" stroke-width=\"1.5\"" : "");
    o += fmt::format("<text x=\"{}\" y=\"{}\"{}>{}</text>\n", x + (mark == Mark::line ? 26 : 14), y + 9,
                     series[i].emphasis ? " font-weight=\"bold\"" : "",
                     xmlEscape(series[i].label + (i < suffix.size() ? suffix[i] : "")));
  }
  return o;
}

std::vector<size_t> identity(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), size_t{0});
  return v;
}

std::string errorBar(double x, double y0, double y1, const std::string& c) {
  return fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>\n", x, y0, y1,
                     c);
}

}  // namespace

AxisRange niceRange(double lo, double hi, int ticks, double floor, double ceil) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo) return {std::max(0.0, floor), std::min(1.0, ceil)};
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {  // one value: a range around it
    const double d = lo == 0 ? 1 : 0.05 * std::abs(lo);
    lo -= d, hi += d;
  }
  const double step = tickStep(lo, hi, ticks);
  AxisRange r{std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step};
  r.lo = std::max(r.lo, floor), r.hi = std::min(r.hi, ceil);
  if (r.hi <= r.lo) r.hi = r.lo + step;  // data outside [floor, ceil]: still a valid axis
  return r;
}

AxisRange dataRange(const std::vector<Series>& series) {
  AxisRange r{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (const auto& s : series)
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (std::isnan(s.y[i])) continue;
      const double e = i < s.err.size() && !std::isnan(s.err[i]) ? s.err[i] : 0.0;
      r.lo = std::min(r.lo, s.y[i] - e), r.hi = std::max(r.hi, s.y[i] + e);
    }
  return r;
}

std::string seriesColour(size_t i) { return kPalette[i % kColours]; }

std::string seriesDash(size_t i) { return kDashes[(i / kColours) % (sizeof(kDashes) / sizeof(kDashes[0]))]; }

double areaUnder(const Series& s) {
  double a = 0;
  for (size_t j = 1; j < std::min(s.x.size(), s.y.size()); ++j) a += (s.x[j] - s.x[j - 1]) * (s.y[j] + s.y[j - 1]) / 2;
  return a;
}

std::string xmlEscape(const std::string& text) {
  std::string o;
  for (char c : text) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        // XML 1.0 has no C0 control character but tab, LF and CR, even as a reference:
        // one in a name (a class folder can be named so) would make the SVG unreadable.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          o += "\xEF\xBF\xBD";  // U+FFFD, the replacement character
        else
          o += c;
    }
  }
  return o;
}

std::string linePlot(const PlotSpec& spec, const std::vector<Series>& series) {
  const Frame f{spec};
  std::string o = open(f, true);
  if (spec.diagonal) {  // y = x over the part of it inside the frame
    const double a = std::max(spec.xmin, spec.ymin), b = std::min(spec.xmax, spec.ymax);
    if (b > a)
      o += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n",
          f.px(a), f.py(a), f.px(b), f.py(b));
  }
  // Emphasised series last, so that they are drawn on top.
  std::vector<size_t> draw = identity(series.size());
  std::stable_partition(draw.begin(), draw.end(), [&](size_t i) { return !series[i].emphasis; });
  for (size_t i : draw) {
    const auto& s = series[i];
    const size_t st = styleOf(s, i);
    const auto c = seriesColour(st);
    std::string pts;
    for (size_t j = 0; j < std::min(s.x.size(), s.y.size()); ++j)
      pts += fmt::format("{:.1f},{:.1f} ", f.px(s.x[j]), f.py(s.y[j]));
    o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} points=\"{}\"/>\n", c,
                     s.emphasis ? 3.5 : 1.8, dashAttr(st), pts);
    if (s.x.size() <= 30)
      for (size_t j = 0; j < std::min(s.x.size(), s.y.size()); ++j) {
        o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>\n", f.px(s.x[j]), f.py(s.y[j]),
                         s.emphasis ? 4 : 3, c);
        if (j < s.err.size() && s.err[j] > 0)
          o += errorBar(f.px(s.x[j]), f.py(s.y[j] - s.err[j]), f.py(s.y[j] + s.err[j]), c);
      }
  }
  std::vector<size_t> order = identity(series.size());
  std::vector<std::string> suffix;
  if (!spec.legend_metric.empty()) {
    std::vector<double> value;
    for (const auto& s : series) value.push_back(std::isnan(s.legend_value) ? areaUnder(s) : s.legend_value);
    for (double v : value) suffix.push_back(fmt::format(", {} {:.3f}", spec.legend_metric, v));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value[a] > value[b]; });
  }
  return o + legend(f, series, order, Mark::line, suffix) + "</svg>\n";
}

std::string scatterPlot(const PlotSpec& spec, const std::vector<Series>& groups) {
  const Frame f{spec};
  std::string o = open(f, true);
  for (size_t i = 0; i < groups.size(); ++i)
    for (size_t j = 0; j < std::min(groups[i].x.size(), groups[i].y.size()); ++j)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\" fill-opacity=\"0.7\"/>\n",
                       f.px(groups[i].x[j]), f.py(groups[i].y[j]), seriesColour(styleOf(groups[i], i)));
  return o + legend(f, groups, identity(groups.size()), Mark::box) + "</svg>\n";
}

std::string barChart(const PlotSpec& spec, const std::vector<std::string>& categories,
                     const std::vector<Series>& series) {
  const double groups = static_cast<double>(std::max<size_t>(1, categories.size()));
  const double per_group = static_cast<double>(std::max<size_t>(1, series.size()));
  // Bars fill 80% of a group; widen the canvas until each bar has kMinBar px.
  const double plot_w = std::max(kW - kLeft - kRight, groups * per_group * kMinBar / 0.8);
  const Frame f{spec, kLeft + plot_w + kRight, kTop + kLabelRoom};
  std::string o = open(f, false);
  const double group_w = plot_w / groups, bar_w = group_w * 0.8 / per_group;
  for (size_t c = 0; c < categories.size(); ++c) {
    const double x0 = kLeft + group_w * (static_cast<double>(c) + 0.1);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x0 + group_w * 0.4,
                     kH - kBottom + 14, xmlEscape(categories[c]));
    for (size_t i = 0; i < series.size(); ++i) {
      const auto& s = series[i];
      if (c >= s.y.size() || std::isnan(s.y[c])) continue;
      const size_t st = styleOf(s, i);
      const double x = x0 + bar_w * static_cast<double>(i), y = f.py(s.y[c]), mid = x + bar_w * 0.45;
      // Beyond the palette: the colour again, lighter and with a dashed outline.
      const std::string outline = s.emphasis ? " stroke=\"#000\" stroke-width=\"1.5\""
                                  : st >= kColours
                                      ? " fill-opacity=\"0.45\" stroke=\"" + seriesColour(st) + "\"" + dashAttr(st)
                                      : "";
      o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"{}/>\n", x, y,
                       bar_w * 0.9, f.py(spec.ymin) - y, seriesColour(st), outline);
      if (c < s.err.size() && s.err[c] > 0)
        o += errorBar(mid, f.py(s.y[c] - s.err[c]), f.py(s.y[c] + s.err[c]), "#333");
      // The value, read upwards from just above the bar; a white halo keeps it legible
      // where the error bar crosses it.
      o += fmt::format(
          "<text transform=\"translate({:.1f},{:.1f}) rotate(-90)\" font-size=\"10\" stroke=\"white\" "
          "stroke-width=\"3\" paint-order=\"stroke\"{}>{}</text>\n",
          mid + 3.5, y - 3, s.emphasis ? " font-weight=\"bold\"" : "", evaluation::percentText(s.y[c]));
    }
  }
  return o + legend(f, series, identity(series.size()), Mark::box) + "</svg>\n";
}

}  // namespace shiftad::evaluation
