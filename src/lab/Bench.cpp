// `shiftad bench`: a suite's one-vs-all grid, run in one process so that decoded
// images and features are shared between runs (api/Features.h).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <yaml-cpp/yaml.h>

#include "lab/Bench.h"
#include "lab/BenchEta.h"
#include "common/Log.h"
#include "lab/Figures.h"
#include "common/TextFile.h"
#include "common/Error.h"
#include "common/TildeHint.h"
#include "common/Progress.h"
#include "common/Seconds.h"
#include "config/Choices.h"
#include "config/Suite.h"
#include "data/ImageFolder.h"
#include "data/Protocol.h"
#include "data/Synth.h"
#include "api/InputCache.h"
#include "api/Interrupt.h"
#include "api/RunDir.h"
#include "api/RunLock.h"
#include "lab/Report.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;
using shiftad::lab::kRotatedDealing;
using shiftad::lab::ShardDealing;

namespace shiftad {
namespace {

/// The names of the variants for which `fact` holds, in the order of variants().
std::vector<std::string> variantsWhere(bool (*fact)(const Variant&)) {
  std::vector<std::string> names;
  for (const auto& v : variants())
    if (fact(v)) names.push_back(v.name);
  return names;
}

/// The variants that read target labels: allowed in a suite (listing them is the
/// explicit choice), marked as upper bounds in the report.
bool readsLabels(const Variant& v) { return v.reads_target_labels; }
/// The frozen-encoder baselines (no training), for the report's verdict.
bool frozenBaseline(const Variant& v) { return !v.trains; }

std::string machine() {
  utsname u{};
  uname(&u);
  return fmt::format("{} cores, {} {} ({})", std::thread::hardware_concurrency(), u.sysname, u.release, u.machine);
}

/// The data root as the report shows it: relative to the working directory the bench ran
/// in, as the report's command line is, when it lies below that folder's parent (a
/// checkout beside ../shared), so a committed report names no machine's folders; else
/// absolute.
std::string shownRoot(const std::string& root) {
  std::error_code ec;
  const auto rel = fs::relative(root, ec);
  if (ec || rel.empty()) return root;
  int up = 0;
  for (const auto& part : rel) up += part == "..";
  return up <= 1 ? rel.string() : root;
}

std::string protocol(const Suite& s, const Config& c) {
  std::string dirs;
  for (const auto& [a, b] : s.directions) dirs += (dirs.empty() ? "" : ", ") + evaluation::literal(a + " → " + b);
  std::vector<std::string> classes;
  for (const auto& c : s.classes) classes.push_back(evaluation::literal(c));
  const auto about = s.description.empty() ? "" : "- Suite: " + evaluation::literal(s.description) + "\n";
  return about +
         fmt::format(
             "- Data: {} (from where the command ran); directions: {}\n"
             "- One-vs-all: each class in turn is normal, every other class anomalous; classes: {}\n"
             "- Target split per class: {:.0f}% to the unlabeled pool, the rest is the test split; pool contamination "
             "(anomalies / pool) {:.2f}\n"
             "- Seeds: {} (each seed sets data.split_seed and train.seed)\n"
             "- Model: `{}`{}, freeze {}, head {} ({} init) → {}; encoder Φ: {}{}\n"
             "- Training (the suite's settings; each variant sets its own keys, `shiftad variants`): {} epochs, batch "
             "{}, lr {}, anchor {}; alignment {} (λ = {}{}); K = {} ({})\n"
             "- Model selection: {}\n"
             "- Variants that read target labels ({}) are upper bounds and never count as a win.\n",
             evaluation::codeLiteral(shownRoot(s.root)), dirs,
             classes.empty() ? "all" : fmt::format("{}", fmt::join(classes, ", ")), 100 * c.data.pool_fraction,
             c.data.contamination, fmt::join(s.seeds, ", "), c.model.arch,
             c.model.weights.empty() ? " (random init)" : " (" + fs::path(c.model.weights).filename().string() + ")",
             c.model.freeze, c.model.head, c.model.head_init, c.model.embedding_dim, c.encoder.type,
             c.encoder.path.empty() ? "" : " (" + fs::path(c.encoder.path).filename().string() + ")", c.train.epochs,
             c.train.batch_size, c.train.lr, c.train.anchor, c.align.method, c.align.lambda,
             // τ is InfoNCE's temperature: shown for another loss, it read as that loss's.
             c.align.method == AlignMethod::kInfoNce ? fmt::format(", τ = {}", c.align.tau) : "", c.cluster.kmeans.k,
             c.cluster.method, s.model_selection, fmt::join(variantsWhere(readsLabels), ", "));
}

/// Embed both domains whole, once (one disk-cache entry per domain and encoder), so
/// every run of the grid finds its images' features in memory.
void prefetch(Cache& cache, const Suite& suite, const std::string& src, const std::string& tgt,
              const std::vector<std::string>& extra) {
  auto cfg = parseConfig(suite.config_yaml, extra, suite.name, suite.base_dir);
  cfg.data.root = suite.root;  // as it is: see runConfig
  // A stop (SIGTERM from a scheduler's time limit) waited for whole domains here: minutes
  // on PACS or digits, past the grace before SIGKILL. Embedded in chunks of a few
  // batches, it is seen within seconds; the runs after it are not started.
  const api::StoppableEmbedding stoppable(cache.inputs());
  try {
    for (const auto& domain : {src, tgt}) {
      std::vector<std::string> paths;
      for (const auto& r : data::listDomain(suite.root, domain)) paths.push_back(r.path);
      cache.warm(cfg, paths);
    }
  } catch (const api::EmbeddingStopped&) {
    log::info("stopped while embedding the images of {} → {}", src, tgt);
  }
}

std::string runKey(const evaluation::BenchRow& r) {
  return fmt::format("{}|{}|{}|{}|{}|{}", r.source, r.target, r.normal_class, r.seed, r.variant, r.setting);
}

/// The first comma of `values` from `start` outside brackets, or its size: a list key's
/// values ([0.5,0.5,0.5]) hold commas of their own.
size_t nextValueEnd(const std::string& values, size_t start) {
  int depth = 0;
  for (size_t i = start; i < values.size(); ++i) {
    if (values[i] == '[') ++depth;
    if (values[i] == ']') depth = std::max(0, depth - 1);
    if (values[i] == ',' && depth == 0) return i;
  }
  return values.size();
}

/// "key=v1,v2" -> {"key=v1", "key=v2"}; "key=[1,2],[3,4]" -> {"key=[1,2]", "key=[3,4]"};
/// "" -> {""} (the main grid).
std::vector<std::string> sweepSettings(const std::string& sweep) {
  if (sweep.empty()) return {""};
  const auto eq = sweep.find('=');
  SHIFTAD_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < sweep.size(),
                "--sweep '{}': expected section.key=v1,v2,... (e.g. data.contamination=0,0.1,0.2)", sweep);
  std::vector<std::string> out;
  const auto values = sweep.substr(eq + 1);
  for (size_t start = 0, end = 0; start <= values.size(); start = end + 1) {
    end = nextValueEnd(values, start);
    // "0.1,,0.2" ran two values without a word: a value left out by mistake.
    SHIFTAD_CHECK(end > start, "--sweep '{}': value {} is empty; give the values separated by single commas", sweep,
                  out.size() + 1);
    out.push_back(sweep.substr(0, eq + 1) + values.substr(start, end - start));
  }
  return out;
}

/// Raises the log level to warnings for its scope unless `verbose`: a bench's runs
/// would otherwise print every epoch of every run (thousands of lines).
class QuietRuns {
 public:
  explicit QuietRuns(bool verbose) : old_(libraryLogger()->level()) {
    if (!verbose && old_ < spdlog::level::warn) libraryLogger()->set_level(spdlog::level::warn);
  }
  ~QuietRuns() { libraryLogger()->set_level(old_); }
  QuietRuns(const QuietRuns&) = delete;
  QuietRuns& operator=(const QuietRuns&) = delete;

