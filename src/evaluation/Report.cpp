#include "evaluation/Report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "common/Error.h"
#include "evaluation/Metrics.h"
#include "evaluation/Svg.h"

namespace shiftad::evaluation {
namespace {

std::vector<std::string> splitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

/// Values keyed by (direction, variant) or (direction, class, variant), in first-seen order.
using Key = std::vector<std::string>;

std::string direction(const BenchRow& r) { return r.source + " → " + r.target; }

template <typename T, typename Get>
std::vector<T> uniqueInOrder(const std::vector<BenchRow>& rows, Get get) {
  std::vector<T> out;
  for (const auto& r : rows)
    if (std::find(out.begin(), out.end(), get(r)) == out.end()) out.push_back(get(r));
  return out;
}

std::string pct(const MeanStd& m) { return fmt::format("{:.1f} ± {:.1f}", 100 * m.mean, 100 * m.std); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// The lower end of an AUROC % axis: 40 unless a value (minus its error) is lower.
double axisFloor(const std::vector<Series>& series) {
  double lo = 40;
  for (const auto& s : series)
    for (size_t i = 0; i < s.y.size(); ++i)
      if (!std::isnan(s.y[i])) lo = std::min(lo, s.y[i] - (i < s.err.size() ? s.err[i] : 0.0));
  return std::max(0.0, std::floor(lo / 10) * 10);
}

constexpr const char* kOldHeader = "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds";

// ---- A small document model, rendered to Markdown and to HTML, so that both reports
// ---- say exactly the same thing.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  int heading = 0;       ///< 1-3: a heading with `text`
  std::string text;      ///< heading text, or a paragraph / bullet list in Markdown inline syntax
  Table table;           ///< used when header is non-empty
  const Figure* figure = nullptr;
};

using Doc = std::vector<Block>;

void heading(Doc& d, int level, const std::string& t) { d.push_back({level, t, {}, nullptr}); }
void para(Doc& d, const std::string& t) { d.push_back({0, t, {}, nullptr}); }
void table(Doc& d, Table t) { d.push_back({0, "", std::move(t), nullptr}); }
void figure(Doc& d, const Figure& f) { d.push_back({0, "", {}, &f}); }

std::string toMarkdown(const Doc& doc) {
  std::string md;
  for (const auto& b : doc) {
    if (b.heading) {
      md += std::string(static_cast<size_t>(b.heading), '#') + " " + b.text + "\n\n";
    } else if (b.figure) {
      md += fmt::format("![{0}](figures/{1}.svg)\n\n*{0}*\n\n", b.figure->caption, b.figure->name);
    } else if (!b.table.header.empty()) {
      md += "|";
      for (const auto& h : b.table.header) md += " " + h + " |";
      md += "\n|";
      for (size_t i = 0; i < b.table.header.size(); ++i) md += "---|";
      md += "\n";
      for (const auto& r : b.table.rows) {
        md += "|";
        for (const auto& c : r) md += " " + c + " |";
        md += "\n";
      }
      md += "\n";
    } else {
      md += b.text + (b.text.empty() || b.text.back() == '\n' ? "\n" : "\n\n");
    }
  }
  return md;
}

/// Markdown inline (`code`, **bold**) to HTML, escaping everything else.
std::string inlineHtml(const std::string& text) {
  std::string o;
  bool code = false, bold = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') {
      o += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && text.compare(i, 2, "**") == 0) {
      o += bold ? "</b>" : "<b>";
      bold = !bold;
      ++i;
    } else {
      o += xmlEscape(std::string(1, text[i]));
    }
  }
  return o;
}

std::string paragraphHtml(const std::string& text) {
  std::stringstream ss(text);
  std::string line, o;
  bool list = false;
  while (std::getline(ss, line)) {
    const bool item = line.rfind("- ", 0) == 0;
    if (item && !list) o += "<ul>\n";
    if (!item && list) o += "</ul>\n";
    list = item;
    if (item) o += "<li>" + inlineHtml(line.substr(2)) + "</li>\n";
    else if (!line.empty()) o += "<p>" + inlineHtml(line) + "</p>\n";
  }
  return o + (list ? "</ul>\n" : "");
}

