// `shiftad demo`: the main job on the embedded synthetic benchmark, run through the
// bench (lab/Bench.h), so it writes the same results.csv, report.md and report.html.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/Error.h"
#include "common/TextFile.h"
#include "config/Suite.h"
#include "data/Synth.h"
#include "lab/Bench.h"
#include "lab/DemoTable.h"
#include "lab/Report.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

constexpr const char* kBaseline = lab::kDemoBaseline;

/// Results in OUT were made from data/ as synthesized with one seed: another --seed
/// would rewrite the data under them (and the bench then refuses the folder).
void checkSameDataSeed(const DemoOptions& opt, const std::string& data_dir) {
  const auto results = fs::path(opt.out_dir) / "results.csv";
  const auto marker = fs::path(data_dir) / data::kSynthMarkerFile;
  std::error_code ec;
  if (!fs::is_regular_file(results, ec) || !fs::is_regular_file(marker, ec)) return;
  if (evaluation::readCsv(results.string()).empty()) return;
  const auto seed = data::synthMarkerSeed(readText(marker.string()));
  SHIFTAD_CHECK(!seed || *seed == opt.seed,
                "'{}' holds results made from the benchmark synthesized with --seed {} (in '{}'); --seed {} would "
                "rewrite that data under them: give --seed {} to add to them, or another --out",
                opt.out_dir, seed.value_or(0), data_dir, opt.seed, seed.value_or(0));
}

/// What the demo can refuse before it writes anything.
void checkDemo(const DemoOptions& opt, const BenchOptions& bench) {
  SHIFTAD_CHECK(!opt.out_dir.empty(),
                "the demo's folder is '' (its data would be written into the working directory); name a new or "
                "empty folder, or an earlier demo's");
  lab::checkBenchOptions(bench);
  // OUT holds the demo's data/ and a bench's files: a new or empty folder, or an earlier demo's.
  lab::checkDemoOut(opt.out_dir);
  checkSameDataSeed(opt, bench.root);
}

}  // namespace

std::vector<DemoRow> runDemo(const DemoOptions& opt) {
  const auto print = opt.print ? opt.print : [](const std::string& line) { fmt::print("{}\n", line); };
  // The synthetic suite's protocol and config; the demo runs the baseline and the
  // recommended variant only (the suite's other variants: `shiftad bench --suite synthetic`).
  Suite suite = loadSuite("synthetic", false);
  SHIFTAD_CHECK(!suite.recommended.empty(), "suites/synthetic.yaml names no recommended variant for the demo");
  const std::string recommended = suite.recommended;
  BenchOptions bench;
  bench.root = (fs::path(opt.out_dir) / "data").string();
  bench.variants = {kBaseline, recommended};
  bench.seeds = opt.seeds;
  bench.out_dir = opt.out_dir;
  bench.command = opt.command;
  checkDemo(opt, bench);
  print(fmt::format("Synthesizing the benchmark into {} (seed {})", bench.root, opt.seed));
  synthesize(bench.root, opt.seed);

  const auto summary = lab::runSuite(suite, bench);
  if (summary.interrupted) {
    print(summary.checkpointed ? "Interrupted: the run in progress was checkpointed; run the same command to continue"
                               : "Interrupted; no run was in progress; run the same command to continue");
    return {};
  }
  print(fmt::format("Report: {} (and report.html, results.csv beside it); {:.0f} s", summary.report, summary.seconds));
  return lab::demoTable(evaluation::readCsv((fs::path(opt.out_dir) / "results.csv").string()),
                        opt.seeds.empty() ? suite.seeds : opt.seeds, recommended, print);
}

}  // namespace shiftad