 private:
  spdlog::level::level_enum old_;
};

/// How much of the bench went into getting its inputs (docs/performance.md: with warm
/// caches, decoding and embedding should be a few percent at most).
void logInputTime(const Cache& cache, double wall_seconds) {
  const auto st = cache.stats();
  const double share = wall_seconds > 0 ? 100.0 * (st.decode_seconds + st.embed_seconds) / wall_seconds : 0.0;
  log::info(
      "inputs: decoded {} images in {:.1f}s, embedded {} in {:.1f}s ({:.1f}% of {:.1f}s); "
      "features, cache reads included, took {:.1f}s",
      st.decoded_images, st.decode_seconds, st.embedded_images, st.embed_seconds, share, wall_seconds,
      st.feature_seconds);
}

/// The wall time kept in DIR/bench_time.json (0 without one, or with one that does not parse).
double keptWallTime(const std::string& dir) {
  const auto path = fs::path(dir) / "bench_time.json";
  if (std::ifstream f(path); f) {
    try {
      return nlohmann::json::parse(f).value("wall_seconds", 0.0);
    } catch (const std::exception&) {
      log::warn("'{}' does not parse; its wall time is not counted", path.string());
    }
  }
  return 0.0;
}

/// Add `seconds` to the wall time kept in OUT/bench_time.json (a resumed bench adds
/// its share; a run that only regenerates the report adds nothing) and return the total.
double accumulateWallTime(const std::string& out_dir, double seconds) {
  const auto path = fs::path(out_dir) / "bench_time.json";
  const double total = keptWallTime(out_dir) + seconds;
  writeTextAtomic(path.string(), nlohmann::json{{"wall_seconds", total}}.dump() + "\n");
  return total;
}

/// Write the figures as OUT/figures/NAME.svg. An SVG there that this report does not draw
/// (an earlier report's, e.g. before --no-figures or a merge without some run folders)
/// is removed: it would show results the report no longer holds.
void writeFigures(const std::string& out_dir, const std::vector<evaluation::Figure>& figures) {
  const auto dir = fs::path(out_dir) / "figures";
  fs::create_directories(dir);
  std::set<std::string> drawn;
  for (const auto& f : figures) {
    writeTextAtomic((dir / (f.name + ".svg")).string(), f.svg);
    drawn.insert(f.name + ".svg");
  }
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".svg" && !drawn.count(e.path().filename().string()))
      stale.push_back(e.path());
  for (const auto& p : stale) fs::remove(p);
}

/// The configuration every row of OUT shares: the data root and the suite's config
/// after --set (a sweep's values, variants, seeds and classes are in each row's key),
/// without the keys of how runs go (threads, caches: resultSettings).
std::string benchFingerprint(const Suite& suite, const std::vector<std::string>& overrides) {
  return "root: " + rootSpelling(suite.root) + "\n" +
         dumpConfig(resultSettings(parseConfig(suite.config_yaml, overrides, suite.name, suite.base_dir)));
}

/// A stored fingerprint as this shiftad writes it: its config parsed and dumped again, so
/// that a key added to the schema since, at its default, changes nothing (every key is
/// written out), nor one of how runs go that an earlier version recorded. The text
/// itself when it no longer parses (a key since removed).
std::string currentFingerprint(const std::string& stored) {
  const auto eol = stored.find('\n');
  if (stored.rfind("root: ", 0) != 0 || eol == std::string::npos) return stored;
  try {
    return "root: " + rootSpelling(stored.substr(6, eol - 6)) + "\n" +
           dumpConfig(resultSettings(parseConfig(stored.substr(eol + 1), {}, "bench_config.yaml")));
  } catch (const std::exception&) {
    return stored;
  }
}

/// The first line in which two fingerprints differ, with its YAML section ("train:  lr:
/// 0.01"), as {there, now}; "(nothing)" where one ends first.
std::pair<std::string, std::string> firstDifference(const std::string& there, const std::string& now) {
  std::istringstream a(there), b(now);
  std::string la, lb, section;
  for (;;) {
    const bool more_a = static_cast<bool>(std::getline(a, la)), more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a) la = "(nothing)";
    if (!more_b) lb = "(nothing)";
    if (!more_a || !more_b || la != lb) break;
    if (!la.empty() && la[0] != ' ') section = la;
  }
  if (!section.empty() && !la.empty() && la[0] == ' ') la = section + la, lb = section + lb;
  return {la, lb};
}

/// Rows in OUT are only reused by a bench of the same configuration: a changed suite
/// file or --set must not silently mix old results into a new report.
void checkSameConfig(const std::string& out_dir, const std::string& fingerprint, bool has_rows) {
  const auto path = fs::path(out_dir) / "bench_config.yaml";
  if (has_rows && !fs::exists(path)) {
    log::warn(
        "'{}' has rows but no bench_config.yaml (written by an older shiftad): cannot check that they "
        "were made with this configuration; they are kept",
        (fs::path(out_dir) / "results.csv").string());
  } else if (has_rows) {
    const auto old = currentFingerprint(readText(path.string()));
    if (old != fingerprint) {
      const auto [la, lb] = firstDifference(old, fingerprint);
      SHIFTAD_THROW(
          "'{}' holds results of another configuration ('{}' there, '{}' now); use another --out, or delete "
          "'{}' to start over",
          out_dir, la, lb, (fs::path(out_dir) / "results.csv").string());
    }
  }
  writeTextAtomic(path.string(), fingerprint);
}

/// OUT/bench_data.tsv: the data a bench's rows were made from (dataListing).
constexpr const char* kDataListingFile = "bench_data.tsv";

/// The data the bench reads: every image of its directions' domains below the root, one
/// "domain/class/file<TAB>bytes" line each, in name order, after a line naming the root.
/// A stat per file, not the pixels: a file replaced by one of the same size and name is
/// not seen (docs/scale.md).
std::string dataListing(const Suite& suite) {
  std::set<std::string> domains;
  for (const auto& [src, tgt] : suite.directions) domains.insert(src), domains.insert(tgt);
  std::vector<std::string> lines;
  for (const auto& domain : domains)
    for (const auto& r : data::listDomain(suite.root, domain)) {
      std::error_code ec;
      const auto bytes = fs::file_size(r.path, ec);
      lines.push_back(fs::path(r.path).lexically_relative(suite.root).generic_string() + "\t" +
                      (ec ? std::string("?") : std::to_string(bytes)));
    }
  std::sort(lines.begin(), lines.end());
  std::string text = "# the images below " + suite.root + " a bench read: path, bytes\n";
  for (const auto& l : lines) text += l + "\n";
  return text;
}

/// The first line where two listings differ, as "A there, B here" ("" if none).
std::string firstDataDifference(const std::string& there, const std::string& here, const std::string& where_a,
                                const std::string& where_b) {
  std::istringstream a(there), b(here);
  std::string la, lb;
  const auto shown = [](bool more, const std::string& line) {
    if (!more) return std::string("no further file");
    const auto tab = line.find('\t');
    return tab == std::string::npos ? "'" + line + "'"
                                    : fmt::format("'{}' of {} bytes", line.substr(0, tab), line.substr(tab + 1));
  };
  for (;;) {
    const bool more_a = static_cast<bool>(std::getline(a, la)), more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) return "";
    if (more_a != more_b || la != lb)
      return fmt::format("{} {}, {} {}", shown(more_a, la), where_a, shown(more_b, lb), where_b);
  }
}

/// Rows in OUT are only reused by a bench of the same data: images added, removed or
/// rewritten below the root since would mix two test splits into one report.
void checkSameData(const std::string& out_dir, const std::string& root, const std::string& listing, bool has_rows) {
  const auto path = fs::path(out_dir) / kDataListingFile;
  if (has_rows && fs::exists(path)) {
    const auto why = firstDataDifference(readText(path.string()), listing, "then", "now");
    SHIFTAD_CHECK(why.empty(),
                  "'{}' holds results made from other data below '{}' than it holds now (first difference: {}); "
                  "restore the data, or use another --out, or delete '{}' to start over",
                  out_dir, root, why, (fs::path(out_dir) / "results.csv").string());
  }
  writeTextAtomic(path.string(), listing);
}