std::string toHtml(const Doc& doc, const std::string& title) {
  std::string o = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + xmlEscape(title) +
                  "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
                  "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                  "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}code{background:#f3f3f3;padding:0 3px}"
                  "figure{margin:1em 0}figcaption{font-style:italic;color:#555}</style></head><body>\n";
  for (const auto& b : doc) {
    if (b.heading) {
      o += fmt::format("<h{0}>{1}</h{0}>\n", b.heading, inlineHtml(b.text));
    } else if (b.figure) {
      o += "<figure>\n" + b.figure->svg + "<figcaption>" + inlineHtml(b.figure->caption) + "</figcaption></figure>\n";
    } else if (!b.table.header.empty()) {
      o += "<table><tr>";
      for (const auto& h : b.table.header) o += "<th>" + inlineHtml(h) + "</th>";
      o += "</tr>\n";
      for (const auto& r : b.table.rows) {
        o += "<tr>";
        for (const auto& c : r) o += "<td>" + inlineHtml(c) + "</td>";
        o += "</tr>\n";
      }
      o += "</table>\n";
    } else {
      o += paragraphHtml(b.text);
    }
  }
  return o + "</body></html>\n";
}

// ---- The report's content.
struct Grid {
  std::vector<std::string> directions, variants;
  std::map<Key, std::vector<double>> by_dir, by_class, purity;
  std::map<std::string, std::vector<std::string>> classes_of;
};

Grid gridOf(const std::vector<BenchRow>& rows) {
  Grid g;
  for (const auto& r : rows) {
    if (!r.setting.empty()) continue;
    if (!contains(g.directions, direction(r))) g.directions.push_back(direction(r));
    if (!contains(g.variants, r.variant)) g.variants.push_back(r.variant);
    g.by_dir[{direction(r), r.variant}].push_back(r.auroc);
    g.by_class[{direction(r), r.normal_class, r.variant}].push_back(r.auroc);
    if (r.purity >= 0) g.purity[{direction(r), r.variant}].push_back(r.purity);
    auto& cl = g.classes_of[direction(r)];
    if (!contains(cl, r.normal_class)) cl.push_back(r.normal_class);
  }
  return g;
}

std::string cell(const std::map<Key, std::vector<double>>& m, const Key& k) {
  const auto it = m.find(k);
  return it == m.end() ? "–" : pct(meanStd(it->second));
}

void summarySection(Doc& doc, const Grid& g, const ReportInfo& info) {
  heading(doc, 2, "Summary: target AUROC %, mean ± std over classes and seeds");
  Table t{{"direction"}, {}};
  for (const auto& v : g.variants) t.header.push_back(v + (contains(info.upper_bounds, v) ? " (upper bound)" : ""));
  for (const auto& d : g.directions) {
    std::vector<std::string> r{d};
    for (const auto& v : g.variants) r.push_back(cell(g.by_dir, {d, v}));
    t.rows.push_back(r);
  }
  table(doc, t);
}

void verdictSection(Doc& doc, const Grid& g, const ReportInfo& info) {
  heading(doc, 2, "What wins where");
  std::string text;
  for (const auto& d : g.directions) {
    std::string best_trained, best_frozen;
    double bt = -1, bf = -1;
    for (const auto& v : g.variants) {
      const auto it = g.by_dir.find({d, v});
      if (it == g.by_dir.end() || contains(info.upper_bounds, v)) continue;
      const double m = meanStd(it->second).mean;
      if (contains(info.frozen_variants, v)) {
        if (m > bf) bf = m, best_frozen = v;
      } else if (m > bt) {
        bt = m, best_trained = v;
      }
    }
    if (best_trained.empty() || best_frozen.empty()) continue;
    text += fmt::format("- {}: best trained variant `{}` {:.1f}; best frozen baseline `{}` {:.1f}: {}\n", d,
                        best_trained, 100 * bt, best_frozen, 100 * bf,
                        bt > bf ? fmt::format("training wins by {:.1f} points", 100 * (bt - bf))
                                : fmt::format("**the frozen encoder wins** by {:.1f} points", 100 * (bf - bt)));
  }
  para(doc, text.empty() ? "No direction has both a trained variant and a frozen baseline." : text);
}

void paperSection(Doc& doc, const Grid& g, const ReportInfo& info) {
  // The paper's summary figures for directions of this suite, beside our mean for the
  // variant the method corresponds to.
  std::vector<const PaperFigure*> match;
  for (const auto& p : info.paper)
    if (p.suite == info.suite && p.normal_class == "mean") match.push_back(&p);
  if (match.empty()) return;
  heading(doc, 2, "The paper's published figures beside ours (mean AUROC %)");
  para(doc, "The paper's figures are copied from its tables (`suites/paper/auroc.csv`); its backbones (ResNet, CLIP) "
            "and training differ from this run's, so compare orderings, not decimals.");
  Table t{{"direction", "paper table", "paper method", "paper", "shiftad variant", "shiftad"}, {}};
  for (const auto* p : match) {
    const std::string d = p->source + " → " + p->target;
    t.rows.push_back({d, p->table, p->method, fmt::format("{:.2f}", p->auroc), p->variant.empty() ? "–" : "`" + p->variant + "`",
                      p->variant.empty() ? "–" : cell(g.by_dir, {d, p->variant})});
  }
  table(doc, t);
}

