#include "lab/Report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/Csv.h"
#include "common/Error.h"
#include "common/Number.h"
#include "common/Log.h"
#include "evaluation/Decision.h"
#include "evaluation/Metrics.h"
#include "lab/Svg.h"
#include "lab/Tenths.h"

namespace shiftad::evaluation {
namespace {

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

/// The mean of AUROCs (or rates) in percent as a report shows it, in tenths (Tenths.h):
/// what its cells show, its bold marks and ranks compare.
long shownMean(const std::vector<double>& v) { return shownTenths(100 * meanStd(v).mean); }

/// Mean ± std in percent (meanStdCell).
std::string pct(const std::vector<double>& v) {
  const auto m = meanStd(v);
  return meanStdCell(100 * m.mean, 100 * m.std, v.size());
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// An AUROC % axis fitted to the series' values and error bars, inside 0–100. With
/// `bars`, the low end is pushed down a little so that the lowest bar stays visible.
void fitPercentAxis(PlotSpec& spec, const std::vector<Series>& series, bool bars) {
  const auto d = dataRange(series);
  const double pad = bars ? 0.08 * std::max(d.hi - d.lo, 1.0) : 0.0;
  const auto r = niceRange(d.lo - pad, d.hi, 5, 0, 100);
  spec.ymin = r.lo, spec.ymax = r.hi;
}

constexpr const char* kOldHeader =
    "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds";
/// Added with the label-free threshold (issue 20); empty in rows from older files.
constexpr const char* kThresholdColumns = "f1,f1_max,precision,recall,fpr";
/// Added with the default variant (issue 17); empty in rows from older files.
constexpr const char* kContaminationColumns = "contamination_estimate,contamination";

// ---- A small document model, rendered to Markdown and to HTML, so that both reports
// ---- say exactly the same thing.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  int heading = 0;   ///< 1-3: a heading with `text`
  std::string text;  ///< heading text, or a paragraph / bullet list in Markdown inline syntax
  Table table;       ///< used when header is non-empty
  const Figure* figure = nullptr;
};

using Doc = std::vector<Block>;

void heading(Doc& d, int level, const std::string& t) { d.push_back({level, t, {}, nullptr}); }
void para(Doc& d, const std::string& t) { d.push_back({0, t, {}, nullptr}); }
void table(Doc& d, Table t) { d.push_back({0, "", std::move(t), nullptr}); }
void figure(Doc& d, const Figure& f) { d.push_back({0, "", {}, &f}); }

// literal() spans: between these two control characters, which literal() removes from
// the text it marks.
constexpr char kLiteralOpen = '\x0e', kLiteralClose = '\x0f';
constexpr char kCodeOpen = '\x10', kCodeClose = '\x11';

/// A code span of Markdown holding `code` as it is: a fence longer than its longest run of
/// backticks, and a space inside the fence where `code` starts or ends with one.
std::string markdownCode(const std::string& code) {
  size_t longest = 0, run = 0;
  for (char c : code) longest = std::max(longest, run = c == '`' ? run + 1 : 0);
  const std::string fence(longest + 1, '`');
  const bool pad = !code.empty() && (code.front() == '`' || code.back() == '`');
  return fence + (pad ? " " : "") + code + (pad ? " " : "") + fence;
}

/// The Markdown of one character of a literal span: punctuation Markdown reads as markup
/// backslash-escaped, HTML's characters as entities.
std::string markdownChar(char c) {
  if (c == '&') return "&amp;";
  if (c == '<') return "&lt;";
  if (c == '>') return "&gt;";
  if (std::string_view("\\`*_|[]#~!").find(c) != std::string_view::npos) return std::string("\\") + c;
  return std::string(1, c);
}

/// Doc text as Markdown: literal spans escaped, the rest (the report's own markup) as it is.
std::string markdownText(const std::string& text) {
  std::string o;
  bool in_literal = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == kCodeOpen) {
      const auto end = std::min(text.find(kCodeClose, i), text.size());
      o += markdownCode(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == kLiteralOpen || c == kLiteralClose) {
      in_literal = c == kLiteralOpen;
    } else {
      o += in_literal ? markdownChar(c) : std::string(1, c);
    }
  }
  return o;
}

std::string toMarkdown(const Doc& doc) {
  std::string md;
  for (const auto& b : doc) {
    if (b.heading) {
      md += std::string(static_cast<size_t>(b.heading), '#') + " " + markdownText(b.text) + "\n\n";
    } else if (b.figure) {
      md += fmt::format("![{0}](figures/{1}.svg)\n\n*{0}*\n\n", markdownText(b.figure->caption), b.figure->name);
    } else if (!b.table.header.empty()) {
      md += "|";
      for (const auto& h : b.table.header) md += " " + markdownText(h) + " |";
      md += "\n|";
      for (size_t i = 0; i < b.table.header.size(); ++i) md += "---|";
      md += "\n";
      for (const auto& r : b.table.rows) {
        md += "|";
        for (const auto& c : r) md += " " + markdownText(c) + " |";
        md += "\n";
      }
      md += "\n";
    } else {
      md += markdownText(b.text) + (b.text.empty() || b.text.back() == '\n' ? "\n" : "\n\n");
    }
  }
  return md;
}

/// Markdown inline (`code`, **bold**) to HTML, escaping everything else; a literal span
/// as text.
std::string inlineHtml(const std::string& text) {
  std::string o;
  bool code = false, bold = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == kLiteralOpen || text[i] == kCodeOpen) {
      const bool as_code = text[i] == kCodeOpen;
      const auto end = text.find(as_code ? kCodeClose : kLiteralClose, i);
      const auto shown = xmlEscape(text.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1));
      o += as_code ? "<code>" + shown + "</code>" : shown;
      if (end == std::string::npos) break;
      i = end;
    } else if (text[i] == '`') {
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
    if (item)
      o += "<li>" + inlineHtml(line.substr(2)) + "</li>\n";
    else if (!line.empty())
      o += "<p>" + inlineHtml(line) + "</p>\n";
  }
  return o + (list ? "</ul>\n" : "");
}

