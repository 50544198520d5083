// `shiftad bench`: a suite's one-vs-all grid, run in one process so that decoded
// images and features are shared between runs (api/Features.h).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include "api/Features.h"
#include "api/RunDir.h"
#include "common/Error.h"
#include "config/Suite.h"
#include "data/ImageFolder.h"
#include "evaluation/Report.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

/// The variants that read target labels: allowed in a suite (listing them is the
/// explicit choice), marked as upper bounds in the report.
const std::vector<std::string> kLabelVariants = {"oracle", "few_shot"};
const std::vector<std::string> kFrozenVariants = {"frozen_only", "frozen_knn", "frozen_dominant"};

bool readsLabels(const std::string& v) { return std::find(kLabelVariants.begin(), kLabelVariants.end(), v) != kLabelVariants.end(); }

/// Dominant-set purity and share of the run's last epoch (-1 when it has none).
std::pair<double, double> dominantDiagnostics(const std::string& run_dir) {
  std::ifstream f(fs::path(run_dir) / api::kMetricsFile);
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  if (last.empty()) return {-1, -1};
  const auto j = nlohmann::json::parse(last);
  if (!j.contains("dominant_purity_diagnostic")) return {-1, -1};
  return {j["dominant_purity_diagnostic"].get<double>(), j.value("dominant_share", -1.0)};
}

std::string machine() {
  utsname u{};
  uname(&u);
  return fmt::format("{} cores, {} {} ({})", std::thread::hardware_concurrency(), u.sysname, u.release, u.machine);
}

std::string protocol(const Suite& s, const Config& c) {
  std::string dirs;
  for (const auto& [a, b] : s.directions) dirs += (dirs.empty() ? "" : ", ") + a + " → " + b;
  return fmt::format(
      "- Data: `{}`; directions: {}\n"
      "- One-vs-all: each class in turn is normal, every other class anomalous; classes: {}\n"
      "- Target split per class: {:.0f}% to the unlabeled pool, the rest is the test split; pool contamination "
      "(anomalies / pool) {:.2f}\n"
      "- Seeds: {} (each seed sets data.split_seed and train.seed)\n"
      "- Model: `{}`{}, freeze {}, head {} → {}; encoder Φ: {}{}\n"
      "- Training: {} epochs, batch {}, lr {}, λ = {}, τ = {}, K = {} ({})\n"
      "- Model selection: {}\n"
      "- Variants that read target labels ({}) are upper bounds and never count as a win.\n",
      s.root, dirs, s.classes.empty() ? "all" : fmt::format("{}", fmt::join(s.classes, ", ")),
      100 * c.data.pool_fraction, c.data.contamination, fmt::join(s.seeds, ", "), c.model.arch,
      c.model.weights.empty() ? " (random init)" : " (" + fs::path(c.model.weights).filename().string() + ")",
      c.model.freeze, c.model.head, c.model.embedding_dim, c.encoder.type,
      c.encoder.path.empty() ? "" : " (" + fs::path(c.encoder.path).filename().string() + ")", c.train.epochs,
      c.train.batch_size, c.train.lr, c.align.lambda, c.align.tau, c.cluster.k, c.cluster.method, s.model_selection,
      fmt::join(kLabelVariants, ", "));
}

/// Embed both domains whole, once (one disk-cache entry per domain and encoder), so
/// every run of the grid finds its images' features in memory.
void prefetch(const Suite& suite, const std::string& src, const std::string& tgt, const std::vector<std::string>& extra) {
  std::vector<std::string> ov = {"data.root=" + suite.root};
  ov.insert(ov.end(), extra.begin(), extra.end());
  const auto cfg = parseConfig(suite.config_yaml, ov, suite.name);
  for (const auto& domain : {src, tgt}) {
    std::vector<std::string> paths;
    for (const auto& r : data::listDomain(suite.root, domain)) paths.push_back(r.path);
    if (cfg.model.freeze == -1) api::trunkFeatures(cfg, paths);
    if (cfg.encoder.type != "none") api::frozenFeatures(cfg, paths);
  }
}

std::string runKey(const std::string& a, const std::string& b, const std::string& c, int seed, const std::string& v) {
  return fmt::format("{}|{}|{}|{}|{}", a, b, c, seed, v);
}

}  // namespace