void sweepSection(Doc& doc, const std::vector<BenchRow>& rows, const ReportInfo& info) {
  std::map<std::string, std::map<Key, std::vector<double>>> by_key;  // key -> (value, variant) -> aurocs
  std::map<std::string, std::vector<std::string>> values, variants;
  for (const auto& r : rows) {
    if (r.setting.empty()) continue;
    const auto eq = r.setting.find('=');
    const auto key = r.setting.substr(0, eq), value = r.setting.substr(eq + 1);
    by_key[key][{value, r.variant}].push_back(r.auroc);
    if (!contains(values[key], value)) values[key].push_back(value);
    if (!contains(variants[key], r.variant)) variants[key].push_back(r.variant);
  }
  for (const auto& [key, m] : by_key) {
    heading(doc, 2, "Sweep of `" + key + "`: AUROC %, mean ± std over directions, classes and seeds");
    Table t{{key}, {}};
    for (const auto& v : variants[key]) t.header.push_back(v);
    for (const auto& x : values[key]) {
      std::vector<std::string> r{x};
      for (const auto& v : variants[key]) r.push_back(cell(m, {x, v}));
      t.rows.push_back(r);
    }
    table(doc, t);
    for (const auto& f : info.figures)
      if (f.name == "sweep-" + key) figure(doc, f);
  }
}

void perClassSection(Doc& doc, const Grid& g) {
  heading(doc, 2, "Per class: AUROC %, mean ± std over seeds");
  for (const auto& d : g.directions) {
    heading(doc, 3, d);
    Table t{{"class"}, {}};
    for (const auto& v : g.variants) t.header.push_back(v);
    for (const auto& c : g.classes_of.at(d)) {
      std::vector<std::string> r{c};
      for (const auto& v : g.variants) r.push_back(cell(g.by_class, {d, c, v}));
      t.rows.push_back(r);
    }
    table(doc, t);
  }
}

Doc reportDoc(const std::vector<BenchRow>& rows, const ReportInfo& info) {
  const Grid g = gridOf(rows);
  Doc doc;
  heading(doc, 1, "Benchmark report: " + info.title);
  para(doc, fmt::format("- Command: `{}`\n- Machine: {}\n- Wall time: {:.0f} s ({:.1f} min) in all, over the invocations "
                        "that produced these rows ({:.0f} s in the last)\n- Runs: {}\n",
                        info.command, info.machine, std::max(info.total_wall_seconds, info.wall_seconds),
                        std::max(info.total_wall_seconds, info.wall_seconds) / 60, info.wall_seconds, rows.size()));
  heading(doc, 2, "Protocol");
  para(doc, info.protocol);
  if (!g.directions.empty()) {
    summarySection(doc, g, info);
    verdictSection(doc, g, info);
    paperSection(doc, g, info);
  }
  sweepSection(doc, rows, info);
  bool figures_heading = false;
  for (const auto& f : info.figures) {
    if (f.name.rfind("sweep-", 0) == 0) continue;  // shown with its sweep
    if (!figures_heading) heading(doc, 2, "Figures");
    figures_heading = true;
    figure(doc, f);
  }
  if (!g.purity.empty()) {
    heading(doc, 2, "Dominant-set purity (diagnostic: share of true normals among the aligned pool samples)");
    Table t{{"direction", "variant", "purity %"}, {}};
    for (const auto& [k, v] : g.purity) t.rows.push_back({k[0], k[1], pct(meanStd(v))});
    table(doc, t);
  }
  if (!g.directions.empty()) perClassSection(doc, g);
  return doc;
}

}  // namespace

std::string csvHeader() { return std::string(kOldHeader) + ",setting"; }

std::string csvLine(const BenchRow& r) {
  for (const auto* s : {&r.source, &r.target, &r.normal_class, &r.variant, &r.setting})
    SHIFTAD_CHECK(s->find_first_of(",\n\"") == std::string::npos, "name '{}' cannot go into results.csv (comma or quote)", *s);
  return fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.4f},{:.4f},{:.2f},{}", r.source, r.target, r.normal_class, r.seed,
                     r.variant, r.auroc, r.aupr, r.purity, r.share, r.seconds, r.setting);
}

