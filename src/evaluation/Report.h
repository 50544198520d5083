// Benchmark results: one row per (direction, class, seed, variant), written as CSV and
// summarised as a Markdown report. Torch-free.
#pragma once

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
};

/// CSV header and one line per row (RFC 4180 quoting is not needed: names are checked).
std::string csvHeader();
std::string csvLine(const BenchRow& row);
/// Parse a file written with csvHeader/csvLine; throws naming the line on bad input.
std::vector<BenchRow> readCsv(const std::string& path);

struct ReportInfo {
  std::string title;        ///< e.g. "office-caltech10"
  std::string command;      ///< the command that made the results
  std::string machine;      ///< cores, OS
  std::string protocol;     ///< Markdown bullet list of the protocol
  double wall_seconds = 0;  ///< of the whole run
  std::vector<std::string> frozen_variants;   ///< variants that need no training (for the verdict)
  std::vector<std::string> upper_bounds;      ///< variants that read target labels (never "win")
};

/// The Markdown report: summary per direction (mean ± std over classes and seeds),
/// per-class tables, and which variant wins where.
std::string markdownReport(const std::vector<BenchRow>& rows, const ReportInfo& info);

}  // namespace shiftad::evaluation