std::string toHtml(const Doc& doc, const std::string& title) {
  std::string o =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + xmlEscape(title) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
      "table{border-collapse:collapse;margin:1em 0;font-size:0.9em;display:block;overflow-x:auto}"
      "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}"
      "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}code{background:#f3f3f3;padding:0 3px}"
      "figure{margin:1em 0}figure "
      "svg{max-width:100%;height:auto}figcaption{font-style:italic;color:#555}</style></head><body>\n";
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
  std::vector<int> seeds;
  std::map<Key, std::vector<double>> by_dir, by_class, purity;
  std::map<std::string, std::vector<std::string>> classes_of;
};

Grid gridOf(const std::vector<BenchRow>& rows) {
  Grid g;
  for (const auto& r : rows) {
    if (!r.setting.empty()) continue;
    if (!contains(g.directions, direction(r))) g.directions.push_back(direction(r));
    if (!contains(g.variants, r.variant)) g.variants.push_back(r.variant);
    if (std::find(g.seeds.begin(), g.seeds.end(), r.seed) == g.seeds.end()) g.seeds.push_back(r.seed);
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
  return it == m.end() ? "–" : pct(it->second);
}

/// A variant's column header: tagged when it is the recommended one or an upper bound.
std::string columnHeader(const std::string& v, const ReportInfo& info) {
  return variantLabel(v, info.recommended) +
         (!info.recommended.empty() && v == info.recommended ? " (recommended)" : "") +
         (contains(info.upper_bounds, v) ? " (upper bound)" : "");
}

/// A table row: `first`, then one cell per variant (values at `prefix` + variant). The
/// row's best mean among the variants that compete (not upper bounds) is bold, every
/// variant tied with it at the shown decimal too, when at least two compete.
std::vector<std::string> markedRow(const std::string& first, const std::map<Key, std::vector<double>>& m,
                                   const Key& prefix, const std::vector<std::string>& variants,
                                   const ReportInfo& info) {
  std::vector<std::string> r{first};
  std::vector<long> shown(variants.size(), -1);  // mean in tenths of a percent, as displayed; -1: none / upper bound
  long best = -1;
  int competing = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    Key k = prefix;
    k.push_back(variants[i]);
    r.push_back(cell(m, k));
    const auto it = m.find(k);
    if (it == m.end() || contains(info.upper_bounds, variants[i])) continue;
    shown[i] = shownMean(it->second);
    best = std::max(best, shown[i]);
    ++competing;
  }
  for (size_t i = 0; i < variants.size(); ++i)
    if (competing >= 2 && shown[i] == best) r[i + 1] = "**" + r[i + 1] + "**";
  return r;
}