BenchSummary runBench(const BenchOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Suite suite = loadSuite(o.suite, o.quick);
  if (!o.root.empty()) suite.root = o.root;
  if (!o.variants.empty()) suite.variants = o.variants;
  if (!o.seeds.empty()) suite.seeds = o.seeds;
  if (!o.classes.empty()) suite.classes = o.classes;
  for (const auto& v : suite.variants) variantOverrides(v);
  SHIFTAD_CHECK(fs::is_directory(suite.root), "suite '{}': data root '{}' is not a folder; pass --root", suite.name,
                suite.root);
  fs::create_directories(o.out_dir);
  const auto csv_path = (fs::path(o.out_dir) / "results.csv").string();

  // Rows already there (an interrupted bench) are kept and not run again.
  std::vector<evaluation::BenchRow> rows;
  std::set<std::string> done;
  if (fs::exists(csv_path)) {
    rows = evaluation::readCsv(csv_path);
    for (const auto& r : rows) done.insert(runKey(r.source, r.target, r.normal_class, r.seed, r.variant));
    spdlog::info("{}: {} finished runs kept", csv_path, rows.size());
  } else {
    std::ofstream(csv_path) << evaluation::csvHeader() << "\n";
  }
  std::ofstream csv(csv_path, std::ios::app);

  Config last;
  int64_t total = 0, ran = 0;
  for (const auto& [src, tgt] : suite.directions) {
    auto classes = suite.classes;
    if (classes.empty())
      for (const auto& r : data::listDomain(suite.root, src))
        if (std::find(classes.begin(), classes.end(), r.cls) == classes.end()) classes.push_back(r.cls);
    total += static_cast<int64_t>(classes.size() * suite.seeds.size() * suite.variants.size());
    prefetch(suite, src, tgt, o.overrides);
    for (const auto& cls : classes)
      for (int seed : suite.seeds)
        for (const auto& variant : suite.variants) {
          // --set changes the suite's config; the variant's own keys come after it, so a
          // variant always is what its name says (e.g. source_only never aligns).
          std::vector<std::string> ov = o.overrides;
          for (const auto& kv : variantOverrides(variant)) ov.push_back(kv);
          if (readsLabels(variant)) ov.push_back("data.target_labels=true");
          for (const auto& kv : {"data.root=" + suite.root, "data.source=" + src, "data.target=" + tgt,
                                 "data.normal_class=" + cls, fmt::format("data.split_seed={}", seed),
                                 fmt::format("train.seed={}", seed)})
            ov.push_back(kv);
          last = parseConfig(suite.config_yaml, ov, suite.name);
          if (done.count(runKey(src, tgt, cls, seed, variant))) continue;
          const auto run_dir = (fs::path(o.out_dir) / "runs" / (src + "-" + tgt) / cls / fmt::format("seed{}", seed) / variant).string();
          const auto summary = train(last, run_dir);
          const auto eval = evaluate(run_dir, last);
          const auto [purity, share] = dominantDiagnostics(run_dir);
          evaluation::BenchRow row{src, tgt, cls, variant, seed, eval.auroc, eval.aupr, purity, share, summary.seconds};
          csv << evaluation::csvLine(row) << "\n" << std::flush;
          rows.push_back(row);
          ++ran;
          spdlog::warn("[{}] {} → {} class '{}' seed {} {}: AUROC {:.3f} ({:.1f}s)", rows.size(), src, tgt, cls, seed,
                       variant, eval.auroc, summary.seconds);
        }
  }
  BenchSummary out;
  out.runs = ran;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  evaluation::ReportInfo info;
  info.title = suite.name + (o.quick ? " (quick)" : "");
  info.command = o.command;
  info.machine = machine();
  info.protocol = protocol(suite, last);
  info.wall_seconds = out.seconds;
  info.frozen_variants = kFrozenVariants;
  info.upper_bounds = kLabelVariants;
  out.report = (fs::path(o.out_dir) / "report.md").string();
  api::writeTextAtomic(out.report, evaluation::markdownReport(rows, info));
  return out;
}

}  // namespace shiftad