/// The data listing the shards of a merge share: refused when two differ (shards run
/// while the data set was updated), naming the root and the first differing file; ""
/// when no shard has one (written by an earlier shiftad: a warning says it is unchecked).
std::string mergedDataListing(const std::vector<std::string>& shards, const std::string& root) {
  std::string listing, first;
  std::vector<std::string> unchecked;
  for (const auto& dir : shards) {
    const auto path = fs::path(dir) / kDataListingFile;
    if (!fs::exists(path)) {
      unchecked.push_back(dir);
      continue;
    }
    const auto text = readText(path.string());
    if (first.empty()) listing = text, first = dir;
    const auto why = firstDataDifference(listing, text, "in '" + first + "'", "in '" + dir + "'");
    SHIFTAD_CHECK(why.empty(),
                  "bench --merge: '{}' and '{}' were made from different data below '{}' (first difference: {}); "
                  "run the shards made from the other data again on one data set (delete their results.csv)",
                  first, dir, root, why);
  }
  if (!unchecked.empty())
    log::warn(
        "bench --merge: {} shard folders have no {} (written by an earlier shiftad; first: '{}'): cannot check "
        "that they were made from the same data as the others",
        unchecked.size(), kDataListingFile, unchecked.front());
  return listing;
}

}  // namespace

int lab::shardOfRun(int64_t k, int64_t variants, int count, ShardDealing dealing) {
  SHIFTAD_CHECK(k >= 0 && variants >= 1 && count >= 1, "shardOfRun: run {} of {} variants in {} shards", k, variants,
                count);
  if (dealing == ShardDealing::kModulo) return static_cast<int>(k % count);
  // Group g (a direction, class, seed and setting) deals its variants starting one shard
  // further than group g - 1: over N groups each variant visits every shard.
  return static_cast<int>((k % variants + k / variants) % count);
}

namespace {

/// The marker a bench writes into its --out: a folder holding it is a bench's, which a
/// bench resumes and rewrites (as kRunMarkerFile marks a run folder).
constexpr const char* kBenchMarker = ".shiftad-bench";

/// What a bench (or the demo: data/) writes into OUT, also as a temporary file
/// (NAME.tmp-PID) an interrupted atomic write leaves.
bool isBenchFile(const std::string& name) {
  static const std::set<std::string> names = {kBenchMarker,      "results.csv", "bench_config.yaml", kDataListingFile,
                                              "bench_time.json", "shard.json",  "report.md",         "report.html",
                                              "figures",         "runs",        api::kLockFile};
  const auto tmp = name.rfind(".tmp-");
  return names.count(name) > 0 || (tmp != std::string::npos && names.count(name.substr(0, tmp)) > 0);
}

/// A bench folder of a version before kBenchMarker: results.csv with a bench's header,
/// bench_config.yaml, and nothing a bench does not write. "" if it is one, else why not.
std::string notAnEarlierBench(const std::string& out_dir, const std::set<std::string>& also = {}) {
  const auto csv = fs::path(out_dir) / "results.csv";
  std::ifstream f(csv);
  std::string header;
  if (!f || !std::getline(f, header) || evaluation::csvHeaderFields(header) == 0)
    return "no marker '" + std::string(kBenchMarker) + "', no results.csv with a bench's header";
  if (!fs::exists(fs::path(out_dir) / "bench_config.yaml"))
    return "no marker '" + std::string(kBenchMarker) + "', no bench_config.yaml";
  for (const auto& e : fs::directory_iterator(out_dir))
    if (!isBenchFile(e.path().filename().string()) && !also.count(e.path().filename().string()))
      return "no marker '" + std::string(kBenchMarker) + "', and '" + e.path().filename().string() +
             "' is no file a bench writes";
  return "";
}

}  // namespace

/// A bench writes results.csv, reports, figures/ and runs/ into OUT: only into a new or
/// empty folder, or one a bench marked as its own (it resumes there).
void lab::checkBenchOut(const std::string& out_dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(out_dir, ec))) return;
  SHIFTAD_CHECK(fs::is_directory(out_dir, ec), "--out '{}' is a file; give a folder", out_dir);
  if (fs::is_empty(out_dir, ec) || fs::is_regular_file(fs::path(out_dir) / kBenchMarker, ec)) return;
  const auto why = notAnEarlierBench(out_dir);
  if (why.empty()) {
    log::info("--out '{}': a bench folder of an earlier shiftad; resumed, and marked as a bench's", out_dir);
    return;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out_dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.size() > 5) names.resize(5);
  SHIFTAD_THROW(
      "--out '{}' is not a bench folder ({}; it holds {}{}) and a bench would write over files there; choose a new "
      "or empty folder",
      out_dir, why, fmt::join(names, ", "), names.size() == 5 ? ", ..." : "");
}

namespace {

/// A demo's OUT of a version before the markers: an earlier bench's files (notAnEarlierBench),
/// a bench_config.yaml whose data root is OUT/data, and a data/ holding only the
/// synthetic benchmark's domains.
bool isEarlierDemo(const std::string& out_dir) {
  std::error_code ec;
  const auto data = fs::absolute(fs::path(out_dir) / "data", ec).lexically_normal();
  if (fs::exists(fs::path(out_dir) / kBenchMarker, ec) || fs::exists(data / data::kSynthMarkerFile, ec) ||
      !fs::is_directory(data, ec) || !notAnEarlierBench(out_dir, {"data"}).empty())
    return false;
  std::ifstream f(fs::path(out_dir) / "bench_config.yaml");
  std::string first;
  if (!std::getline(f, first) || first != "root: " + data.string()) return false;
  const auto domains = data::synthDomains();
  for (const auto& e : fs::directory_iterator(data))
    if (std::find(domains.begin(), domains.end(), e.path().filename().string()) == domains.end()) return false;
  return true;
}

}  // namespace

void lab::checkBenchOptions(const BenchOptions& o) {
  checkNoRepeats(o.variants, "--variants");
  checkNoRepeats(o.seeds, "--seeds");
  checkNoRepeats(o.classes, "--classes");
}

void lab::checkDemoOut(const std::string& out_dir) {
  const auto data = fs::path(out_dir) / "data";
  std::error_code ec;
  if (isEarlierDemo(out_dir)) {
    log::info("--out '{}': the demo folder of an earlier shiftad; rewritten, and marked as the demo's", out_dir);
    writeTextAtomic((data / data::kSynthMarkerFile).string(), "the synthetic benchmark of shiftad (marked later)\n");
    markBenchFolder(out_dir);
    return;
  }
  // A folder holding only data/ is a demo stopped before its bench: synthesize() writes
  // there only if data/ is empty or carries the synthesizer's marker.
  const bool only_data = fs::is_directory(data, ec) && std::distance(fs::directory_iterator(out_dir), {}) == 1;
  if (!only_data) checkBenchOut(out_dir);
}

void lab::markBenchFolder(const std::string& out_dir) {
  const auto marker = fs::path(out_dir) / kBenchMarker;
  std::error_code ec;
  if (fs::is_regular_file(marker, ec)) return;
  std::ofstream f(marker);
  f << "a shiftad bench folder: shiftad may replace the files it wrote here, never others\n";
  SHIFTAD_CHECK(f.good(), "cannot write '{}' (read-only or full?); choose another --out", marker.string());
}

BenchSummary runBench(const BenchOptions& o) {
  lab::checkBenchOut(o.out_dir);
  return lab::runSuite(loadSuite(o.suite, o.quick), o);
}