/// What the marks of a table with these variants mean (★ only where it appears).
std::string markLegend(const ReportInfo& info, const std::vector<std::string>& variants) {
  return "**Bold**: the best variant of the row (upper bounds excluded), compared as shown (one decimal)." +
         (contains(variants, info.recommended) ? " ★: the suite's recommended variant, `" + info.recommended + "`."
                                               : std::string()) +
         " ±: the standard deviation of the cell's runs with divisor n, their number (not n − 1); a cell of one run "
         "shows its value alone.";
}

void summarySection(Doc& doc, const Grid& g, const ReportInfo& info) {
  heading(doc, 2, "Summary: target AUROC %, mean ± std over classes and seeds");
  para(doc, markLegend(info, g.variants));
  Table t{{"direction"}, {}};
  for (const auto& v : g.variants) t.header.push_back(columnHeader(v, info));
  for (const auto& d : g.directions) t.rows.push_back(markedRow(literal(d), g.by_dir, {d}, g.variants, info));
  table(doc, t);
}

/// "rank among the variants: best of 7" (or "rank 3 of 7, 1.2 below the best"): where the
/// recommended variant stands among the competing variants of direction d, compared at
/// the shown decimal like the bold marks of the tables (a tie shares the best rank).
std::string recommendedRank(const Grid& g, const ReportInfo& info, const std::string& d) {
  const auto mine = g.by_dir.find({d, info.recommended});
  if (info.recommended.empty() || mine == g.by_dir.end()) return "";
  const long m = shownMean(mine->second);
  long best = m;
  int rank = 1, n = 0;
  for (const auto& v : g.variants) {
    const auto it = g.by_dir.find({d, v});
    if (it == g.by_dir.end() || contains(info.upper_bounds, v)) continue;
    const long x = shownMean(it->second);
    ++n;
    rank += x > m;
    best = std::max(best, x);
  }
  const auto where = rank == 1 ? fmt::format("best of {}", n)
                               : fmt::format("rank {} of {}, {} below the best", rank, n, tenthsText(best - m));
  return "rank among the variants: " + where;
}

/// The best mean of direction d among the competing variants that `pick` accepts ("" none).
template <typename Pick>
std::pair<std::string, double> bestOf(const Grid& g, const ReportInfo& info, const std::string& d, Pick pick) {
  std::pair<std::string, double> best{"", -1.0};
  for (const auto& v : g.variants) {
    const auto it = g.by_dir.find({d, v});
    if (it == g.by_dir.end() || contains(info.upper_bounds, v) || !pick(v)) continue;
    if (const double m = meanStd(it->second).mean; m > best.second) best = {v, m};
  }
  return best;
}

/// "`V` 79.9 (+4.3)": a reference variant's mean and how far `mine` is above it, as shown.
std::string against(const std::pair<std::string, double>& ref, double mine) {
  return fmt::format("`{}` {} ({})", ref.first, percentText(100 * ref.second),
                     gapText(shownTenths(100 * mine) - shownTenths(100 * ref.second)));
}

/// "training wins by 1.2 points", "a tie at the shown decimal" or "**the frozen encoder
/// wins** by 0.3 points": the best trained mean against the best frozen one, as shown.
std::string trainedAgainstFrozen(double trained, double frozen) {
  const long gap = shownTenths(100 * trained) - shownTenths(100 * frozen);
  if (gap == 0) return "a tie at the shown decimal";
  return gap > 0 ? fmt::format("training wins by {} points", tenthsText(gap))
                 : fmt::format("**the frozen encoder wins** by {} points", tenthsText(-gap));
}

