// Benchmark results: one row per (direction, class, seed, variant), written as CSV and
// summarised as a Markdown report. Torch-free.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace shiftad::evaluation {

struct BenchRow {
  std::string source, target, normal_class, variant;
  int seed = 0;
  double auroc = 0.0, aupr = 0.0;
  double purity = -1.0;  ///< dominant-set purity diagnostic (-1: no dominant set)
  double share = -1.0;   ///< dominant set / pool size (-1: no dominant set)
  double seconds = 0.0;  ///< training wall time
  std::string setting;   ///< "key=value" of a sweep (bench --sweep); "" in the main grid
  /// At the run's label-free threshold (EvalResult); NaN in rows of a results.csv
  /// written before thresholds existed (their fields are empty).
  double f1 = NAN, f1_max = NAN, precision = NAN, recall = NAN, fpr = NAN;
  /// The pool share left out of the aligned set (what the run's selection implies the
  /// contamination is) and the pool's true anomaly share (reads labels): diagnostics of
  /// aligning runs, NaN for the others and in rows of an older results.csv.
  double contamination_estimate = NAN, contamination = NAN;
};

/// `text` (a name from the data: a class, a domain, a suite's title; never markup)
/// marked to show as it is in both reports: report.md escapes Markdown's characters in
/// it (`|` would end a table cell, `*` and `_` emphasise, `<` open an HTML tag), and
/// report.html shows it as text. A C0 control character becomes U+FFFD.
std::string literal(const std::string& text);

/// `text` (a path or a command line the user typed) as code in both reports, whatever it
/// holds: report.md fences it with more backticks than any run of them in it (a single
/// backtick would end the span early), report.html puts it in <code> as text. A C0
/// control character becomes U+FFFD.
std::string codeLiteral(const std::string& text);

/// results.csv: its header and one line per row (common/Csv.h: a name with a comma,
/// quote or line break is quoted).
std::string csvHeader();

/// The number of fields of a results.csv whose first line is `line`: csvHeader()'s, or
/// an earlier version's header; 0 when `line` is no header a bench wrote.
size_t csvHeaderFields(const std::string& line);

std::string csvLine(const BenchRow& row);
/// Parse a file written with csvHeader/csvLine, or by an earlier version (without the
/// setting column, the threshold columns or the contamination columns); throws naming
/// the line on bad input.
std::vector<BenchRow> readCsv(const std::string& path);

/// A figure of a report: written as OUT/figures/NAME.svg, linked from report.md and
/// inlined in report.html.
struct Figure {
  std::string name;     ///< file stem: letters, digits, '-', '_'
  std::string caption;  ///< what it shows (Markdown inline)
  std::string svg;
};

/// One published AUROC figure of the paper (suites/paper/auroc.csv, extracted from the
/// paper's tables by tools/paper_tables.py). normal_class "mean"/"std": summaries.
struct PaperFigure {
  std::string table, suite, source, target, normal_class, method;
  std::string variant;  ///< the shiftad variant the method corresponds to ("" when none)
  double auroc = 0.0;   ///< percent
};
std::vector<PaperFigure> readPaperFigures(const std::string& path);

struct ReportInfo {
  std::string suite;                         ///< suite name, to match the paper's figures
  std::string title;                         ///< e.g. "office-caltech10"
  std::string command;                       ///< the command that made the results
  std::string machine;                       ///< cores, OS
  std::string protocol;                      ///< Markdown bullet list of the protocol
  double wall_seconds = 0;                   ///< of this invocation
  double total_wall_seconds = 0;             ///< of every invocation that added rows to results.csv (resumed benches)
  std::vector<std::string> frozen_variants;  ///< variants that need no training (for the verdict)
  std::vector<std::string> upper_bounds;     ///< variants that read target labels (never "win")
  std::string recommended;                   ///< the suite's recommended variant (suite key `recommended`):
                                             ///< tagged in the tables, emphasised in the plots; "" none
  std::vector<PaperFigure> paper;            ///< the paper's figures (only the suite's are shown)
  std::vector<Figure> figures;               ///< plots made by the caller (ROC, projections), shown in order
};

/// Plots computed from the rows alone: mean AUROC per direction and variant (bars),
/// and one line plot per swept key (AUROC against the key's value). Axes are fitted to
/// the values; the `recommended` variant ("" none) is emphasised.
std::vector<Figure> summaryFigures(const std::vector<BenchRow>& rows, const std::string& recommended = "");

/// "MEAN ± STD" of `count` values, one decimal; a single value alone: its "± 0.0" would
/// read as a measured spread. The reports' and the demo's table cells.
std::string meanStdCell(double mean, double std, size_t count);

/// A variant's label in tables and plots: "NAME ★" for the recommended one.
std::string variantLabel(const std::string& variant, const std::string& recommended);

/// The Markdown report: summary per direction (mean ± std over classes and seeds; a
/// cell of one run shows its value alone), per-class tables, and which variant wins
/// where. In each table row the best variant (upper bounds excluded) is bold; the
/// recommended variant's column is tagged.
std::string markdownReport(const std::vector<BenchRow>& rows, const ReportInfo& info);

/// The same report as one self-contained HTML page (inline CSS and SVG; no network).
std::string htmlReport(const std::vector<BenchRow>& rows, const ReportInfo& info);

}  // namespace shiftad::evaluation