namespace {

/// The suite as `o` narrows it: root, variants, seeds, classes (each checked).
Suite withOptions(Suite suite, const BenchOptions& o) {
  if (!o.root.empty()) suite.root = rootSpelling(fs::absolute(o.root).string());  // typed here: the working directory
  lab::checkBenchOptions(o);
  if (!o.variants.empty()) suite.variants = o.variants;
  if (!o.seeds.empty()) suite.seeds = o.seeds;
  if (!o.classes.empty()) suite.classes = o.classes;
  for (const auto& v : suite.variants) {
    try {
      variantOverrides(v);
    } catch (const Error& e) {
      SHIFTAD_THROW("{}: {}", o.variants.empty() ? "suite '" + suite.name + "', 'variants'" : "--variants", e.what());
    }
  }
  return suite;
}

/// Rows already in OUT/results.csv (an interrupted bench): kept and not run again. The
/// file is rewritten in the current format, or started with its header.
std::vector<evaluation::BenchRow> keptRows(const Suite& suite, const BenchOptions& o, const std::string& csv_path,
                                           std::set<std::string>& done) {
  std::vector<evaluation::BenchRow> rows;
  if (fs::exists(csv_path)) rows = evaluation::readCsv(csv_path);
  checkSameConfig(o.out_dir, benchFingerprint(suite, o.overrides), !rows.empty());
  checkSameData(o.out_dir, suite.root, dataListing(suite), !rows.empty());
  if (fs::exists(csv_path)) {
    for (const auto& r : rows) done.insert(runKey(r));
    log::info("{}: {} finished runs kept", csv_path, rows.size());
    // Rewritten in the current format (a file of an older version may lack a column).
    std::string text = evaluation::csvHeader() + "\n";
    for (const auto& r : rows) text += evaluation::csvLine(r) + "\n";
    writeTextAtomic(csv_path, text);
  } else {
    std::ofstream(csv_path) << evaluation::csvHeader() << "\n";
  }
  return rows;
}

/// The bench's grid: the classes of each direction and its number of runs.
struct Grid {
  std::vector<std::vector<std::string>> classes_of;  ///< per direction
  int64_t runs = 0;                                  ///< of the whole grid, every shard
};

/// A domain's or class's name is recorded in the runs' UTF-8 files (config.yaml, the
/// checkpoint's JSON header): a folder named in another encoding (Latin-1 `caf\xE9`) is
/// refused before the first run, named with its bytes shown as \xNN.
void checkUtf8Name(const std::string& where, const char* what, const std::string& name) {
  try {
    (void)nlohmann::json(name).dump();
  } catch (const nlohmann::json::exception&) {
    std::string shown;
    for (const char c : name)
      shown += static_cast<unsigned char>(c) >= 0x80 || static_cast<unsigned char>(c) < 0x20
                   ? fmt::format("\\x{:02X}", static_cast<unsigned char>(c))
                   : std::string(1, c);
    SHIFTAD_THROW("{}: {} '{}' is not valid UTF-8 (runs record it in UTF-8 files); rename that folder", where, what,
                  shown);
  }
}

/// The grid of `suite` (classes: the suite's, else every class of the source domain).
/// Every direction and class is checked here, before the first run (a bad one found on
/// reaching it cost the runs before it).
Grid gridOf(const Suite& suite, size_t settings) {
  Grid grid;
  for (const auto& [src, tgt] : suite.directions) {
    const auto where = fmt::format("suite '{}', direction [{}, {}]", suite.name, src, tgt);
    SHIFTAD_CHECK(!data::sameDomainName(src, tgt),
                  "{}: the same domain twice (the test split would be training images); name two domains", where);
    std::vector<std::string> source_classes, target_classes;
    try {
      source_classes = data::listClasses(suite.root, src);
      target_classes = data::listClasses(suite.root, tgt);
    } catch (const Error& e) {
      SHIFTAD_THROW("{}: {}", where, e.what());
    }
    auto classes = suite.classes;
    if (classes.empty())
      for (const auto& r : data::listDomain(suite.root, src))  // an empty class folder is an error here
        if (std::find(classes.begin(), classes.end(), r.cls) == classes.end()) classes.push_back(r.cls);
    checkUtf8Name(where, "domain", src);
    checkUtf8Name(where, "domain", tgt);
    for (const auto& c : classes) checkUtf8Name(where, "class", c);
    for (const auto& c : classes)
      for (const auto* domain : {&source_classes, &target_classes})
        SHIFTAD_CHECK(std::find(domain->begin(), domain->end(), c) != domain->end(),
                      "{}: class '{}' (of --classes or the suite's 'classes') is not a class of domain '{}' in '{}'; "
                      "classes there: {}",
                      where, c, domain == &source_classes ? src : tgt, suite.root, fmt::join(*domain, ", "));
    grid.runs += static_cast<int64_t>(classes.size() * suite.seeds.size() * suite.variants.size() * settings);
    grid.classes_of.push_back(classes);
  }
  return grid;
}

/// The config of one run of the grid.
Config runConfig(const Suite& suite, const BenchOptions& o, const evaluation::BenchRow& row) {
  // --set changes the suite's config; the variant's own keys come after it, so a
  // variant always is what its name says (e.g. source_only never aligns).
  // A bench resumes by whole runs (results.csv), so a run needs no periodic
  // checkpoints; --set can still ask for them.
  std::vector<std::string> ov = {"train.checkpoint_every=0"};
  ov.insert(ov.end(), o.overrides.begin(), o.overrides.end());
  if (!row.setting.empty()) ov.push_back(row.setting);
  for (const auto& kv : variantOverrides(row.variant)) ov.push_back(kv);
  if (readsLabels(findVariant(row.variant))) ov.push_back("data.target_labels=true");
  // Names are set as they are, not as "key=value" text: YAML would read a class `~` or
  // `null` as nothing, `#c` as a comment, `a: b` as a mapping.
  auto cfg = parseConfig(suite.config_yaml, ov, suite.name, suite.base_dir);
  cfg.data.root = suite.root;
  cfg.data.source = row.source, cfg.data.target = row.target, cfg.data.normal_class = row.normal_class;
  cfg.data.pool_images = "";  // one-vs-all: the pool and the test split are split from the target's class folders
  cfg.data.test_images = "";
  cfg.data.split_seed = row.seed, cfg.train.seed = row.seed;
  validateConfig(cfg);
  return cfg;
}

/// Whether the run in `dir` was started with `cfg`'s settings (changedSettings).
bool hasSettingsOf(const std::string& dir, const Config& cfg) {
  try {
    return changedSettings(loadRunConfig(dir), cfg).empty();
  } catch (const std::exception&) {
    return false;  // a config that no longer reads: trained anew
  }
}

/// Whether RUN_DIR holds a fit of `cfg` that a stop interrupted (a checkpoint, no
/// calibration yet), in the folder or in the replacement a resume would take first.
bool interruptedFitOf(const std::string& run_dir, const Config& cfg) {
  for (const auto& dir : {api::replacementDir(run_dir), run_dir}) {
    std::error_code ec;
    if (!fs::exists(fs::path(dir) / kConfigFile, ec)) continue;
    if (!fs::exists(fs::path(dir) / kCheckpointFile, ec) || fs::exists(fs::path(dir) / kCalibrationFile, ec))
      return false;
    return hasSettingsOf(dir, cfg);
  }
  return false;
}

/// Whether RUN_DIR holds a finished fit of `cfg` that has no row yet: one a stop
/// interrupted and the user finished with `shiftad train --resume` (the stop's message
/// offers it), or one whose bench was killed before its row was written. It is
/// evaluated as it is; training it again gave the same row, later.
bool finishedFitOf(const std::string& run_dir, const Config& cfg) {
  std::error_code ec;
  return !fs::exists(api::replacementDir(run_dir), ec) && api::runCompleted(run_dir) && hasSettingsOf(run_dir, cfg);
}

/// The training seconds a finished run's summary.json records (0 when unreadable).
double trainingSeconds(const std::string& run_dir) {
  const auto j = nlohmann::json::parse(readText((fs::path(run_dir) / kSummaryFile).string()), nullptr, false);
  return j.is_object() && j.contains("seconds") && j["seconds"].is_number() ? j["seconds"].get<double>() : 0.0;
}

/// Train and evaluate one run into its folder; fills the row's results. False when a stop
/// (SIGINT, SIGTERM) interrupted its fit: its checkpoint is kept, and the next bench in
/// OUT resumes the run from it.
bool runOne(const Config& cfg, const BenchOptions& o, const std::shared_ptr<Cache>& cache, evaluation::BenchRow& row) {
  const auto run_dir = lab::benchRunDir(o.out_dir, row);
  FitOptions replace;  // the bench's own folder: a run without a row is redone, or resumed
  replace.overwrite = true;
  replace.resume = interruptedFitOf(run_dir, cfg);
  replace.cache = cache;
  TrainSummary summary;
  EvalResult eval;
  {
    const QuietRuns quiet(o.verbose);
    const bool finished = finishedFitOf(run_dir, cfg);
    LoadOptions load;
    load.cache = cache;
    auto detector = finished ? Detector::load(run_dir, load) : Detector::fit(cfg, run_dir, replace);
    summary = finished ? TrainSummary{} : detector.trainSummary();
    if (finished) summary.seconds = trainingSeconds(run_dir);
    if (summary.interrupted) return false;
    eval = detector.evaluate(cfg, (fs::path(run_dir) / kTestScoresFile).string());
  }
  if (const auto pool = poolDiagnostics(run_dir); pool.present) {
    row.purity = pool.dominant_purity, row.share = pool.dominant_share;
    row.contamination_estimate = pool.contamination_estimate, row.contamination = pool.contamination;
  }
  // The end-of-training state is only needed to resume an interrupted run; a
  // finished bench run keeps its weights (model.safetensors), not ~20 MB of Adam state.
  fs::remove(fs::path(run_dir) / kCheckpointFile);
  row.auroc = eval.auroc, row.aupr = eval.aupr, row.seconds = summary.seconds;
  row.f1 = eval.f1, row.f1_max = eval.f1_max, row.precision = eval.precision, row.recall = eval.recall;
  row.fpr = eval.fpr;
  return true;
}

/// The paper's published figures shipped with the suites; none, with a warning, where a
/// binary copied without them runs a suite file of its own (its runs are done by then).
std::vector<evaluation::PaperFigure> paperFigures() {
  const auto path = fs::path(suitesDir()) / "paper" / "auroc.csv";
  std::error_code ec;
  if (fs::exists(path, ec) || ec) return evaluation::readPaperFigures(path.string());
  log::warn(
      "the paper's figures are not at '{}' (the shipped suites are not beside this shiftad): the report "
      "leaves them out",
      path.string());
  return {};
}

/// The settings a report's protocol names: the suite's config with --set and `setting`
/// (a sweep's value), before any variant's own keys. The last run's config named that
/// variant's: "alignment none" under a grid that ended with source_only.
Config suiteSettings(const Suite& suite, const BenchOptions& o, const std::string& setting) {
  std::vector<std::string> ov = o.overrides;
  if (!setting.empty()) ov.push_back(setting);
  return parseConfig(suite.config_yaml, ov, suite.name, suite.base_dir);
}

/// report.md, report.html and figures/ of every row.
void writeReport(const Suite& suite, const BenchOptions& o, const std::vector<evaluation::BenchRow>& rows, int64_t ran,
                 const std::shared_ptr<Cache>& cache, BenchSummary& out) {
  evaluation::ReportInfo info;
  info.title = suite.name + (o.quick ? " (quick)" : "") + (o.sweep.empty() ? "" : ", sweep " + o.sweep);
  const bool one_shard = o.shard_count > 1 && o.merge_from.empty();  // its own report: a part of the grid
  if (one_shard)
    info.title += fmt::format(", shard {} of {} (partial: for the bench's figures, merge the shards)", o.shard_index,
                              o.shard_count);
  info.suite = suite.name;
  info.paper = paperFigures();
  // Not starred where --variants left it out: the captions would name a mark no curve has.
  const bool has_recommended = std::any_of(
      rows.begin(), rows.end(), [&](const evaluation::BenchRow& r) { return r.variant == suite.recommended; });
  info.recommended = has_recommended ? suite.recommended : "";
  info.figures = evaluation::summaryFigures(rows, info.recommended);
  if (o.figures) {
    log::info("figures: ROC curves and PCA projections");
    for (auto f : lab::rocFigures(o.out_dir, rows, info.recommended)) info.figures.push_back(std::move(f));
    for (auto f : lab::projectionFigures(o.out_dir, rows, cache, info.recommended))
      info.figures.push_back(std::move(f));
  }
  writeFigures(o.out_dir, info.figures);
  info.command = o.command;
  info.machine = machine();
  info.protocol = protocol(suite, suiteSettings(suite, o, rows.empty() ? "" : rows.back().setting));
  if (one_shard)
    info.protocol += fmt::format(
        "- Shard {} of {}: one run in {} of the grid, so a variant's cells hold other classes and seeds than "
        "another's; compare variants in the report of the merged shards (`--merge`, docs/scale.md)\n",
        o.shard_index, o.shard_count, o.shard_count);
  if (!o.sweep.empty()) {
    const auto key = o.sweep.substr(0, o.sweep.find('='));
    std::vector<std::string> values;
    for (const auto& st : sweepSettings(o.sweep)) values.push_back(st.substr(key.size() + 1));
    info.protocol += fmt::format(
        "- Swept: `{}` = {} (each value's results are in the sweep's tables; the lines above show the last "
        "value's config)\n",
        key, fmt::join(values, ", "));
  }
  info.wall_seconds = out.seconds;
  info.total_wall_seconds = accumulateWallTime(o.out_dir, ran > 0 ? out.seconds : 0.0);
  info.frozen_variants = variantsWhere(frozenBaseline);
  info.upper_bounds = variantsWhere(readsLabels);
  out.report = (fs::path(o.out_dir) / "report.md").string();
  writeTextAtomic(out.report, evaluation::markdownReport(rows, info));
  writeTextAtomic((fs::path(o.out_dir) / "report.html").string(), evaluation::htmlReport(rows, info));
}

/// Calls `visit(row)` for every run of the grid, in the grid order (direction, class,
/// seed, setting, variant), and `direction(src, tgt)` before each direction's runs.
void forEachRun(const Suite& suite, const std::vector<std::string>& settings,
                const std::vector<std::vector<std::string>>& classes_of,
                const std::function<void(const std::string&, const std::string&)>& direction,
                const std::function<void(evaluation::BenchRow&)>& visit) {
  for (size_t di = 0; di < suite.directions.size(); ++di) {
    const auto& [src, tgt] = suite.directions[di];
    direction(src, tgt);
    for (const auto& cls : classes_of[di])
      for (int seed : suite.seeds)
        for (const auto& setting : settings)
          for (const auto& variant : suite.variants) {
            evaluation::BenchRow row{src, tgt, cls, variant, seed, 0, 0, -1, -1, 0, setting};
            visit(row);
          }
  }
}

/// runOne, its error naming the run of the grid it came from (in a grid of hundreds,
/// the last `[k/n]` line named the run before it).
bool runNamed(const Config& cfg, const BenchOptions& o, const std::shared_ptr<Cache>& cache,
              evaluation::BenchRow& row) {
  try {
    return runOne(cfg, o, cache, row);
  } catch (const Error& e) {
    SHIFTAD_THROW("the run {} → {} class '{}' seed {} {}{} failed: {}", row.source, row.target, row.normal_class,
                  row.seed, row.variant, row.setting.empty() ? "" : " " + row.setting, e.what());
  }
}

/// Whether the run at grid position k belongs to this process's shard.
bool inShard(const BenchOptions& o, int64_t k, int64_t variants, ShardDealing dealing) {
  return lab::shardOfRun(k, variants, o.shard_count, dealing) == o.shard_index - 1;
}

/// How many runs of this shard's grid `done` holds already: rows of other --seeds,
/// --classes or --variants kept in results.csv are none of them.
int64_t doneInShard(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings, const Grid& g,
                    const std::set<std::string>& done, ShardDealing dealing) {
  const auto variants = static_cast<int64_t>(suite.variants.size());
  int64_t n = 0, k = -1;
  forEachRun(
      suite, settings, g.classes_of, [](const std::string&, const std::string&) {},
      [&](evaluation::BenchRow& r) { n += inShard(o, ++k, variants, dealing) && done.count(runKey(r)) ? 1 : 0; });
  return n;
}

/// The grid's runs of this shard in order, skipping those in `done`; each finished run
/// appends its row to `csv` and `rows`. Returns how many ran. A stop (SIGINT, SIGTERM)
/// ends it between runs, or stops the run in progress at a checkpoint: `out.interrupted`
/// is set, and `out.checkpointed` in the second case.
int64_t runGrid(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings, const Grid& g,
                const std::set<std::string>& done, std::ostream& csv, std::vector<evaluation::BenchRow>& rows,
                Config& last, const std::shared_ptr<Cache>& cache, ShardDealing dealing, BenchSummary& out) {
  const auto variants = static_cast<int64_t>(suite.variants.size());
  int64_t total = 0;
  for (int64_t k = 0; k < g.runs; ++k) total += inShard(o, k, variants, dealing) ? 1 : 0;
  if (o.shard_count > 1)
    log::info("shard {}/{}: {} of the grid's {} runs", o.shard_index, o.shard_count, total, g.runs);
  int64_t ran = 0, k = -1;
  const int64_t kept = doneInShard(suite, o, settings, g, done, dealing);
  bool& stopped = out.interrupted;
  // The runs of this process (kept rows are not run again) and their directions; the
  // per-run line below prints the ETA.
  const auto started = std::chrono::steady_clock::now();
  lab::BenchEta eta(total - kept, static_cast<int64_t>(suite.directions.size()));
  const auto direction = [&](const std::string& src, const std::string& tgt) {
    const auto t = std::chrono::steady_clock::now();
    if (!stopped) prefetch(*cache, suite, src, tgt, o.overrides);
    eta.directionPrepared(secondsSince(t));
  };
  forEachRun(suite, settings, g.classes_of, direction, [&](evaluation::BenchRow& row) {
    if (stopped || !inShard(o, ++k, variants, dealing)) return;
    last = runConfig(suite, o, row);
    if (done.count(runKey(row))) return;
    const auto t0 = std::chrono::steady_clock::now();
    stopped = api::stopRequested().load();
    if (!stopped && !runNamed(last, o, cache, row)) stopped = out.checkpointed = true;
    if (stopped) return;
    csv << evaluation::csvLine(row) << "\n" << std::flush;
    SHIFTAD_CHECK(csv.good(),
                  "cannot append the row of run {} to '{}' (disk full?); free space and run the same command: it "
                  "resumes, running that run again",
                  runKey(row), (fs::path(o.out_dir) / "results.csv").string());
    rows.push_back(row);
    ++ran;
    // The run's own time, training and the evaluation on the test split (which dominates
    // a short fit on a large target), then the training's (results.csv's train_seconds).
    const double run_seconds = secondsSince(t0);
    eta.runEnded();
    const double left = eta.secondsLeft(secondsSince(started));
    log::info("[{}/{}] {} → {} class '{}' seed {} {}{}: AUROC {:.3f} ({:.1f}s, training {:.1f}s){}", kept + ran, total,
              row.source, row.target, row.normal_class, row.seed, row.variant,
              row.setting.empty() ? "" : " " + row.setting, row.auroc, run_seconds, row.seconds,
              left >= 0 ? ", ETA " + formatDuration(left) : "");
  });
  return ran;
}

/// OUT/shard.json says which shard of the grid a folder holds, and how the grid was
/// dealt: a folder is resumed only as the same shard, and one written before the dealing
/// rotated ("dealing" absent) keeps its modulo dealing, so that its kept rows stay its own.
ShardDealing checkSameShard(const BenchOptions& o) {
  const auto path = fs::path(o.out_dir) / "shard.json";
  nlohmann::json now = {{"index", o.shard_index}, {"count", o.shard_count}, {"dealing", kRotatedDealing}};
  auto dealing = ShardDealing::kRotated;
  if (fs::exists(path)) {
    int index = 0, count = 0, version = 0;
    try {
      const auto old = nlohmann::json::parse(readText(path.string()));
      index = old.at("index").get<int>(), count = old.at("count").get<int>();
      version = old.contains("dealing") ? old.at("dealing").get<int>() : 0;
    } catch (const std::exception&) {
      SHIFTAD_THROW(
          "'{}' does not parse as a shard's index, count and dealing; delete it (and the folder's "
          "results.csv) to start over",
          path.string());
    }
    SHIFTAD_CHECK(index == o.shard_index && count == o.shard_count,
                  "'{}' holds shard {}/{} of a bench, not {}/{}; use another --out", o.out_dir, index, count,
                  o.shard_index, o.shard_count);
    SHIFTAD_CHECK(version == 0 || version == kRotatedDealing,
                  "'{}' was dealt by another shiftad (dealing {}); resume it with that version", path.string(),
                  version);
    if (version == 0) dealing = ShardDealing::kModulo, now.erase("dealing");  // written before "dealing"
  } else if (o.shard_count > 1) {
    SHIFTAD_CHECK(!fs::exists(fs::path(o.out_dir) / "results.csv"),
                  "'{}' holds results of an unsharded bench; give shard {}/{} its own --out", o.out_dir, o.shard_index,
                  o.shard_count);
  }
  if (o.shard_count > 1) writeTextAtomic(path.string(), now.dump() + "\n");
  return dealing;
}

/// A shard's run folder into the merged bench (replacing what a former merge left there).
/// Its files are hard-linked where the filesystem allows (a PACS sweep's runs/ is ~15 GB,
/// which a copy would double; run files are never rewritten in place, so the links stay
/// equal), else copied.
void copyRunFolder(const std::string& from, const std::string& to) {
  if (!fs::is_directory(from)) return;  // a row of a bench before run folders (checkRunFolders)
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(fs::path(to).parent_path(), ec);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::create_hard_links, ec);
  if (ec) {  // another filesystem, or one without hard links
    fs::remove_all(to, ec);
    fs::copy(from, to, fs::copy_options::recursive, ec);
  }
  SHIFTAD_CHECK(!ec, "bench --merge: cannot copy '{}' to '{}': {}", from, to, ec.message());
}