/// The label-free recommendation first (against the frozen baselines and source-only, the
/// choices a user makes without target labels), then the best trained variant, which is
/// picked after the fact with the test labels and so is no method a user could run.
std::string verdictLine(const Grid& g, const ReportInfo& info, const std::string& d) {
  const auto frozen = [&](const std::string& v) { return contains(info.frozen_variants, v); };
  const auto bf = bestOf(g, info, d, frozen);
  const auto bt = bestOf(g, info, d, [&](const std::string& v) { return !frozen(v); });
  std::vector<std::string> parts;
  if (const auto mine = g.by_dir.find({d, info.recommended}); !info.recommended.empty() && mine != g.by_dir.end()) {
    const double m = meanStd(mine->second).mean;
    std::vector<std::string> refs;
    if (!bf.first.empty()) refs.push_back("the best frozen baseline " + against(bf, m));
    if (const auto so = bestOf(g, info, d, [](const std::string& v) { return v == "source_only"; }); !so.first.empty())
      refs.push_back(against(so, m));
    parts.push_back(fmt::format("recommended `{}` {}{}", info.recommended, percentText(100 * m),
                                refs.empty() ? "" : fmt::format(", against {}", fmt::join(refs, " and "))));
    parts.push_back(recommendedRank(g, info, d));
  }
  if (!bt.first.empty() && !bf.first.empty())
    parts.push_back(fmt::format(
        "best trained variant, picked after the fact with the test labels: `{}` {}; best frozen baseline `{}` "
        "{}: {}",
        bt.first, percentText(100 * bt.second), bf.first, percentText(100 * bf.second),
        trainedAgainstFrozen(bt.second, bf.second)));
  return parts.empty() ? "" : "- " + literal(d) + ": " + fmt::format("{}", fmt::join(parts, "; ")) + "\n";
}

void verdictSection(Doc& doc, const Grid& g, const ReportInfo& info) {
  heading(doc, 2, "What wins where");
  std::string text;
  for (const auto& d : g.directions) text += verdictLine(g, info, d);
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
  para(doc,
       "The paper's figures are copied from its tables (`suites/paper/auroc.csv`); its backbones (ResNet, CLIP) "
       "and training differ from this run's, so compare orderings, not decimals.");
  Table t{{"direction", "paper table", "paper method", "paper", "shiftad variant", "shiftad"}, {}};
  for (const auto* p : match) {
    const std::string d = p->source + " → " + p->target;
    t.rows.push_back({literal(d), literal(p->table), literal(p->method), fmt::format("{:.2f}", p->auroc),
                      p->variant.empty() ? "–" : "`" + p->variant + "`",
                      p->variant.empty() ? "–" : cell(g.by_dir, {d, p->variant})});
  }
  table(doc, t);
}

/// One swept key's AUROC per (value, variant), over every direction or over one.
struct SweepGrid {
  std::map<Key, std::vector<double>> by_value;  ///< (value, variant) -> aurocs
  std::vector<std::string> values, variants;    ///< first-seen order
};

/// "+1.2": the recommended variant's mean minus the best other competing variant's, at one
/// value of the sweep; "–" when either is missing.
std::string recommendedMargin(const SweepGrid& s, const std::string& value, const ReportInfo& info) {
  const auto mine = s.by_value.find({value, info.recommended});
  if (mine == s.by_value.end()) return "–";
  double best = -1;
  for (const auto& v : s.variants)
    if (const auto it = s.by_value.find({value, v});
        v != info.recommended && it != s.by_value.end() && !contains(info.upper_bounds, v))
      best = std::max(best, meanStd(it->second).mean);
  return best < 0 ? "–" : gapText(shownMean(mine->second) - shownTenths(100 * best));
}

/// The sweep's table; with the recommended variant among its columns, a last column of
/// its margin over the best other variant (what choosing it costs against the best fixed
/// choice made knowing the swept value).
void sweepTable(Doc& doc, const std::string& key, const SweepGrid& s, const ReportInfo& info) {
  const bool margin = contains(s.variants, info.recommended) && s.variants.size() >= 2;
  Table t{{literal(key)}, {}};
  for (const auto& v : s.variants) t.header.push_back(columnHeader(v, info));
  if (margin) t.header.push_back("★ − best other");
  for (const auto& x : s.values) {
    t.rows.push_back(markedRow(literal(x), s.by_value, {x}, s.variants, info));
    if (margin) t.rows.back().push_back(recommendedMargin(s, x, info));
  }
  table(doc, t);
}

