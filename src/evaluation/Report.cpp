#include "evaluation/Report.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/Error.h"
#include "evaluation/Metrics.h"

namespace shiftad::evaluation {
namespace {

std::vector<std::string> splitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

/// Values keyed by (direction, variant) or (direction, class, variant), in first-seen order.
using Key = std::vector<std::string>;

std::string direction(const BenchRow& r) { return r.source + " → " + r.target; }

template <typename T>
std::vector<T> uniqueInOrder(const std::vector<BenchRow>& rows, T (*get)(const BenchRow&)) {
  std::vector<T> out;
  for (const auto& r : rows)
    if (std::find(out.begin(), out.end(), get(r)) == out.end()) out.push_back(get(r));
  return out;
}

std::string pct(const MeanStd& m) { return fmt::format("{:.1f} ± {:.1f}", 100 * m.mean, 100 * m.std); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string csvHeader() { return "source,target,class,seed,variant,auroc,aupr,dominant_purity,dominant_share,train_seconds"; }

std::string csvLine(const BenchRow& r) {
  for (const auto* s : {&r.source, &r.target, &r.normal_class, &r.variant})
    SHIFTAD_CHECK(s->find_first_of(",\n\"") == std::string::npos, "name '{}' cannot go into results.csv (comma or quote)", *s);
  return fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.4f},{:.4f},{:.2f}", r.source, r.target, r.normal_class, r.seed,
                     r.variant, r.auroc, r.aupr, r.purity, r.share, r.seconds);
}

std::vector<BenchRow> readCsv(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  std::string line;
  std::getline(f, line);
  SHIFTAD_CHECK(line == csvHeader(), "'{}' is not a shiftad results.csv (header '{}')", path, line);
  std::vector<BenchRow> rows;
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const auto c = splitCsv(line);
    SHIFTAD_CHECK(c.size() == 10, "'{}' line {}: expected 10 fields, got {}", path, n, c.size());
    try {
      rows.push_back({c[0], c[1], c[2], c[4], std::stoi(c[3]), std::stod(c[5]), std::stod(c[6]), std::stod(c[7]),
                      std::stod(c[8]), std::stod(c[9])});
    } catch (const std::exception&) {
      SHIFTAD_THROW("'{}' line {}: a number field does not parse: {}", path, n, line);
    }
  }
  return rows;
}

std::string markdownReport(const std::vector<BenchRow>& rows, const ReportInfo& info) {
  const auto directions = uniqueInOrder<std::string>(rows, &direction);
  const auto variants = uniqueInOrder<std::string>(rows, +[](const BenchRow& r) { return r.variant; });
  std::map<Key, std::vector<double>> by_dir, by_class, purity;
  std::map<std::string, std::vector<std::string>> classes_of;
  for (const auto& r : rows) {
    by_dir[{direction(r), r.variant}].push_back(r.auroc);
    by_class[{direction(r), r.normal_class, r.variant}].push_back(r.auroc);
    if (r.purity >= 0) purity[{direction(r), r.variant}].push_back(r.purity);
    auto& cl = classes_of[direction(r)];
    if (!contains(cl, r.normal_class)) cl.push_back(r.normal_class);
  }
  std::string md = fmt::format("# Benchmark report: {}\n\n", info.title);
  md += fmt::format("- Command: `{}`\n- Machine: {}\n- Wall time: {:.0f} s ({:.1f} min)\n- Runs: {}\n\n", info.command,
                    info.machine, info.wall_seconds, info.wall_seconds / 60, rows.size());
  md += "## Protocol\n\n" + info.protocol + "\n";
  md += "## Summary: target AUROC %, mean ± std over classes and seeds\n\n| direction |";
  for (const auto& v : variants) md += " " + v + (contains(info.upper_bounds, v) ? " (upper bound)" : "") + " |";
  md += "\n|---|";
  for (size_t i = 0; i < variants.size(); ++i) md += "---|";
  md += "\n";
  std::vector<double> all_means(variants.size());
  for (const auto& d : directions) {
    md += "| " + d + " |";
    for (const auto& v : variants) {
      const auto it = by_dir.find({d, v});
      md += it == by_dir.end() ? " – |" : " " + pct(meanStd(it->second)) + " |";
    }
    md += "\n";
  }
  // Verdict: the best label-free trained variant against the best frozen baseline.
  md += "\n## What wins where\n\n";
  for (const auto& d : directions) {
    std::string best_trained, best_frozen;
    double bt = -1, bf = -1;
    for (const auto& v : variants) {
      const auto it = by_dir.find({d, v});
      if (it == by_dir.end() || contains(info.upper_bounds, v)) continue;
      const double m = meanStd(it->second).mean;
      if (contains(info.frozen_variants, v)) {
        if (m > bf) bf = m, best_frozen = v;
      } else if (m > bt) {
        bt = m, best_trained = v;
      }
    }
    if (best_trained.empty() || best_frozen.empty()) continue;
    md += fmt::format("- {}: best trained variant `{}` {:.1f}; best frozen baseline `{}` {:.1f}: {}\n", d,
                      best_trained, 100 * bt, best_frozen, 100 * bf,
                      bt > bf ? fmt::format("training wins by {:.1f} points", 100 * (bt - bf))
                              : fmt::format("**the frozen encoder wins** by {:.1f} points", 100 * (bf - bt)));
  }
  if (!purity.empty()) {
    md += "\n## Dominant-set purity (diagnostic: share of true normals among the aligned pool samples)\n\n";
    md += "| direction | variant | purity % |\n|---|---|---|\n";
    for (const auto& [k, v] : purity) md += fmt::format("| {} | {} | {} |\n", k[0], k[1], pct(meanStd(v)));
  }
  md += "\n## Per class: AUROC %, mean ± std over seeds\n";
  for (const auto& d : directions) {
    md += "\n### " + d + "\n\n| class |";
    for (const auto& v : variants) md += " " + v + " |";
    md += "\n|---|";
    for (size_t i = 0; i < variants.size(); ++i) md += "---|";
    md += "\n";
    for (const auto& c : classes_of[d]) {
      md += "| " + c + " |";
      for (const auto& v : variants) {
        const auto it = by_class.find({d, c, v});
        md += it == by_class.end() ? " – |" : " " + pct(meanStd(it->second)) + " |";
      }
      md += "\n";
    }
  }
  return md;
}

}  // namespace shiftad::evaluation