/// A row of the merge and the shard folder it comes from.
struct MergedRow {
  evaluation::BenchRow row;
  std::string shard;
};

/// The rows of the shard folders in grid order, each with its folder. Only reads: it runs
/// before OUT is made (planMerge).
std::vector<MergedRow> mergedRows(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings,
                                  const Grid& grid, double& shard_seconds) {
  const auto fingerprint = benchFingerprint(suite, o.overrides);
  std::map<std::string, MergedRow> found;  // key -> row, its folder
  for (const auto& dir : o.merge_from) {
    const auto csv = fs::path(dir) / "results.csv";
    const auto config = fs::path(dir) / "bench_config.yaml";
    SHIFTAD_CHECK(fs::exists(csv) && fs::exists(config),
                  "bench --merge: '{}' is not a bench folder (no results.csv or bench_config.yaml)", dir);
    const auto theirs = currentFingerprint(readText(config.string()));
    if (theirs != fingerprint) {
      const auto [la, lb] = firstDifference(theirs, fingerprint);
      SHIFTAD_THROW(
          "bench --merge: '{}' holds results of another configuration than this bench's ('{}' there, '{}' now); "
          "merge shards of one bench, given the same --suite, --root and --set",
          dir, la, lb);
    }
    for (const auto& r : evaluation::readCsv(csv.string())) {
      const auto [it, fresh] = found.emplace(runKey(r), MergedRow{r, dir});
      SHIFTAD_CHECK(fresh, "bench --merge: run {} is in both '{}' and '{}'", runKey(r), it->second.shard, dir);
    }
    shard_seconds += keptWallTime(dir);
  }
  std::vector<MergedRow> rows;
  std::vector<std::string> missing;
  forEachRun(
      suite, settings, grid.classes_of, [](const std::string&, const std::string&) {},
      [&](evaluation::BenchRow& row) {
        const auto it = found.find(runKey(row));
        if (it == found.end()) return missing.push_back(runKey(row));
        rows.push_back(it->second);
        found.erase(it);
      });
  SHIFTAD_CHECK(missing.empty(),
                "bench --merge: {} runs of the grid are in none of the shards (first: {}); run the missing shards "
                "(or resume the interrupted ones) first",
                missing.size(), missing.front());
  SHIFTAD_CHECK(found.empty(),
                "bench --merge: run {} of '{}' is not in this bench's grid (other variants, seeds or "
                "classes?); merge with the options the shards ran with",
                found.begin()->first, found.begin()->second.shard);
  return rows;
}