void sweepSection(Doc& doc, const std::vector<BenchRow>& rows, const ReportInfo& info) {
  std::map<std::string, SweepGrid> all;                                   // key -> over every direction
  std::map<std::string, std::map<std::string, SweepGrid>> per_direction;  // key -> direction -> grid
  const auto add = [](SweepGrid& s, const std::string& value, const BenchRow& r) {
    s.by_value[{value, r.variant}].push_back(r.auroc);
    if (!contains(s.values, value)) s.values.push_back(value);
    if (!contains(s.variants, r.variant)) s.variants.push_back(r.variant);
  };
  for (const auto& r : rows) {
    if (r.setting.empty()) continue;
    const auto eq = r.setting.find('=');
    const auto key = r.setting.substr(0, eq), value = r.setting.substr(eq + 1);
    add(all[key], value, r);
    add(per_direction[key][direction(r)], value, r);
  }
  for (const auto& [key, s] : all) {
    heading(doc, 2, "Sweep of `" + key + "`: AUROC %, mean ± std over directions, classes and seeds");
    para(doc, markLegend(info, s.variants) +
                  (contains(s.variants, info.recommended)
                       ? " ★ − best other: the recommended variant's mean minus the best other variant's (upper "
                         "bounds excluded) at that value."
                       : ""));
    sweepTable(doc, key, s, info);
    for (const auto& f : info.figures)
      if (f.name == "sweep-" + key) figure(doc, f);
    const auto& by_dir = per_direction[key];
    if (by_dir.size() < 2) continue;
    for (const auto& d : uniqueInOrder<std::string>(rows, direction)) {
      if (const auto it = by_dir.find(d); it != by_dir.end()) {
        heading(doc, 3, literal(d) + " (mean ± std over classes and seeds)");
        sweepTable(doc, key, it->second, info);
      }
    }
  }
}

/// The rates at the label-free threshold of every (direction, variant) of the main grid,
/// in first-seen order; rows of an older results.csv (no threshold columns) are left out.
struct DecisionRates {
  std::vector<Key> keys;
  std::map<Key, std::vector<double>> f1, f1_max, precision, recall, fpr;
  std::map<Key, size_t> runs;  ///< precision holds only the runs that called an image anomalous
};

DecisionRates decisionRates(const std::vector<BenchRow>& rows) {
  DecisionRates d;
  for (const auto& r : rows) {
    if (!r.setting.empty() || std::isnan(r.f1)) continue;
    const Key k{direction(r), r.variant};
    if (std::find(d.keys.begin(), d.keys.end(), k) == d.keys.end()) d.keys.push_back(k);
    d.f1[k].push_back(r.f1), d.f1_max[k].push_back(r.f1_max);
    d.recall[k].push_back(r.recall), d.fpr[k].push_back(r.fpr);
    ++d.runs[k];
    // Precision of 0/0 (`eval` prints it as undefined; results.csv holds 0): averaged in,
    // it read as wrong calls.
    if (evaluation::calledAnyAnomalous(r.recall, r.fpr)) d.precision[k].push_back(r.precision);
  }
  return d;
}

/// "recommended `V`: mean F1 x, mean F1-max y over its runs: z of it (goal 0.9: met)".
std::string decisionVerdict(const DecisionRates& d, const std::string& recommended) {
  std::vector<double> f1, f1_max;
  for (const auto& k : d.keys)
    if (k[1] == recommended)
      f1.insert(f1.end(), d.f1.at(k).begin(), d.f1.at(k).end()),
          f1_max.insert(f1_max.end(), d.f1_max.at(k).begin(), d.f1_max.at(k).end());
  if (f1.empty()) return "";
  const double a = meanStd(f1).mean, b = meanStd(f1_max).mean, ratio = b > 0 ? a / b : 0.0;
  return fmt::format(
      "Recommended `{}`, over its {} runs: mean F1 {} at the threshold, mean F1-max {}: {:.3f} of it; the "
      "goal is at least 0.9: {}.",
      recommended, f1.size(), percentText(100 * a), percentText(100 * b), ratio,
      ratio >= 0.9 ? "met" : fmt::format("**short by {} F1 points**", percentText(100 * (0.9 * b - a))));
}

