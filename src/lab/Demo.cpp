// `shiftad demo`: the main job on the embedded synthetic benchmark, run through the
// bench (lab/Bench.h), so it writes the same results.csv, report.md and report.html.
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lab/Bench.h"
#include "common/Error.h"
#include "config/Suite.h"
#include "evaluation/Metrics.h"
#include "lab/Report.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

constexpr const char* kBaseline = "source_only";

std::string cell(const std::vector<double>& v) {
  const auto m = evaluation::meanStd(v);
  return evaluation::meanStdCell(m.mean, m.std, v.size());
}

/// Per class: mean over seeds of both variants; the table printed on stdout.
std::vector<DemoRow> perClass(const std::vector<evaluation::BenchRow>& rows, const std::vector<int>& seeds,
                              const std::string& recommended, const std::function<void(const std::string&)>& print) {
  std::map<std::string, std::map<std::string, std::vector<double>>> auroc;  // class -> variant -> per seed
  std::map<std::string, std::vector<double>> all;                           // variant -> every run
  for (const auto& r : rows) {
    if (!r.setting.empty()) continue;
    auroc[r.normal_class][r.variant].push_back(100 * r.auroc);
    all[r.variant].push_back(100 * r.auroc);
  }
  std::vector<DemoRow> out;
  print("");
  print(fmt::format("{:<12} {:>14} {:>14}", "normal class", kBaseline, recommended));
  for (const auto& [cls, by_variant] : auroc) {
    const auto& so = by_variant.at(kBaseline);
    const auto& ad = by_variant.at(recommended);
    out.push_back({cls, evaluation::meanStd(so).mean / 100, evaluation::meanStd(ad).mean / 100});
    print(fmt::format("{:<12} {:>14} {:>14}", cls, cell(so), cell(ad)));
  }
  print(fmt::format("{:<12} {:>14} {:>14}", "all", cell(all[kBaseline]), cell(all[recommended])));
  print(fmt::format("(target test AUROC %, one-vs-all; mean ± std over seeds {}; last row over classes and seeds)",
                    fmt::join(seeds, ", ")));
  return out;
}

}  // namespace

std::vector<DemoRow> runDemo(const DemoOptions& opt) {
  const auto print = opt.print ? opt.print : [](const std::string& line) { fmt::print("{}\n", line); };
  const std::string data_dir = (fs::path(opt.out_dir) / "data").string();
  // OUT holds the demo's data/ and a bench's files: a new or empty folder, or an earlier demo's.
  lab::checkDemoOut(opt.out_dir);
  print(fmt::format("Synthesizing the benchmark into {} (seed {})", data_dir, opt.seed));
  synthesize(data_dir, opt.seed);

  // The synthetic suite's protocol and config; the demo runs the baseline and the
  // recommended variant only (the suite's other variants: `shiftad bench --suite synthetic`).
  Suite suite = loadSuite("synthetic", false);
  SHIFTAD_CHECK(!suite.recommended.empty(), "suites/synthetic.yaml names no recommended variant for the demo");
  const std::string recommended = suite.recommended;
  BenchOptions bench;
  bench.root = data_dir;
  bench.variants = {kBaseline, recommended};
  bench.seeds = opt.seeds;
  bench.out_dir = opt.out_dir;
  bench.command = opt.command;
  const auto summary = lab::runSuite(suite, bench);
  if (summary.interrupted) {
    print("Interrupted: the run in progress was checkpointed; run the same command to continue");
    return {};
  }
  print(fmt::format("Report: {} (and report.html, results.csv beside it); {:.0f} s", summary.report, summary.seconds));
  return perClass(evaluation::readCsv((fs::path(opt.out_dir) / "results.csv").string()),
                  opt.seeds.empty() ? suite.seeds : opt.seeds, recommended, print);
}

}  // namespace shiftad