/// Every merged row has its run folder in its shard (a partial copy or rsync of a shard
/// loses runs silently otherwise). A shard folder (shard.json) was written by a shiftad
/// that makes a folder for every run, and its folder never holds rows of another: a row
/// without one is refused. An unsharded bench folder may hold rows of a bench before run
/// folders (kept when it was resumed), which nothing tells from lost ones: warned about,
/// with their count, and merged without a folder.
void checkRunFolders(const std::vector<MergedRow>& rows) {
  std::map<std::string, std::vector<std::string>> without;  // folder -> keys of rows without a run folder
  for (const auto& m : rows) {
    const auto dir = lab::benchRunDir(m.shard, m.row);
    if (fs::is_directory(dir)) continue;
    SHIFTAD_CHECK(!fs::exists(fs::path(m.shard) / "shard.json"),
                  "bench --merge: run {} of shard '{}' has its row in '{}' but no run folder '{}' (a partial copy of "
                  "the shard?); nothing was merged. Copy the shard's folder whole again, or delete that row from its "
                  "results.csv and run the shard again (it runs only that run)",
                  runKey(m.row), m.shard, (fs::path(m.shard) / "results.csv").string(), dir);
    without[m.shard].push_back(runKey(m.row));
  }
  for (const auto& [dir, keys] : without)
    log::warn(
        "bench --merge: {} rows of '{}' have no run folder (first: {}): rows of a bench before run folders, or "
        "folders lost (this unsharded folder cannot tell which); merged without one, so the merged runs/ lacks them "
        "and the ROC and PCA figures leave them out",
        keys.size(), dir, keys.front());
}