void decisionSection(Doc& doc, const std::vector<BenchRow>& rows, const ReportInfo& info) {
  const auto d = decisionRates(rows);
  if (d.keys.empty()) return;
  heading(doc, 2, "Decisions at the label-free threshold: %, mean ± std over classes and seeds");
  para(doc,
       "Precision, recall, F1 and false-positive rate of calling an image anomalous when its score is above the "
       "threshold that training set without target labels (`threshold.rule`, docs/method.md); anomalies are the "
       "positive class (most of a one-vs-all test split). F1-max: the best F1 of any threshold, chosen with the "
       "test labels, an upper bound. Precision is over the runs that called at least one image anomalous (of "
       "the others it is 0/0, undefined); where that is not every run, the cell says of how many.");
  Table t{{"direction", "variant", "F1", "F1-max", "F1 / F1-max", "precision", "recall", "FPR"}, {}};
  const auto precisionCell = [&](const Key& k) {
    const auto it = d.precision.find(k);
    if (it == d.precision.end()) return std::string("– (no image above it)");
    const auto& p = it->second;
    return pct(p) + (p.size() < d.runs.at(k) ? fmt::format(" ({} of {} runs)", p.size(), d.runs.at(k)) : "");
  };
  for (const auto& k : d.keys) {
    const double max = meanStd(d.f1_max.at(k)).mean;
    t.rows.push_back({literal(k[0]), variantLabel(k[1], info.recommended), pct(d.f1.at(k)), pct(d.f1_max.at(k)),
                      max > 0 ? fmt::format("{:.3f}", meanStd(d.f1.at(k)).mean / max) : "–", precisionCell(k),
                      pct(d.recall.at(k)), pct(d.fpr.at(k))});
  }
  table(doc, t);
  if (const auto verdict = decisionVerdict(d, info.recommended); !verdict.empty()) para(doc, verdict);
}

void perClassSection(Doc& doc, const Grid& g, const ReportInfo& info) {
  heading(doc, 2, g.seeds.size() == 1 ? "Per class: AUROC % (one seed)" : "Per class: AUROC %, mean ± std over seeds");
  para(doc, markLegend(info, g.variants));
  for (const auto& d : g.directions) {
    heading(doc, 3, literal(d));
    Table t{{"class"}, {}};
    for (const auto& v : g.variants) t.header.push_back(columnHeader(v, info));
    for (const auto& c : g.classes_of.at(d))
      t.rows.push_back(markedRow(literal(c), g.by_class, {d, c}, g.variants, info));
    table(doc, t);
  }
}

