// The `shiftad` command: a thin client of the public API (include/shiftad/shiftad.h).
// Every subcommand parses its options, calls one API function and prints the result;
// errors end as one line on stderr, "shiftad: error: ...", with the exit status of
// kExitCodes (README.md, "Exit status").
#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/AtomicFile.h"
#include "common/Csv.h"
#include "common/LogOnce.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace {

/// Exit status: scripts tell a bad command line from bad input by these.
constexpr int kFailed = 1;         ///< an error in the input, the data or the run
constexpr int kUsage = 2;          ///< the command line is wrong (the convention of getopt tools)
constexpr int kInterrupted = 130;  ///< stopped by Ctrl-C (128 + SIGINT, the shell's convention)

/// The --help footer; README.md's "Exit status" table says the same.
constexpr const char* kExitCodes =
    "Exit status:\n"
    "  0    success\n"
    "  1    error in the input, the data or the run: one line on stderr, 'shiftad: error: ...';\n"
    "       check-data: the data has problems\n"
    "  2    usage error: unknown subcommand or option, missing or invalid option value\n"
    "  130  interrupted (Ctrl-C); `shiftad train --resume RUN_DIR` continues a training run";

/// One line of an exception's message: LibTorch appends a C++ backtrace after
/// "Exception raised from" (useless to a user), and a message may span lines.
std::string oneLine(std::string msg) {
  if (const auto bt = msg.find("\nException raised from"); bt != std::string::npos) msg.resize(bt);
  std::string out;
  bool space = false;
  for (char ch : msg) {
    if (ch == '\n' || ch == '\r' || ch == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

/// A filesystem exception not turned into a message where it happened: libstdc++
/// writes "filesystem error: OP: REASON [PATH]"; the path goes first, as elsewhere.
std::string filesystemError(const fs::filesystem_error& e) {
  std::string what = oneLine(e.what());
  const std::string prefix = "filesystem error: ";
  if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  if (const auto paths = what.find(" ["); paths != std::string::npos) what.resize(paths);
  std::string where = "'" + e.path1().string() + "'";
  if (!e.path2().empty()) where += " -> '" + e.path2().string() + "'";
  return fmt::format("{}: {}; check the path and its permissions", where, what);
}

/// The command the user typed, e.g. "shiftad train", for "see ... --help".
std::string commandName(const CLI::App& app) {
  const auto subs = app.get_subcommands();
  return subs.empty() ? "shiftad" : "shiftad " + subs.front()->get_name();
}

struct Common {
  int threads = 0;
  bool quiet = false;
};

void setUp(const Common& c) {
  // Log lines go to stderr, results to stdout: `shiftad config > my.yaml` stays YAML.
  spdlog::set_default_logger(spdlog::stderr_color_mt("shiftad"));
  spdlog::set_level(c.quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  shiftad::setThreads(c.threads);
}

void addCommon(CLI::App* app, Common& c) {
  app->add_option("--threads", c.threads, "intra-op threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app->add_flag("-q,--quiet", c.quiet, "only warnings and errors on stderr");
}

/// Before any work: `score --out` must not be a folder, nor the image list, nor an
/// existing file unless --overwrite (shiftad never replaces a file it did not create).
void checkScoreOut(const std::string& out, const std::string& images, bool overwrite) {
  std::error_code ec;
  if (fs::is_directory(out, ec))
    throw std::runtime_error(fmt::format("--out '{}' is a folder; give the path of a CSV file to write", out));
  if (fs::exists(out, ec) && fs::equivalent(out, images, ec))
    throw std::runtime_error(fmt::format("--out '{}' is the --images input itself; give another path", out));
  if (fs::exists(out, ec) && !overwrite)
    throw std::runtime_error(
        fmt::format("--out '{}' exists; pass --overwrite to replace it, or give another path", out));
}

/// After listing: the output must not be one of the images scored.
void checkNotAnInput(const std::string& out, const shiftad::ScoreResult& r) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  for (const auto& s : r.scores)
    if (fs::equivalent(out, s.path, ec))
      throw std::runtime_error(fmt::format("--out '{}' is one of the images being scored; give another path", out));
  for (const auto& p : r.skipped)
    if (fs::equivalent(out, p, ec))
      throw std::runtime_error(fmt::format("--out '{}' is one of the files being scored; give another path", out));
}

/// path,score per image, the paths quoted where CSV needs it; written atomically and
/// fsync'ed (the CSV survives a power loss once written).
void writeScoresCsv(const std::string& path, const shiftad::ScoreResult& r) {
  std::string text = "path,score\n";
  for (const auto& s : r.scores) text += shiftad::csv::field(s.path) + "," + fmt::format("{:.9g}", s.score) + "\n";
  shiftad::writeFileAtomic(path, text);
}

void printList(const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  fmt::print("\n{} ({}):\n", title, items.size());
  for (const auto& i : items) fmt::print("  {}\n", i);
}

void printGroups(const char* title, const std::vector<std::vector<std::string>>& groups) {
  if (groups.empty()) return;
  fmt::print("\n{} ({} groups):\n", title, groups.size());
  for (const auto& g : groups) fmt::print("  {}\n", fmt::join(g, "  ==  "));
}

void printDataCheck(const shiftad::DataCheckReport& r) {
  fmt::print("{:<20} {:<24} {:>8} {:>11} {:>10}\n", "domain", "class", "images", "unreadable", "non-image");
  for (const auto& c : r.classes)
    fmt::print("{:<20} {:<24} {:>8} {:>11} {:>10}\n", c.domain, c.cls, c.images, c.unreadable, c.non_images);
  printList("unreadable or truncated images (skipped by training and scoring)", r.unreadable);
  printList("non-image files (ignored)", r.non_images);
  printGroups("exact duplicates", r.duplicates);
  printGroups("duplicates across training (source or pool) and the test split (the test split leaks into training)",
              r.split_leaks);
  if (!r.problems.empty()) {
    printList(r.protocol_checked ? "PROBLEMS: the configured protocol cannot run" : "PROBLEMS", r.problems);
  } else if (r.protocol_checked) {
    fmt::print("\nthe configured protocol can run\n");
  }
}

/// The command line as a report quotes it (the program as "shiftad").
std::string commandLine(int argc, char** argv) {
  std::string out = "shiftad";
  for (int i = 1; i < argc; ++i) out += " " + std::string(argv[i]);
  return out;
}

}  // namespace

/// OpenMP worker threads spin while waiting for work by default. On 2 cores shared
/// with anything else (a build, a second job), the spinning starved the real work:
/// a head-only training run spent ~60% of its time in libgomp's spin loop and ran
/// 2.3x slower than with passive waiting. libgomp reads OMP_WAIT_POLICY when it is
/// loaded, before main, so the CLI sets it and re-executes itself once. A policy set by
/// the user is kept.
void passiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

int main(int argc, char** argv) {
  passiveOpenMpWait(argv);
  CLI::App app{"shiftad: one-class anomaly detection under domain shift (dominant-cluster adaptation)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "shiftad 0.1.0");
  app.footer(kExitCodes);
  Common common;

  // synth
  auto* synth = app.add_subcommand("synth", "write the synthetic domain-shift benchmark as ImageFolder PNGs");
  std::string synth_out;
  int synth_seed = 0;
  synth->add_option("--out", synth_out, "output folder (OUT/{source,target}/CLASS/*.png)")->required();
  synth->add_option("--seed", synth_seed, "generation seed")->capture_default_str();

  // train
  auto* train = app.add_subcommand("train", "train a detector (Deep SVDD on source + dominant-cluster alignment)");
  std::string train_config, train_out, train_variant;
  std::vector<std::string> overrides;
  train->add_option("--config", train_config, "YAML config (keys: `shiftad config --doc`)")->check(CLI::ExistingFile);
  train->add_option("--variant", train_variant,
                    "a named variant applied on top of the config, before --set (list: `shiftad variants`)");
  train->add_option("--set", overrides, "override a key: --set section.key=value (repeatable)");
  std::string train_resume;
  train->add_option("--out", train_out, "run directory to write (new or empty; an existing run needs --overwrite)");
  bool train_overwrite = false;
  train->add_flag("--overwrite", train_overwrite,
                  "replace the run in --out; the old run stays until the new one is complete");
  train
      ->add_option("--resume", train_resume,
                   "continue the run in this directory from its last checkpoint, with its config")
      ->excludes("--config", "--variant", "--set", "--out");

  // score
  auto* score = app.add_subcommand("score", "score images with a trained detector (higher = more anomalous)");
  std::string score_model, score_images, score_out;
  score->add_option("--model", score_model, "run directory written by `shiftad train`")->required();
  score->add_option("--images", score_images, "image folder (recursive) or text file with one path per line")
      ->required();
  score->add_option("--out", score_out, "CSV to write: path,score")->required();
  bool score_overwrite = false;
  score->add_flag("--overwrite", score_overwrite, "replace --out if it exists");

  // eval
  auto* eval = app.add_subcommand("eval", "AUROC/AUPR on the target test split of a config");
  std::string eval_model, eval_config;
  std::vector<std::string> eval_overrides;
  eval->add_option("--model", eval_model, "run directory written by `shiftad train`")->required();
  eval->add_option("--config", eval_config, "YAML config defining the split (default: the run's own config)")
      ->check(CLI::ExistingFile);
  eval->add_option("--set", eval_overrides, "override a key of that config (repeatable)");

  // demo
  auto* demo = app.add_subcommand("demo",
                                  "synthesize the default benchmark, run source-only and the recommended "
                                  "variant over its classes and seeds, report like `bench`");
  shiftad::DemoOptions demo_opt;
  demo->add_option("--out", demo_opt.out_dir, "folder for data, runs, results.csv and reports")->capture_default_str();
  demo->add_option("--seed", demo_opt.seed, "seed of the synthetic data")->capture_default_str();
  demo->add_option("--seeds", demo_opt.seeds, "split and training seeds (default: the synthetic suite's)");

  // classify
  auto* classify = app.add_subcommand(
      "classify", "top-k classes of a pretrained classifier for one image (checks weights + preprocessing)");
  std::string cls_weights, cls_image, cls_labels;
  int cls_topk = 5;
  classify->add_option("--weights", cls_weights, "classifier weights (.safetensors, torchvision names)")
      ->required()
      ->check(CLI::ExistingFile);
  classify->add_option("--image", cls_image, "image file")->required()->check(CLI::ExistingFile);
  classify->add_option("--labels", cls_labels, "text file: one class name per line, in index order")
      ->check(CLI::ExistingFile);
  classify->add_option("--topk", cls_topk, "how many classes to print")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  // bench
  auto* bench =
      app.add_subcommand("bench", "run a benchmark suite's one-vs-all grid and write results.csv + report.md");
  shiftad::BenchOptions bench_opt;
  bench->add_option("--suite", bench_opt.suite, "shipped suite name (suites/NAME.yaml) or a suite file")->required();
  bench->add_option("--root", bench_opt.root, "data root (default: the suite's)");
  bench->add_option("--variants", bench_opt.variants, "variants to run (default: the suite's)")->delimiter(',');
  bench->add_option("--seeds", bench_opt.seeds, "seeds (default: the suite's)")->delimiter(',');
  bench->add_option("--classes", bench_opt.classes, "normal classes (default: the suite's, else all)")->delimiter(',');
  bench->add_option("--set", bench_opt.overrides, "config key for every run: section.key=value (repeatable)");
  bench->add_option("--out", bench_opt.out_dir, "output folder")->required();
  bench->add_flag("--quick", bench_opt.quick, "the suite's quick settings (fewer classes/seeds)");
  bench->add_option("--sweep", bench_opt.sweep,
                    "run the grid once per value of one key instead of the main grid: section.key=v1,v2,... "
                    "(e.g. data.contamination=0,0.1,0.3,0.5 or cluster.k=2,4,8,16)");
  bench->add_flag("!--no-figures", bench_opt.figures, "skip the ROC and PCA figures (they re-read the runs)");
  bench->add_flag("-v,--verbose", bench_opt.verbose,
                  "also every run's own lines (per epoch); default: one line per run");

  // variants
  auto* variants = app.add_subcommand("variants", "list the named variants (paper baselines and ablations)");

  // config
  auto* config = app.add_subcommand("config", "print the resolved config, or the documentation of every key");
  std::string config_file;
  std::vector<std::string> config_overrides;
  bool config_doc = false;
  config->add_option("--config", config_file, "YAML config to resolve")->check(CLI::ExistingFile);
  config->add_option("--set", config_overrides, "override a key (repeatable)");
  config->add_flag("--doc", config_doc, "print every key as a Markdown table");

  // check-data
  auto* check = app.add_subcommand("check-data",
                                   "check an ImageFolder root: counts, unreadable/truncated and non-image "
                                   "files, duplicates; with --config, whether the protocol can run");
  std::string check_root, check_config;
  std::vector<std::string> check_overrides;
  check->add_option("root", check_root, "data root: ROOT/DOMAIN/CLASS/image")->required();
  check->add_option("--config", check_config, "YAML config whose data.* protocol to check (data.root := ROOT)")
      ->check(CLI::ExistingFile);
  check->add_option("--set", check_overrides, "override a key of that config (repeatable)");

  for (auto* sub : {synth, train, score, eval, demo, classify, bench, variants, config, check}) addCommon(sub, common);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "shiftad: error: {}; see `{} --help`\n", oneLine(e.what()), commandName(app));
    return kUsage;
  }
  if (*train && train_resume.empty() && train_out.empty()) {
    fmt::print(stderr, "shiftad: error: train: --out RUN_DIR is required (or --resume RUN_DIR)\n");
    return kUsage;
  }

  // Messages printed once (logOnce) get their count when a command ends well; after
  // an error, the error stays the last line.
  struct ReportRepeats {
    ~ReportRepeats() {
      if (std::uncaught_exceptions() == 0) shiftad::logRepeats();
    }
  };
  try {
    const ReportRepeats repeats;
    setUp(common);
    if (*synth) {
      shiftad::synthesize(synth_out, synth_seed);
      fmt::print("wrote the synthetic benchmark to {}\n", synth_out);
    } else if (*train) {
      shiftad::handleInterrupts();
      shiftad::TrainSummary s;
      if (!train_resume.empty()) {
        train_out = train_resume;
        s = shiftad::resumeTraining(train_resume);
      } else {
        std::vector<std::string> all;
        if (!train_variant.empty()) all = shiftad::variantOverrides(train_variant);
        all.insert(all.end(), overrides.begin(), overrides.end());
        shiftad::TrainOptions options;
        options.overwrite = train_overwrite;
        s = shiftad::train(shiftad::loadConfig(train_config, all), train_out, options);
      }
      if (s.interrupted) {
        fmt::print("interrupted; checkpoint written; continue with: shiftad train --resume {}\n", train_out);
        return kInterrupted;
      }
      fmt::print("trained {} epochs in {:.1f}s on {} source and {} pool images ({} skipped); run: {}\n", s.epochs,
                 s.seconds, s.source_images, s.pool_images, s.skipped_images, train_out);
    } else if (*score) {
      checkScoreOut(score_out, score_images, score_overwrite);
      const auto r = shiftad::score(score_model, score_images);
      checkNotAnInput(score_out, r);
      writeScoresCsv(score_out, r);
      fmt::print("scored {} images ({} unreadable, skipped) -> {}\n", r.scores.size(), r.skipped.size(), score_out);
    } else if (*eval) {
      auto cfg = eval_config.empty() ? shiftad::loadRunConfig(eval_model) : shiftad::loadConfig(eval_config);
      if (!eval_overrides.empty()) cfg = shiftad::parseConfig(shiftad::dumpConfig(cfg), eval_overrides, "--set");
      const auto r = shiftad::evaluate(eval_model, cfg);
      // AUPR's chance level is the anomaly share of the test split (AUROC's is 0.5).
      const double chance =
          static_cast<double>(r.anomalous) / static_cast<double>(std::max<int64_t>(1, r.normal + r.anomalous));
      fmt::print(
          "AUROC {:.4f}  AUPR {:.4f} (chance {:.4f})  (target '{}' test split: {} normal, {} anomalous, {} "
          "skipped); scores: {}\n",
          r.auroc, r.aupr, chance, cfg.data.target, r.normal, r.anomalous, r.skipped, r.scores_file);
    } else if (*demo) {
      demo_opt.command = commandLine(argc, argv);
      shiftad::runDemo(demo_opt);
    } else if (*classify) {
      for (const auto& c : shiftad::classify(cls_weights, cls_image, cls_labels, cls_topk))
        fmt::print("{:8.4f}  {:>5}  {}\n", c.probability, c.index, c.label);
    } else if (*bench) {
      bench_opt.command = commandLine(argc, argv);
      const auto s = shiftad::runBench(bench_opt);
      fmt::print("{} runs in {:.0f}s; report: {}\n", s.runs, s.seconds, s.report);
    } else if (*variants) {
      for (const auto& v : shiftad::variants())
        fmt::print("{:<16} {}\n{:<16} overrides: {}\n", v.name, v.description, "", fmt::join(v.overrides, " "));
    } else if (*check) {
      std::optional<shiftad::Config> cfg;
      if (!check_config.empty() || !check_overrides.empty()) cfg = shiftad::loadConfig(check_config, check_overrides);
      const auto r = shiftad::checkData(check_root, cfg ? &*cfg : nullptr);
      printDataCheck(r);
      return r.problems.empty() ? 0 : kFailed;
    } else if (*config) {
      if (config_doc)
        fmt::print("{}", shiftad::configDocMarkdown());
      else
        fmt::print("{}", shiftad::dumpConfig(shiftad::loadConfig(config_file, config_overrides)));
    }
  } catch (const fs::filesystem_error& e) {
    fmt::print(stderr, "shiftad: error: {}\n", filesystemError(e));
    return kFailed;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "shiftad: error: out of memory; use smaller batches (train.batch_size) or fewer threads\n");
    return kFailed;
  } catch (const std::exception& e) {
    fmt::print(stderr, "shiftad: error: {}\n", oneLine(e.what()));
    return kFailed;
  }
  return 0;
}