/// The rows of this bench's grid (its directions, classes, seeds, variants and sweep
/// values, or the main grid without --sweep). A resumed folder may hold rows of a bench
/// with other --seeds, --classes, --variants or --sweep: the report would average them
/// in (or show a sweep section) while its title and protocol list this bench's grid.
/// They stay in results.csv, out of the report, with a warning.
std::vector<evaluation::BenchRow> rowsOfGrid(const Suite& suite, const std::vector<std::string>& settings,
                                             const Grid& grid, const std::vector<evaluation::BenchRow>& rows) {
  std::set<std::string> keys;
  forEachRun(
      suite, settings, grid.classes_of, [](const std::string&, const std::string&) {},
      [&](evaluation::BenchRow& r) { keys.insert(runKey(r)); });
  std::vector<evaluation::BenchRow> out;
  std::vector<std::string> left;
  for (const auto& r : rows) {
    if (keys.count(runKey(r)))
      out.push_back(r);
    else
      left.push_back(runKey(r));
  }
  if (!left.empty())
    log::warn(
        "{} rows of results.csv are not in this bench's grid (first: {}; made with other --seeds, --classes, "
        "--variants or --sweep): kept in the file, left out of the report; rerun with the options they were made "
        "with to report them",
        left.size(), left.front());
  return out;
}

/// What bench --merge brings from the shards.
struct MergePlan {
  std::vector<MergedRow> merged;
  std::string listing;  ///< their data listing
  double shard_seconds = 0;
};

/// bench --merge's reading and checking of the shards, made before OUT is created: a
/// refused merge into a new folder left it behind, holding only its marker.
MergePlan planMerge(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings,
                    const Grid& grid) {
  for (const auto& dir : o.merge_from)
    SHIFTAD_CHECK(fs::weakly_canonical(dir) != fs::weakly_canonical(o.out_dir),
                  "bench --merge: --out '{}' is one of the shards; merge into another folder", o.out_dir);
  // A shard's folder is resumed as that shard: the merge's rows and links would make it a
  // whole bench that still says it is one shard.
  SHIFTAD_CHECK(!fs::exists(fs::path(o.out_dir) / "shard.json"),
                "bench --merge: --out '{}' is the folder of a shard of a bench ('{}'); merge into another folder",
                o.out_dir, (fs::path(o.out_dir) / "shard.json").string());
  MergePlan plan;
  plan.merged = mergedRows(suite, o, settings, grid, plan.shard_seconds);
  checkRunFolders(plan.merged);
  plan.listing = mergedDataListing(o.merge_from, suite.root);
  return plan;
}

/// bench --merge: the shards' rows as one bench's results.csv, runs/ and report.
BenchSummary mergeShards(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings,
                         const Grid& grid, const MergePlan& plan, const std::string& csv_path,
                         std::chrono::steady_clock::time_point t0) {
  const auto& [merged, listing, shard_seconds] = plan;
  // Rows already in OUT (an earlier merge or bench) are replaced only by this same configuration's.
  const auto before = fs::exists(csv_path) ? evaluation::readCsv(csv_path) : std::vector<evaluation::BenchRow>{};
  checkSameConfig(o.out_dir, benchFingerprint(suite, o.overrides), !before.empty());
  // Its rows the merge does not bring (other seeds, classes, variants) stay, as a resume keeps them.
  std::set<std::string> brought;
  for (const auto& m : merged) brought.insert(runKey(m.row));
  std::vector<evaluation::BenchRow> rows;
  std::string text = evaluation::csvHeader() + "\n";
  for (const auto& r : before)
    if (!brought.count(runKey(r))) rows.push_back(r), text += evaluation::csvLine(r) + "\n";
  for (const auto& m : merged) {
    copyRunFolder(lab::benchRunDir(m.shard, m.row), lab::benchRunDir(o.out_dir, m.row));
    rows.push_back(m.row);
    text += evaluation::csvLine(m.row) + "\n";
  }
  writeTextAtomic(csv_path, text);
  if (listing.empty())
    fs::remove(fs::path(o.out_dir) / kDataListingFile);  // an earlier bench's: not these rows' data
  else
    writeTextAtomic((fs::path(o.out_dir) / kDataListingFile).string(), listing);
  fs::remove(fs::path(o.out_dir) / "bench_time.json");
  accumulateWallTime(o.out_dir, shard_seconds);  // the shards' time, not the merge's
  log::info("merged {} runs from {} shard folders into {}", merged.size(), o.merge_from.size(), csv_path);
  const auto cache = std::make_shared<Cache>();
  BenchSummary out;
  out.runs = static_cast<int64_t>(merged.size());
  out.seconds = secondsSince(t0);
  writeReport(suite, o, rowsOfGrid(suite, settings, grid, rows), 0, cache, out);
  return out;
}

/// OUT at or below the data root would be made inside the user's data, where the bench
/// then reads it as a domain or a class folder.
void checkOutOutsideRoot(const Suite& suite, const BenchOptions& o) {
  const auto root = fs::weakly_canonical(suite.root), out = fs::weakly_canonical(fs::absolute(o.out_dir));
  const auto inside = std::mismatch(root.begin(), root.end(), out.begin(), out.end()).first == root.end();
  SHIFTAD_CHECK(!inside,
                "--out '{}' lies in the data root '{}', where a bench's files would be read as data; choose a folder "
                "outside it",
                o.out_dir, suite.root);
}

/// The keys ("section.key") a suite's `config:` YAML sets.
std::vector<std::string> configKeys(const std::string& config_yaml) {
  std::vector<std::string> out;
  const auto root = YAML::Load(config_yaml);
  if (!root.IsMap()) return out;
  for (const auto& section : root)
    if (section.second.IsMap())
      for (const auto& key : section.second) out.push_back(section.first.Scalar() + "." + key.first.Scalar());
  return out;
}

/// The key of a "key=value" assignment.
std::string keyOf(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

/// The variants of the grid that set `key` themselves, each with its assignment.
std::vector<std::string> variantsSetting(const Suite& suite, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& v : suite.variants)
    for (const auto& kv : findVariant(v).overrides)
      if (keyOf(kv) == key) out.push_back(fmt::format("'{}' ({})", v, kv));
  return out;
}