Doc reportDoc(const std::vector<BenchRow>& rows, const ReportInfo& info) {
  const Grid g = gridOf(rows);
  Doc doc;
  heading(doc, 1, "Benchmark report: " + literal(info.title));
  para(doc, fmt::format("- Command: {}\n- Machine: {}\n- Wall time: {:.0f} s ({:.1f} min) in all, over the invocations "
                        "that produced these rows ({:.0f} s in the last)\n- Runs: {}\n",
                        codeLiteral(info.command), info.machine, std::max(info.total_wall_seconds, info.wall_seconds),
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
  decisionSection(doc, rows, info);
  if (!g.purity.empty()) {
    heading(doc, 2, "Dominant-set purity (diagnostic: share of true normals among the aligned pool samples)");
    Table t{{"direction", "variant", "purity %"}, {}};
    // In the grid's order (directions, then variants), as every other table; not the map's.
    for (const auto& d : g.directions)
      for (const auto& v : g.variants)
        if (const auto it = g.purity.find({d, v}); it != g.purity.end())
          t.rows.push_back({literal(d), v, pct(it->second)});
    table(doc, t);
  }
  if (!g.directions.empty()) perClassSection(doc, g, info);
  return doc;
}

}  // namespace

namespace {

/// `text` between the markers, its control characters as C escapes (a tab in a class
/// name shows as \t, not as a replacement character that says nothing of what it was).
std::string marked(const std::string& text, char open, char close) {
  return std::string(1, open) + printable(text) + close;
}

}  // namespace

std::string literal(const std::string& text) { return marked(text, kLiteralOpen, kLiteralClose); }

std::string codeLiteral(const std::string& text) { return marked(text, kCodeOpen, kCodeClose); }

std::string csvHeader() {
  return std::string(kOldHeader) + ",setting," + kThresholdColumns + "," + kContaminationColumns;
}

namespace {

/// A rate of a threshold column: empty when unknown (a row of an older results.csv).
/// A metric as results.csv keeps it: the shortest text that reads back as the same double.
/// Resumed, re-run and merged benches rebuild their reports from the file, and with 6
/// (AUROC) or 4 (purity) decimals a mean on a .x5 boundary showed otherwise than in the
/// report of the bench that ran (60.15 % as 60.1 after a merge, 60.2 before).
std::string exact(double v) { return fmt::format("{}", v); }
std::string rateField(double v) { return std::isnan(v) ? "" : exact(v); }
double rateOf(const std::string& field) { return field.empty() ? NAN : numberIn<double>(field); }

}  // namespace

std::string csvLine(const BenchRow& r) {
  return csv::row({r.source, r.target, r.normal_class, fmt::format("{}", r.seed), r.variant, exact(r.auroc),
                   exact(r.aupr), exact(r.purity), exact(r.share), fmt::format("{:.2f}", r.seconds), r.setting,
                   rateField(r.f1), rateField(r.f1_max), rateField(r.precision), rateField(r.recall), rateField(r.fpr),
                   rateField(r.contamination_estimate), rateField(r.contamination)});
}

size_t csvHeaderFields(const std::string& line) {
  // Files written before sweeps existed have no setting column; they read as the main
  // grid. Files written before thresholds have no threshold columns: unknown (NaN).
  const std::string with_setting = std::string(kOldHeader) + ",setting";
  const std::string with_threshold = with_setting + "," + kThresholdColumns;
  return line == csvHeader()      ? 18
         : line == with_threshold ? 16
         : line == with_setting   ? 11
         : line == kOldHeader     ? 10
                                  : 0;
}

std::vector<BenchRow> readCsv(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  std::string line;
  // A file saved with CRLF line ends (a spreadsheet, a git checkout with autocrlf) reads
  // as the one shiftad wrote: a CR ending a line is not part of its last field (a field
  // that ends in one is quoted, so its line ends with the quote).
  const auto dropCr = [](std::string& l) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  };
  std::getline(f, line);
  dropCr(line);
  const size_t fields = csvHeaderFields(line);
  SHIFTAD_CHECK(fields > 0, "'{}' is not a shiftad results.csv (header '{}')", path, line);
  std::vector<BenchRow> rows;
  for (int lines = 1, n = 2; csv::readRecord(f, line, lines); n = lines + 1) {
    dropCr(line);
    if (line.empty()) continue;
    if (f.eof()) {
      // Every row is written with its line end: a last line without one was cut (the
      // bench was killed, or the disk filled, while appending it). Its run is run again.
      log::warn("'{}' line {}: the last row was cut short (no line end); it is left out and its run is run again", path,
                n);
      break;
    }
    const auto c = csv::split(line);
    SHIFTAD_CHECK(c.size() == fields, "'{}' line {}: expected {} fields, got {}", path, n, fields, c.size());
    try {
      rows.push_back({c[0], c[1], c[2], c[4], numberIn<int>(c[3]), numberIn<double>(c[5]), numberIn<double>(c[6]),
                      numberIn<double>(c[7]), numberIn<double>(c[8]), numberIn<double>(c[9]),
                      fields > 10 ? c[10] : ""});
      auto& r = rows.back();
      if (fields >= 16) {
        r.f1 = rateOf(c[11]), r.f1_max = rateOf(c[12]), r.precision = rateOf(c[13]), r.recall = rateOf(c[14]);
        r.fpr = rateOf(c[15]);
      }
      if (fields >= 18) r.contamination_estimate = rateOf(c[16]), r.contamination = rateOf(c[17]);
    } catch (const std::exception&) {
      SHIFTAD_THROW("'{}' line {}: a number field does not parse: {}", path, n, line);
    }
    // A bench writes rates in [0, 1]; anything else was edited or damaged, and a report of
    // it (an AUROC of 127 %, or nan ± nan) would be wrong without a word.
    const auto& r = rows.back();
    for (const auto& [name, v] : {std::pair<const char*, double>{"auroc", r.auroc}, {"aupr", r.aupr}})
      SHIFTAD_CHECK(std::isfinite(v) && v >= 0.0 && v <= 1.0,
                    "'{}' line {}: {} = {} is not in [0, 1]; the file was edited or damaged: delete that line to "
                    "have the bench run it again",
                    path, n, name, v);
  }
  return rows;
}