std::vector<BenchRow> readCsv(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  std::string line;
  std::getline(f, line);
  // Files written before sweeps existed have no setting column; they read as the main grid.
  const bool with_setting = line == csvHeader();
  SHIFTAD_CHECK(with_setting || line == kOldHeader, "'{}' is not a shiftad results.csv (header '{}')", path, line);
  const size_t fields = with_setting ? 11 : 10;
  std::vector<BenchRow> rows;
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const auto c = splitCsv(line);
    SHIFTAD_CHECK(c.size() == fields, "'{}' line {}: expected {} fields, got {}", path, n, fields, c.size());
    try {
      rows.push_back({c[0], c[1], c[2], c[4], std::stoi(c[3]), std::stod(c[5]), std::stod(c[6]), std::stod(c[7]),
                      std::stod(c[8]), std::stod(c[9]), with_setting ? c[10] : ""});
    } catch (const std::exception&) {
      SHIFTAD_THROW("'{}' line {}: a number field does not parse: {}", path, n, line);
    }
  }
  return rows;
}

std::vector<PaperFigure> readPaperFigures(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read the paper's figures '{}'", path);
  std::string line;
  std::getline(f, line);
  SHIFTAD_CHECK(line == "table,suite,source,target,class,method,variant,auroc", "'{}': unexpected header '{}'", path, line);
  std::vector<PaperFigure> out;
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const auto c = splitCsv(line);
    SHIFTAD_CHECK(c.size() == 8, "'{}' line {}: expected 8 fields, got {}", path, n, c.size());
    try {
      out.push_back({c[0], c[1], c[2], c[3], c[4], c[5], c[6], std::stod(c[7])});
    } catch (const std::exception&) {
      SHIFTAD_THROW("'{}' line {}: the AUROC does not parse: {}", path, n, line);
    }
  }
  return out;
}

std::vector<Figure> summaryFigures(const std::vector<BenchRow>& rows) {
  std::vector<Figure> out;
  const Grid g = gridOf(rows);
  if (!g.directions.empty()) {
    std::vector<Series> bars;
    for (const auto& v : g.variants) {
      Series s{v, {}, {}, {}};
      for (const auto& d : g.directions) {
        const auto it = g.by_dir.find({d, v});
        const auto m = it == g.by_dir.end() ? MeanStd{std::nan(""), 0} : meanStd(it->second);
        s.y.push_back(100 * m.mean);
        s.err.push_back(100 * m.std);
      }
      bars.push_back(s);
    }
    PlotSpec spec{"Target AUROC % by direction and variant (mean ± std)", "direction", "AUROC %", 0, 1, axisFloor(bars), 100, false};
    out.push_back({"summary", "Mean target AUROC per direction and variant; bars are ± one std over classes and seeds.",
                   barChart(spec, g.directions, bars)});
  }
  // Sweeps: x = the swept value (numeric), y = mean AUROC over everything else.
  std::map<std::string, std::map<std::string, std::map<double, std::vector<double>>>> sweeps;  // key, variant, x
  for (const auto& r : rows) {
    if (r.setting.empty()) continue;
    const auto eq = r.setting.find('=');
    // A non-numeric sweep (e.g. align.method) has a table but no plot. The whole value
    // must parse: stod alone reads "infonce" as inf.
    const auto text = r.setting.substr(eq + 1);
    double x = 0;
    size_t used = 0;
    try {
      x = std::stod(text, &used);
    } catch (const std::exception&) {
      continue;
    }
    if (used != text.size() || !std::isfinite(x)) continue;
    sweeps[r.setting.substr(0, eq)][r.variant][x].push_back(100 * r.auroc);
  }
  for (const auto& [key, by_variant] : sweeps) {
    std::vector<Series> lines;
    PlotSpec spec{"AUROC % against " + key, key, "AUROC %", 1e300, -1e300, 40, 100, false};
    for (const auto& [variant, pts] : by_variant) {
      Series s{variant, {}, {}, {}};
      for (const auto& [x, ys] : pts) {
        const auto m = meanStd(ys);
        s.x.push_back(x), s.y.push_back(m.mean), s.err.push_back(m.std);
        spec.xmin = std::min(spec.xmin, x), spec.xmax = std::max(spec.xmax, x);
      }
      lines.push_back(s);
    }
    if (spec.xmax <= spec.xmin) spec.xmax = spec.xmin + 1;
    spec.ymin = axisFloor(lines);
    out.push_back({"sweep-" + key, "Mean target AUROC as `" + key + "` varies (± one std over directions, classes and seeds).",
                   linePlot(spec, lines)});
  }
  return out;
}

std::string markdownReport(const std::vector<BenchRow>& rows, const ReportInfo& info) {
  return toMarkdown(reportDoc(rows, info));
}

std::string htmlReport(const std::vector<BenchRow>& rows, const ReportInfo& info) {
  return toHtml(reportDoc(rows, info), "shiftad: " + info.title);
}

}  // namespace shiftad::evaluation