/// --set and --sweep of a key the bench sets for each run, or that every variant of the
/// grid sets itself, would change nothing: refused, naming the key and who sets it. A
/// key only some variants set applies to the others (e.g. align.method with source_only
/// as the baseline): a warning names those that keep their own value.
void checkKeysNotOverridden(const Suite& suite, const BenchOptions& o) {
  static const std::map<std::string, std::string> kBenchKeys = {
      {"data.root", "--root or the suite's 'root'"},
      {"data.source", "the suite's 'directions'"},
      {"data.target", "the suite's 'directions'"},
      {"data.pool_images", "the suite's 'directions' (a bench tests on labelled target domains)"},
      {"data.test_images", "the suite's 'directions' (a bench tests on each target domain's own test share)"},
      {"data.normal_class", "--classes or the suite's 'classes'"},
      {"data.split_seed", "--seeds or the suite's 'seeds'"},
      {"train.seed", "--seeds or the suite's 'seeds'"},
      {"run.variant", "--variants"}};
  std::vector<std::pair<std::string, std::string>> given;  // option, key
  // The suite's config: its keys are the runs' base, lost as silently as --set's.
  for (const auto& key : configKeys(suite.config_yaml))
    given.emplace_back(fmt::format("suite '{}', 'config:'", suite.name), key);
  const size_t from_suite = given.size();
  for (const auto& kv : o.overrides) {
    // The sweep's values replace it in every run, while bench_config.yaml recorded it.
    SHIFTAD_CHECK(o.sweep.empty() || keyOf(kv) != keyOf(o.sweep),
                  "--set {} and --sweep {}: the sweep gives {} its values in every run, so the --set value would be "
                  "ignored; drop the --set",
                  kv, o.sweep, keyOf(kv));
    given.emplace_back("--set", keyOf(kv));
  }
  if (!o.sweep.empty()) given.emplace_back("--sweep", keyOf(o.sweep));
  for (size_t i = 0; i < given.size(); ++i) {
    const auto& [option, key] = given[i];
    const auto bench = kBenchKeys.find(key);
    SHIFTAD_CHECK(bench == kBenchKeys.end(),
                  "{} {}: the bench sets this key for each run, so the value given would be ignored; use {} instead",
                  option, key, bench == kBenchKeys.end() ? "" : bench->second);
    const auto setting = variantsSetting(suite, key);
    SHIFTAD_CHECK(setting.size() < suite.variants.size(),
                  "{} {}: every variant of the bench sets this key itself ({}), so the value given would be ignored; "
                  "add a variant that does not (--variants), or do not set {}",
                  option, key, fmt::join(setting, ", "), key);
    // A suite's base that some variants change is what suites are for (source_only's align.method).
    if (!setting.empty() && i >= from_suite)
      log::warn("{} {}: variant {} sets this key itself and keeps its own value; the others take the one given", option,
                key, fmt::join(setting, ", "));
  }
}

/// Every value of the sweep parses with the suite's config and --set (a bad key or value
/// fails before any run, named as --sweep's), and no two give the same config.
void checkSweep(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings) {
  parseConfig(suite.config_yaml, o.overrides, suite.name, suite.base_dir);  // --set's errors are its own
  std::map<std::string, std::string> seen;                                  // config dump -> the value that gave it
  for (const auto& st : settings) {
    if (st.empty()) continue;
    auto ov = o.overrides;
    ov.push_back(st);
    std::string dump;
    try {
      dump = dumpConfig(parseConfig(suite.config_yaml, ov, suite.name, suite.base_dir));
    } catch (const Error& e) {
      // The value is applied as the last override: its errors are named as --set's.
      const std::string why = e.what();
      SHIFTAD_THROW("{}", why.rfind("--set", 0) == 0 ? "--sweep" + why.substr(5) : "--sweep '" + st + "': " + why);
    }
    const auto [it, fresh] = seen.emplace(dump, st);
    SHIFTAD_CHECK(fresh,
                  "--sweep: '{}' and '{}' are the same value; give each value once (twice would run and count the "
                  "same runs twice)",
                  it->second, st);
  }
}

}  // namespace

/// The files a run's config names exist: a shipped suite names its weights relative to
/// the source tree (`../../shared/weights/...`), which an installed tree does not have
/// beside it; said before --out is made, with the --set that fixes it.
void checkNamedFilesExist(const Suite& suite, const Config& cfg) {
  const auto check = [&](const std::string& key, const std::string& path) {
    if (path.empty() || fs::is_regular_file(path)) return;
    SHIFTAD_THROW(
        "suite '{}': {} '{}' does not exist (the suite names it relative to its own folder '{}'); give where that "
        "file is with --set {}=PATH",
        suite.name, key, path, suite.base_dir, key);
  };
  check("model.weights", cfg.model.weights);
  if (cfg.encoder.type == EncoderType::kTorchScript) check("encoder.path", cfg.encoder.path);
}

/// Every variant's config, under each sweep value, is whole before the first run: a
/// variant that cannot run (frozen_only without an encoder) was found only when the
/// bench reached it, after the runs before it were spent.
void checkEveryVariantRuns(const Suite& suite, const BenchOptions& o, const std::vector<std::string>& settings,
                           const Grid& grid) {
  if (suite.directions.empty() || grid.classes_of.empty() || grid.classes_of.front().empty()) return;
  evaluation::BenchRow row;
  std::tie(row.source, row.target) = suite.directions.front();
  row.normal_class = grid.classes_of.front().front();
  row.seed = suite.seeds.empty() ? 0 : suite.seeds.front();
  for (const auto& variant : suite.variants)
    for (const auto& setting : settings) {
      row.variant = variant, row.setting = setting;
      Config cfg;
      try {
        cfg = runConfig(suite, o, row);
      } catch (const Error& e) {
        SHIFTAD_THROW(
            "suite '{}', variant '{}'{}: {}; fix the suite's config or --set, or leave the variant out "
            "(--variants)",
            suite.name, variant, setting.empty() ? "" : " with " + setting, e.what());
      }
      checkNamedFilesExist(suite, cfg);
    }
}

BenchSummary lab::runSuite(Suite suite_in, const BenchOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto suite = withOptions(std::move(suite_in), o);
  const auto settings = sweepSettings(o.sweep);
  checkKeysNotOverridden(suite, o);
  checkSweep(suite, o, settings);
  SHIFTAD_CHECK(!suite.root.empty(), "suite '{}' has no 'root' (its data's folder); pass --root, or add root: to it",
                suite.name);
  SHIFTAD_CHECK(fs::is_directory(suite.root), "suite '{}': data root '{}' is not a folder; pass --root{}", suite.name,
                suite.root, tildeHint(suite.root));
  const auto grid = gridOf(suite, settings.size());  // every direction and class, before --out is made
  checkEveryVariantRuns(suite, o, settings, grid);
  checkOutOutsideRoot(suite, o);
  std::optional<MergePlan> merge;
  if (!o.merge_from.empty()) merge = planMerge(suite, o, settings, grid);
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  SHIFTAD_CHECK(!ec, "--out '{}' cannot be created: {}; choose another folder", o.out_dir, ec.message());
  // A bench is a sequence of fits: SIGINT or SIGTERM (handleInterrupts) stops the fit in
  // progress at a checkpoint, or the bench between two fits, as it stops `train`. A merge
  // trains nothing: the signal keeps its default action.
  std::optional<api::FitInProgress> benching;
  if (o.merge_from.empty()) benching.emplace();
  // One bench at a time in OUT: a second one's rows would go to a results.csv the first
  // rewrites (its appends lost), and their reports would mix.
  const api::RunLock lock(o.out_dir, "bench folder");
  lab::markBenchFolder(o.out_dir);
  const auto csv_path = (fs::path(o.out_dir) / "results.csv").string();
  if (merge) return mergeShards(suite, o, settings, grid, *merge, csv_path, t0);
  const auto dealing = checkSameShard(o);
  std::set<std::string> done;
  auto rows = keptRows(suite, o, csv_path, done);
  std::ofstream csv(csv_path, std::ios::app);
  // One cache for every run: each image is decoded and embedded once.
  const auto cache = std::make_shared<Cache>();
  Config last;
  BenchSummary out;
  out.runs = runGrid(suite, o, settings, grid, done, csv, rows, last, cache, dealing, out);
  out.seconds = secondsSince(t0);
  if (out.interrupted) {
    accumulateWallTime(o.out_dir, out.seconds);
    return out;  // the locks are released; the same command resumes
  }
  logInputTime(*cache, out.seconds);
  writeReport(suite, o, rowsOfGrid(suite, settings, grid, rows), out.runs, cache, out);
  return out;
}

}  // namespace shiftad