std::vector<PaperFigure> readPaperFigures(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read the paper's figures '{}'", path);
  std::string line;
  std::getline(f, line);
  SHIFTAD_CHECK(line == "table,suite,source,target,class,method,variant,auroc", "'{}': unexpected header '{}'", path,
                line);
  std::vector<PaperFigure> out;
  for (int lines = 1, n = 2; csv::readRecord(f, line, lines); n = lines + 1) {
    if (line.empty()) continue;
    const auto c = csv::split(line);
    SHIFTAD_CHECK(c.size() == 8, "'{}' line {}: expected 8 fields, got {}", path, n, c.size());
    try {
      out.push_back({c[0], c[1], c[2], c[3], c[4], c[5], c[6], numberIn<double>(c[7])});
    } catch (const std::exception&) {
      SHIFTAD_THROW("'{}' line {}: the AUROC does not parse: {}", path, n, line);
    }
  }
  return out;
}

std::string meanStdCell(double mean, double std, size_t count) {
  return count == 1 ? percentText(mean) : percentText(mean) + " ± " + percentText(std);
}

std::string variantLabel(const std::string& variant, const std::string& recommended) {
  return !recommended.empty() && variant == recommended ? variant + " ★" : variant;
}

namespace {

/// Bars of mean AUROC per direction and variant (none without a main grid).
void addDirectionSummary(const Grid& g, const std::string& recommended, std::vector<Figure>& out) {
  if (g.directions.empty()) return;
  std::vector<Series> bars;
  for (const auto& v : g.variants) {
    Series s{variantLabel(v, recommended), {}, {}, {}, static_cast<int>(bars.size()), v == recommended};
    for (const auto& d : g.directions) {
      const auto it = g.by_dir.find({d, v});
      const auto m = it == g.by_dir.end() ? MeanStd{std::nan(""), 0} : meanStd(it->second);
      s.y.push_back(100 * m.mean);
      s.err.push_back(100 * m.std);
    }
    bars.push_back(s);
  }
  PlotSpec spec{"Target AUROC % by direction and variant (mean ± std)", "direction", "AUROC %"};
  fitPercentAxis(spec, bars, true);
  out.push_back(
      {"summary",
       "Mean target AUROC per direction and variant; whiskers are ± one std over classes and seeds" +
           std::string(spec.ymin > 0 ? "; the AUROC axis is fitted to the values (it does not start at 0)" : "") +
           (recommended.empty() ? "." : "; ★ outlined: the recommended variant."),
       barChart(spec, g.directions, bars)});
}

using SweepPoints = std::map<std::string, std::map<std::string, std::map<double, std::vector<double>>>>;

/// Sweep rows by key, variant and swept value (numeric values only), AUROC in %.
SweepPoints sweepPoints(const std::vector<BenchRow>& rows) {
  SweepPoints sweeps;  // key, variant, x
  for (const auto& r : rows) {
    if (r.setting.empty()) continue;
    const auto eq = r.setting.find('=');
    // A non-numeric sweep (e.g. align.method) has a table but no plot. The whole value
    // must parse: stod alone reads "infonce" as inf.
    const auto x = parseNumber<double>(r.setting.substr(eq + 1));
    if (!x || !std::isfinite(*x)) continue;
    sweeps[r.setting.substr(0, eq)][r.variant][*x].push_back(100 * r.auroc);
  }
  return sweeps;
}

}  // namespace

std::vector<Figure> summaryFigures(const std::vector<BenchRow>& rows, const std::string& recommended) {
  std::vector<Figure> out;
  addDirectionSummary(gridOf(rows), recommended, out);
  // Sweeps: x = the swept value (numeric), y = mean AUROC over everything else.
  for (const auto& [key, by_variant] : sweepPoints(rows)) {
    std::vector<Series> lines;
    PlotSpec spec{"AUROC % against " + key, key, "AUROC %", 1e300, -1e300};
    for (const auto& [variant, pts] : by_variant) {
      Series s{variantLabel(variant, recommended), {}, {}, {}, -1, variant == recommended};
      for (const auto& [x, ys] : pts) {
        const auto m = meanStd(ys);
        s.x.push_back(x), s.y.push_back(m.mean), s.err.push_back(m.std);
        spec.xmin = std::min(spec.xmin, x), spec.xmax = std::max(spec.xmax, x);
      }
      lines.push_back(s);
    }
    if (spec.xmax <= spec.xmin) spec.xmax = spec.xmin + 1;
    fitPercentAxis(spec, lines, false);
    out.push_back({"sweep-" + key,
                   "Mean target AUROC as `" + key + "` varies (± one std over directions, classes and seeds).",
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
