// The `shiftad` command: a thin client of the public API (include/shiftad/shiftad.h).
// Every subcommand parses its options, calls one API function and prints the result;
// errors end as one line on stderr, "shiftad: error: ...", with the exit status of
// kExitCodes (README.md, "Exit status").
#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/Counted.h"
#include "common/Printable.h"
#include "StandardStreams.h"
#include "StdinLines.h"
#include "api/OutputFile.h"
#include "common/AtomicFile.h"
#include "common/Csv.h"
#include "common/Error.h"
#include "common/ErrorLine.h"
#include "common/LogOnce.h"
#include "data/ImageFolder.h"
#include "evaluation/Decision.h"
#include "models/InferenceBatch.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace {

/// Exit status: scripts tell a bad command line from bad input by these.
constexpr int kFailed = 1;         ///< an error in the input, the data or the run
constexpr int kUsage = 2;          ///< the command line is wrong (the convention of getopt tools)
constexpr int kInterrupted = 130;  ///< stopped by Ctrl-C (128 + SIGINT, the shell's convention); 143 by SIGTERM

/// A whole number in [lo, hi] written as the config takes one: decimal digits, no
/// leading zero, no blanks. CLI11's own conversion reads "010" as octal 8 and "0x10" as
/// 16, and its Range prints double limits with hundreds of digits.
CLI::Validator wholeNumber(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        static const std::regex kDecimal("0|-?[1-9][0-9]{0,17}");
        if (std::regex_match(v, kDecimal)) {
          const long long x = std::stoll(v);
          if (x >= lo && x <= hi) return "";
        }
        return fmt::format("'{}' is not a whole number in [{}, {}] (decimal digits, no leading zero)", v, lo, hi);
      },
      fmt::format("INT in [{}, {}]", lo, hi));
}

/// Split and training seeds: config key train.seed's range, checked before any work starts.
const CLI::Validator kSeedRange = wholeNumber(0, std::numeric_limits<int>::max());

/// Seconds: a finite decimal number in (0, kMaxDistTimeoutSeconds] (no hex, NaN or inf).
const CLI::Validator kSeconds(
    [](std::string& v) -> std::string {
      static const std::regex kDecimal("([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
      if (std::regex_match(v, kDecimal)) {
        const double x = std::strtod(v.c_str(), nullptr);
        if (x >= 0.001 && x <= shiftad::kMaxDistTimeoutSeconds) return "";  // waits count whole milliseconds
      }
      return fmt::format("'{}' is not a number of seconds in [0.001, {}]", v, shiftad::kMaxDistTimeoutSeconds);
    },
    "SECONDS");

/// HOST:PORT with a whole port in [1, 65535].
const CLI::Validator kHostPort(
    [](std::string& v) -> std::string {
      static const std::regex kForm(".+:([1-9][0-9]{0,4})");
      std::smatch m;
      if (std::regex_match(v, m, kForm) && std::stol(m[1].str()) <= 65535) return "";
      return fmt::format("'{}' is not HOST:PORT with a port in [1, 65535] (e.g. 127.0.0.1:29500)", v);
    },
    "HOST:PORT");

/// --max-skipped takes exactly what data.max_skipped takes (the config's own parser: no
/// NaN, inf or hex, which the option's double conversion would accept).
const CLI::Validator kSkipLimit(
    [](std::string& value) -> std::string {
      try {
        shiftad::parseConfig("", {"data.max_skipped=" + value});
        return "";
      } catch (const shiftad::Error&) {
        return "Value " + value + " is not a number in [0, 1e9]: a share below 1 or a count from 1";
      }
    },
    "NUMBER");

/// A --set that is not section.key=value is a usage error (exit 2), as a bad --sweep is.
const CLI::Validator kKeyValue(
    [](std::string& text) -> std::string {
      const auto eq = text.find('=');
      return eq != std::string::npos && eq > 0
                 ? ""
                 : fmt::format("'{}': expected section.key=value (e.g. train.epochs=10)", text);
    },
    "KEY=VALUE");

/// The entries of one value of a comma-separated list option, empty ones kept.
std::vector<std::string> commaEntries(const std::string& text) {
  std::vector<std::string> entries(1);
  for (const char ch : text) {
    if (ch == ',')
      entries.emplace_back();
    else
      entries.back().push_back(ch);
  }
  return entries;
}

/// A list option: comma-separated values, or several values, each entry checked by `each`.
/// Not CLI11's delimiter, which drops empty entries: "--seeds 0,,1" ran seeds 0 and 1
/// without a word, where --sweep refuses the same slip.
template <class T>
CLI::Option* addListOption(CLI::App* app, const std::string& name, std::vector<T>& out, const std::string& help,
                           const CLI::Validator& each = CLI::Validator()) {
  static_assert(std::is_same_v<T, std::string> || std::is_same_v<T, int>);
  auto store = [&out](const std::vector<std::string>& values) {
    out.clear();
    for (const auto& value : values)
      for (const auto& entry : commaEntries(value)) {
        if constexpr (std::is_same_v<T, int>)
          out.push_back(std::stoi(entry));
        else
          out.push_back(entry);
      }
  };
  const CLI::Validator entries(
      [each](std::string& value) -> std::string {
        const auto list = commaEntries(value);
        for (std::size_t i = 0; i < list.size(); ++i) {
          if (list[i].empty())
            return fmt::format(
                "'{}': entry {} is empty (two commas together, or one at an end): an entry left "
                "out by mistake?",
                value, i + 1);
          auto entry = list[i];
          if (auto problem = each(entry); !problem.empty()) return problem;
        }
        return "";
      },
      "");
  return app->add_option_function<std::vector<std::string>>(name, store, help)
      ->check(entries)
      ->type_name(std::is_same_v<T, int> ? "INT" : "TEXT");
}

/// The --help footer; README.md's "Exit status" table says the same.
constexpr const char* kExitCodes =
    "Exit status:\n"
    "  0    success\n"
    "  1    error in the input, the data or the run: one line on stderr, 'shiftad: error: ...';\n"
    "       check-data: the data has problems\n"
    "  2    usage error: unknown subcommand or option, missing or invalid option value\n"
    "  130  interrupted (Ctrl-C); `shiftad train --resume RUN_DIR` continues a training run (one stopped while it "
    "embedded its images, before training: the same command again), the same command a bench or demo\n"
    "  143  terminated (SIGTERM: a scheduler, kill, docker stop); train (or a bench's run) wrote a checkpoint as for "
    "Ctrl-C";

/// A filesystem exception not turned into a message where it happened: libstdc++
/// writes "filesystem error: OP: REASON [PATH]"; the path goes first, as elsewhere.
std::string filesystemError(const fs::filesystem_error& e) {
  std::string what = shiftad::errorLine(e.what());
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
  // Log lines go to stderr, results to stdout: `shiftad config > my.yaml` stays YAML. The
  // library logs to the logger named "shiftad" (common/Log.h): the CLI makes it, in
  // colour, and makes it its own default too.
  spdlog::drop("shiftad");
  spdlog::set_default_logger(spdlog::stderr_color_mt("shiftad"));
  spdlog::set_level(c.quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  shiftad::setThreads(c.threads);
}

/// Whether -q asked for only warnings and errors on stderr (setUp's log level): a
/// summary that goes to stderr, because the results take stdout, is then left out.
bool quietOnStderr() { return !spdlog::default_logger()->should_log(spdlog::level::info); }

void addCommon(CLI::App* app, Common& c) {
  app->add_option("--threads", c.threads, "threads for LibTorch and image decoding (0: all cores)")
      ->check(wholeNumber(0, shiftad::kMaxThreads));
  app->add_flag("-q,--quiet", c.quiet, "only warnings and errors on stderr");
}

/// Before any work, for the file `score` and `export` write (`kind`: "a CSV file"): not
/// named like an image, api::checkOutputFile (not a folder, a pipe or a device, not
/// inside a run), and not an existing file unless --overwrite (shiftad never replaces a
/// file it did not create). Returns the file to write (where a link leads).
std::string checkOutFile(const std::string& out, const char* kind, bool overwrite) {
  // `score --out -` writes to standard output; here it made a file named '-'.
  if (out == "-")
    throw std::runtime_error(fmt::format(
        "--out -: only `score` writes to standard output; this command writes {}: give its path (./- for a file "
        "of that name)",
        kind));
  // A CSV or ONNX file named like an image would be read as an (unreadable) one once it
  // lies in a data folder.
  if (shiftad::data::hasImageExtension(out))
    throw std::runtime_error(fmt::format(
        "--out '{}' is named like an image ({}) but is {}: in a data folder it would be read as an image; name it "
        "as what it is",
        out, fs::path(out).extension().string(), kind));
  const auto target = shiftad::api::checkOutputFile(out, kind, "--out");
  std::error_code ec;
  if (fs::exists(target, ec) && !overwrite)
    throw std::runtime_error(
        fmt::format("--out '{}' exists; pass --overwrite to replace it, or give another path", out));
  if (fs::exists(target, ec) && !shiftad::api::replaceableOutput(target))
    throw std::runtime_error(fmt::format(
        "--out '{}'{} exists and is not a file shiftad wrote (a CSV of `score` or `eval`, an ONNX model of "
        "`export`): --overwrite replaces only those, since shiftad never replaces a file it did not create; give "
        "another path, or move that file away first",
        out, target == out ? "" : fmt::format(" (a link to '{}')", target)));
  shiftad::api::checkFolderTakesAFile(target, "--out");
  return target;
}

/// Writes --out's file, `target` (checkOutFile's), by `write(path)`, which makes `path`
/// whole. With --overwrite, `target` itself (replaced atomically); without, a temporary
/// beside it, put in place only if nothing took the name while the work ran (the check
/// was before it): shiftad never replaces a file it did not create. Returns the path
/// written (the temporary's name, when `write` wrote nothing, is not returned: "").
std::string writeOut(const std::string& target, bool overwrite,
                     const std::function<std::string(const std::string&)>& write) {
  if (overwrite) return write(target);
  const auto temporary = shiftad::temporaryPathFor(target) + ".new";
  const auto removeTemporary = [&] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };
  std::string written;
  try {
    written = write(temporary);
  } catch (const shiftad::Stopped&) {
    removeTemporary();
    throw;
  } catch (const shiftad::Error& e) {
    removeTemporary();
    // The user named `target`: an error about the file (a frozen run cannot export, a
    // folder refuses it) names it, not the temporary it was being written as.
    std::string message = e.what();
    for (auto at = message.find(temporary); at != std::string::npos; at = message.find(temporary, at + target.size()))
      message.replace(at, temporary.size(), target);
    throw shiftad::Error(message);
  } catch (...) {
    removeTemporary();
    throw;
  }
  if (written.empty()) return "";
  shiftad::api::commitNewFile(temporary, target, "--out");
  return target;
}

/// `score --out`: checkOutFile, and not the image list.
std::string checkScoreOut(const std::string& out, const std::string& images, bool overwrite) {
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, images, ec))
    throw std::runtime_error(fmt::format("--out '{}' is the --images input itself; give another path", out));
  return checkOutFile(out, "a CSV file", overwrite);
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

const std::string kScoresHeader = std::string(shiftad::api::kScoresCsvHeader) + "\n";

/// One image's row: path,score,normalised_score,anomalous (anomalous 0 or 1; the last
/// two empty when the run has no calibration), the path quoted where CSV needs it.
std::string scoreRow(const shiftad::ImageScore& s) {
  const bool calibrated = !std::isnan(s.normalised_score);
  return shiftad::csv::field(s.path) + "," + fmt::format("{:.9g}", s.score) + "," +
         (calibrated ? fmt::format("{:.6f},{}", s.normalised_score, s.anomalous ? 1 : 0) : std::string(",")) + "\n";
}

std::string scoresCsv(const shiftad::ScoreResult& r) {
  std::string text = kScoresHeader;
  for (const auto& s : r.scores) text += scoreRow(s);
  return text;
}

/// `--images -`: the paths on standard input, one per line, read as the lines of an
/// image list (data::listEntry: blank lines and '#' comments skipped, CRLF line ends),
/// a relative one from the working folder, as on a command line.
struct StdinPaths {
  shiftad::cli::StdinLines lines;
  size_t line_number = 0;

  /// The next path into `path`; false at the end of the input, or, without `wait`, when
  /// no whole line has arrived. `problem`: why the line names no file
  /// (data::listLineProblem; `path` is then ""), else "".
  bool next(std::string& path, std::string& problem, bool wait = true) {
    for (std::string line; lines.next(line, wait);) {
      if (++line_number == 1) shiftad::data::dropByteOrderMark(line, "standard input (--images -)");
      path.clear();
      problem = lines.cut()
                    ? fmt::format("more than {} characters, longer than any path", shiftad::cli::StdinLines::kMaxKept)
                    : shiftad::data::listLineProblem(line);
      if (!problem.empty()) return true;
      if (path = shiftad::data::listEntry(std::move(line), ""); !path.empty()) return true;
    }
    return false;
  }
};

/// `--images -` with a file to write: the whole list, as a list file is read (a line that
/// names no file is an error).
std::vector<std::string> stdinPaths() {
  StdinPaths in;
  std::vector<std::string> paths;
  for (std::string p, problem; in.next(p, problem); paths.push_back(p))
    SHIFTAD_CHECK(problem.empty(), "standard input (--images -), line {}: {}; give one image path per line",
                  in.line_number, problem);
  // As an empty list file is: a producer that failed (`find` on a missing folder) gave
  // a CSV of the header alone and exit 0.
  SHIFTAD_CHECK(!paths.empty(),
                "standard input (--images -) names no image (it was empty or closed; blank lines and '#' comments "
                "are skipped); give one image path per line");
  return paths;
}

void printList(const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  fmt::print("\n{} ({}):\n", title, items.size());
  for (const auto& i : items) fmt::print("  {}\n", shiftad::printable(i));
}

/// Groups of duplicates listed by check-data before the rest are counted (without --all):
/// a data set with many copies listed tens of thousands of lines.
constexpr size_t kShownGroups = 20;

void printGroups(const char* title, const std::vector<std::vector<std::string>>& groups, bool all) {
  if (groups.empty()) return;
  fmt::print("\n{} ({} groups):\n", title, groups.size());
  const size_t shown = all ? groups.size() : std::min(groups.size(), kShownGroups);
  for (size_t i = 0; i < shown; ++i)
    fmt::print("  {}\n", shiftad::printable(fmt::format("{}", fmt::join(groups[i], "  ==  "))));
  if (shown == groups.size()) return;
  size_t files = 0;
  for (size_t i = shown; i < groups.size(); ++i) files += groups[i].size();
  fmt::print("  ... and {} more groups ({} files); --all lists every group\n", groups.size() - shown, files);
}

void printDataCheck(const shiftad::DataCheckReport& r, bool all_groups) {
  fmt::print("{:<20} {:<24} {:>8} {:>11} {:>10}\n", "domain", "class", "images", "unreadable", "non-image");
  for (const auto& c : r.classes)
    fmt::print("{:<20} {:<24} {:>8} {:>11} {:>10}\n", shiftad::printable(c.domain), shiftad::printable(c.cls), c.images,
               c.unreadable, c.non_images);
  printList("unreadable or truncated images (skipped by training and scoring)", r.unreadable);
  printList("non-image files (ignored)", r.non_images);
  printList(
      "hidden files and folders (ignored: the name starts with '.', or a system folder such as __MACOSX or lost+found)",
      r.hidden);
  printList("images outside every class folder (ignored: an image belongs in ROOT/DOMAIN/CLASS/)", r.outside_classes);
  printList("domain folders without a class folder (nothing in them is read)", r.empty_domains);
  printList("shiftad run folders and caches in the data (not data: passed over)", r.shiftad_outputs);
  printGroups("exact duplicates", r.duplicates, all_groups);
  printGroups("duplicates in two or more classes of one domain (one image labelled as two classes)", r.label_conflicts,
              all_groups);
  printGroups("duplicates across training (source or pool) and the test split (the test split leaks into training)",
              r.split_leaks, all_groups);
  // The data's problems apart from the protocol's: a label conflict, which train runs
  // through, was headed "the configured protocol cannot run".
  if (!r.problems.empty()) printList("PROBLEMS in the data", r.problems);
  if (!r.protocol_problems.empty())
    printList("PROBLEMS: the configured protocol cannot run (train would refuse it)", r.protocol_problems);
  else if (r.protocol_checked)
    fmt::print("\nthe configured protocol can run{}\n",
               r.problems.empty() ? "" : " (despite the data's problems above)");
}

/// `arg` as a POSIX shell reads it back: as it is when it holds only characters no shell
/// treats specially, else in single quotes (a ' as '\''), so that a report's command can
/// be pasted (a path with a blank ran on another path; one with a backquote ran it).
std::string shellWord(const std::string& arg) {
  const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_@%+=:,./-").find(c) != std::string::npos;
  });
  if (plain) return arg;
  std::string out = "'";
  for (const char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The command line as a report quotes it (the program as "shiftad"), each word quoted
/// for a shell where it needs it.
std::string commandLine(int argc, char** argv) {
  std::string out = "shiftad";
  for (int i = 1; i < argc; ++i) out += " " + shellWord(argv[i]);
  return out;
}

// --- subcommands: each adds its options, and runs once parsed ------------------

struct SynthCommand {
  CLI::App* app = nullptr;
  std::string out;
  int seed = 0;
};

void addSynth(CLI::App& app, SynthCommand& c) {
  c.app = app.add_subcommand("synth", "write the synthetic domain-shift benchmark as ImageFolder PNGs");
  c.app->add_option("--out", c.out, "output folder (OUT/{source,target}/CLASS/*.png)")->required();
  c.app->add_option("--seed", c.seed, "generation seed")->capture_default_str()->check(kSeedRange);
}

int runSynth(const SynthCommand& c) {
  shiftad::synthesize(c.out, c.seed);
  fmt::print("wrote the synthetic benchmark to {}\n", c.out);
  return 0;
}

struct TrainCommand {
  CLI::App* app = nullptr;
  std::string config, out, variant, resume;
  std::vector<std::string> overrides;
  bool overwrite = false;
  int world_size = 0, rank = -1;  // 0 / -1: from the launcher's environment
  std::string master;
  double timeout = 300;
};

void addTrain(CLI::App& app, TrainCommand& c) {
  c.app = app.add_subcommand("train",
                             "train a detector (Deep SVDD on source + alignment with the target pool's dense region)");
  c.app->add_option("--config", c.config, "YAML config (keys: `shiftad config --doc`)")->check(CLI::ExistingFile);
  c.app->add_option("--variant", c.variant,
                    "a named variant applied on top of the config, before --set (list: `shiftad variants`); without "
                    "one, the config's keys over the library defaults, which are the `default` variant");
  c.app
      ->add_option("--set", c.overrides,
                   "override a key: --set section.key=value (repeatable; a string or path key takes the value as "
                   "typed, docs/config.md)")
      ->check(kKeyValue);
  c.app->add_option("--out", c.out, "run directory to write (new or empty; an existing run needs --overwrite)");
  c.app->add_flag("--overwrite", c.overwrite,
                  "replace the run in --out; the old run stays until the new one is complete");
  c.app
      ->add_option("--resume", c.resume, "continue the run in this directory from its last checkpoint, with its config")
      ->excludes("--config", "--variant", "--set", "--out");
  auto* dist = c.app->add_option_group("data-parallel training (docs/scale.md)");
  dist->add_option("--world-size", c.world_size,
                   "processes training together (default: torchrun's WORLD_SIZE or srun's SLURM_NTASKS, else 1)")
      ->check(wholeNumber(1, 1 << 20));
  dist->add_option("--rank", c.rank, "this process, 0 .. world size - 1 (default: RANK or SLURM_PROCID)")
      ->check(wholeNumber(0, 1 << 20));
  dist->add_option("--master", c.master,
                   "HOST:PORT of rank 0, which serves the rendezvous (default: MASTER_ADDR:MASTER_PORT, each else "
                   "127.0.0.1 and 29500)")
      ->check(kHostPort);
  dist->add_option("--dist-timeout", c.timeout,
                   "seconds a rank waits for the others before the run fails (rendezvous and every exchange)")
      ->check(kSeconds)
      ->capture_default_str();
}

/// The process group of `shiftad train`: the launcher's environment, overridden by the
/// command line.
shiftad::DistributedOptions distributedOptions(const TrainCommand& c) {
  auto o = shiftad::distributedFromEnvironment();
  if (c.world_size > 0) o.world_size = c.world_size;
  if (c.rank >= 0) o.rank = c.rank;
  if (!c.master.empty()) {
    const auto colon = c.master.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw shiftad::Error(fmt::format("--master '{}' is not HOST:PORT (e.g. 127.0.0.1:29500)", c.master));
    o.master_addr = c.master.substr(0, colon);
    // [::1]:29500, the usual way to write an IPv6 host with a port: the host is ::1.
    if (o.master_addr.size() > 2 && o.master_addr.front() == '[' && o.master_addr.back() == ']')
      o.master_addr = o.master_addr.substr(1, o.master_addr.size() - 2);
    o.master_port = std::stoi(c.master.substr(colon + 1));  // whole and in range: kHostPort
    o.store_served = false;                                 // given by hand: rank 0 serves the store
  }
  o.timeout_seconds = c.timeout;
  const char* slurm = std::getenv("SLURM_NTASKS");
  if (o.world_size > 1 && c.master.empty() && !std::getenv("MASTER_ADDR") && !std::getenv("WORLD_SIZE") && slurm &&
      *slurm)
    throw shiftad::Error(
        fmt::format("srun started {} tasks but MASTER_ADDR is not set: export the host of task 0, e.g. "
                    "MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1), or give --master "
                    "HOST:PORT (docs/scale.md)",
                    o.world_size));
  if (o.world_size > 1 && o.rank >= o.world_size)
    throw shiftad::Error(fmt::format("--rank {} is not a rank of a world of {}", o.rank, o.world_size));
  return o;
}

/// Data-parallel options that cannot mean what they say (a usage error): a rank or a
/// master with no world to join (the process trained alone), a world joined without
/// saying which rank this process is (every process took rank 0).
std::string distributedUsageError(const TrainCommand& c) {
  const auto set = [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0';
  };
  const bool world_from_launcher = set("WORLD_SIZE") || set("SLURM_NTASKS");
  // `--world-size 1 --rank 0 [--master ...]` trains alone, as a script looping over world
  // sizes writes it; without --world-size, a rank or master was given for a world not named.
  if (c.world_size == 0 && !world_from_launcher && (c.rank >= 0 || !c.master.empty()))
    return "train: --rank and --master join a data-parallel run, and there is none: give --world-size N too, or "
           "start the processes with torchrun or srun";
  if (c.world_size == 1 && c.rank > 0) return fmt::format("train: --rank {} is not a rank of a world of 1 (0)", c.rank);
  if (c.world_size > 1 && c.rank < 0 && !set("RANK") && !set("SLURM_PROCID"))
    return fmt::format(
        "train: --world-size {} needs this process's rank: give --rank R (0 .. {}), or start the processes with "
        "torchrun or srun, which set RANK or SLURM_PROCID",
        c.world_size, c.world_size - 1);
  if (c.world_size == 0 && set("WORLD_SIZE") && std::string(std::getenv("WORLD_SIZE")) != "1" && c.rank < 0 &&
      !set("RANK"))
    return fmt::format(
        "train: WORLD_SIZE={} is set but RANK is not, so every process would be rank 0: give --rank R, export "
        "RANK, or unset WORLD_SIZE to train alone",
        std::getenv("WORLD_SIZE"));
  if (c.world_size > 1 && c.rank >= c.world_size)
    return fmt::format("train: --rank {} is not a rank of a world of {} (0 .. {})", c.rank, c.world_size,
                       c.world_size - 1);
  return "";
}

/// The exit status of a command that a stop (SIGINT, SIGTERM) ended cleanly: 128 + the signal.
int interruptedStatus() {
  const int sig = shiftad::caughtSignal();
  return sig > 0 ? 128 + sig : kInterrupted;
}

/// The config `COMMAND --config FILE --variant V --set ...` resolves to, for train and for
/// config alike: V's keys, then the sets; a set that changes one of V's keys makes it
/// custom (bench applies the variant last; train, first), said here in the options' terms.
shiftad::Config variantConfig(const std::string& command, const std::string& config, const std::string& variant,
                              const std::vector<std::string>& sets) {
  std::vector<std::string> all;
  if (!variant.empty()) all = shiftad::variantOverrides(variant);
  all.insert(all.end(), sets.begin(), sets.end());
  auto cfg = shiftad::loadConfig(config, all);
  if (variant.empty() || cfg.run.variant != variant) return cfg;  // a --set run.variant is checked by the fit
  if (const auto changed = shiftad::variantLabelChanges(cfg); !changed.empty()) {
    spdlog::warn(
        "{} --variant {}: --set changes keys the variant sets ({}); this is not that variant, and its "
        "run.variant reads custom",
        command, variant, fmt::join(changed, "; "));
    cfg.run.variant = "custom";
  }
  return cfg;
}

int runTrain(TrainCommand& c) {
  shiftad::handleInterrupts();
  shiftad::TrainSummary s;
  const auto distributed = distributedOptions(c);
  if (distributed.world_size > 1) {
    // Every rank logs the same run: its lines name the rank (a launcher's terminal shows
    // them all, interleaved), and the others leave the progress to rank 0, which logs the
    // same numbers; their warnings and errors still show.
    spdlog::set_pattern(fmt::format("[%H:%M:%S] rank {} %^%l%$ %v", distributed.rank));
    if (distributed.rank != 0 && spdlog::get_level() < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
  }
  if (!c.resume.empty()) {
    c.out = c.resume;
    s = shiftad::resumeTraining(c.resume, distributed);
  } else {
    shiftad::FitOptions options;
    options.overwrite = c.overwrite;
    options.distributed = distributed;
    s = shiftad::Detector::fit(variantConfig("train", c.config, c.variant, c.overrides), c.out, options).trainSummary();
  }
  if (s.interrupted) {
    if (distributed.world_size > 1 && shiftad::caughtSignal() == 0)
      fmt::print(
          "rank {} of {} stopped with the others: another rank was interrupted; rank 0 wrote the checkpoint; "
          "continue by starting the ranks again with `shiftad train --resume {}` and their launch options\n",
          distributed.rank, distributed.world_size, c.out);
    else if (distributed.world_size > 1)
      fmt::print(
          "rank {} of {} interrupted; rank 0 wrote the checkpoint; continue by starting the ranks again with "
          "`shiftad train --resume {}` and their launch options (any number of ranks, one process too, goes on "
          "from it)\n",
          distributed.rank, distributed.world_size, c.out);
    else
      fmt::print("interrupted; checkpoint written; continue with: shiftad train --resume {}\n", c.out);
    return interruptedStatus();
  }
  if (distributed.world_size > 1 && distributed.rank != 0) {
    fmt::print("rank {} of {}: trained {} in {:.1f}s; rank 0 wrote the run: {}\n", distributed.rank,
               distributed.world_size, shiftad::counted(s.epochs, "epoch"), s.seconds, s.run_dir);
    return 0;
  }
  fmt::print("trained {} in {:.1f}s on {} source and {} pool images ({} skipped); run: {}\n",
             shiftad::counted(s.epochs, "epoch"), s.seconds, s.source_images, s.pool_images, s.skipped_images, c.out);
  return 0;
}

struct ScoreCommand {
  CLI::App* app = nullptr;
  std::string model, images, out;
  bool overwrite = false;
  double max_skipped = -1.0;  ///< < 0: not given
};

void addScore(CLI::App& app, ScoreCommand& c) {
  c.app = app.add_subcommand("score", "score images with a trained detector (higher = more anomalous)");
  c.app->add_option("--model", c.model, "run directory written by `shiftad train`")->required();
  c.app
      ->add_option("--images", c.images,
                   "image folder (recursive), one image, or a text file with one path per line (a relative path in the "
                   "list is taken from the list file's folder, not the working directory); - reads the paths from "
                   "standard input, one per line (a relative one from the working directory)")
      ->required();
  c.app
      ->add_option("--out", c.out,
                   "CSV to write: path,score,normalised_score,anomalous; - writes it to standard output. With "
                   "--images - too, each path is scored as its line arrives and its row flushed at once (the "
                   "detector stays loaded for a program that pipes paths in; an unreadable file's row has an empty "
                   "score)")
      ->required();
  c.app->add_flag("--overwrite", c.overwrite, "replace --out if it exists and shiftad wrote it (or it is empty)");
  c.app
      ->add_option("--max-skipped", c.max_skipped,
                   "unreadable images that may be skipped before scoring fails: a share below 1 (rounded down) or a "
                   "count from 1 (default: the run's data.max_skipped)")
      ->check(kSkipLimit);
}

/// One line of a stream: the path it names, or why it names none.
struct StreamLine {
  std::string path, problem;
  size_t number = 0;
};

/// The rows of `lines`, in their order, scored together: the paths of a line that names
/// one go through one score() call (batches of kInferenceImages, decoded in parallel),
/// and an image's score does not depend on the others scored with it. An unreadable
/// file's row has an empty score, a line that names no path an empty path too.
std::string streamRows(shiftad::Detector& detector, const std::vector<StreamLine>& lines, size_t& scored,
                       size_t& unreadable) {
  std::vector<std::string> paths;
  for (const auto& l : lines) {
    if (l.problem.empty())
      paths.push_back(l.path);
    else
      spdlog::warn("standard input, line {}: {}; a row with an empty path and score", l.number, l.problem);
  }
  const auto r = paths.empty() ? shiftad::ScoreResult{} : detector.score(paths);
  std::string rows;
  size_t next = 0;  // score() keeps the order of the paths it could read
  for (const auto& l : lines) {
    // A line that is not a path is not echoed (`path` is ""): its row is valid CSV.
    const bool ok = l.problem.empty() && next < r.scores.size() && r.scores[next].path == l.path;
    rows += ok ? scoreRow(r.scores[next++]) : shiftad::csv::field(l.path) + ",,,\n";
    (ok ? scored : unreadable) += 1;
  }
  return rows;
}

/// `score --images - --out -`: a detector kept loaded serves a pipe. The paths that have
/// arrived are scored together (at most kInferenceImages), their rows written and flushed
/// before the next line is waited for, so a program that sends one path at a time gets
/// its row at once and one that sends many gets them at the speed of a list; an
/// unreadable file's row has an empty score (the reason on stderr) and never ends the
/// command. Ends at the end of the input: exit 1 if it scored no image (no path came, or
/// none could be read), as the batch mode refuses an empty list, so that a pipeline whose
/// producer failed (`find` on a missing folder) notices.
int runScoreStream(const ScoreCommand& c) {
  shiftad::LoadOptions options;
  options.max_skipped = std::numeric_limits<double>::infinity();
  auto detector = shiftad::Detector::load(c.model, options);
  std::fputs(kScoresHeader.c_str(), stdout);
  shiftad::cli::flushStandardOutput();
  size_t scored = 0, unreadable = 0;
  StdinPaths in;
  std::vector<StreamLine> batch;
  for (StreamLine l; in.next(l.path, l.problem);) {
    batch.clear();
    do {
      l.number = in.line_number;
      batch.push_back(l);
    } while (batch.size() < static_cast<size_t>(shiftad::models::kInferenceImages) &&
             in.next(l.path, l.problem, /*wait=*/false));
    const auto rows = streamRows(detector, batch, scored, unreadable);
    std::fwrite(rows.data(), 1, rows.size(), stdout);
    shiftad::cli::flushStandardOutput();
  }
  if (unreadable > 0 || !quietOnStderr())
    fmt::print(stderr, "scored {} from standard input ({} unreadable: rows with an empty score)\n",
               shiftad::counted(scored, "image"), unreadable);
  SHIFTAD_CHECK(scored > 0 || unreadable > 0,
                "standard input (--images -) named no image (it was empty or closed; blank lines and '#' comments "
                "are skipped); give one image path per line");
  SHIFTAD_CHECK(scored > 0,
                "none of the {} lines of standard input (--images -) was an image that could be read (the "
                "reasons are above); relative paths are read from the folder the command runs in",
                unreadable);
  return 0;
}

int runScore(const ScoreCommand& c) {
  const bool from_stdin = c.images == "-", to_stdout = c.out == "-";
  SHIFTAD_CHECK(!to_stdout || !shiftad::cli::standardOutputWasClosed(),
                "--out -: standard output is closed, so the scores would be lost; give --out FILE");
  if (from_stdin && to_stdout) return runScoreStream(c);
  const auto target = to_stdout ? std::string() : checkScoreOut(c.out, c.images, c.overwrite);
  shiftad::LoadOptions options;
  if (c.max_skipped >= 0.0) options.max_skipped = c.max_skipped;
  auto detector = shiftad::Detector::load(c.model, options);
  const auto r = from_stdin ? detector.score(stdinPaths()) : detector.score(c.images);
  // The summary goes where the rows do not: a CSV on stdout stays a CSV.
  auto* const say = to_stdout ? stderr : stdout;
  if (to_stdout) {
    const auto csv = scoresCsv(r);
    std::fwrite(csv.data(), 1, csv.size(), stdout);
    shiftad::cli::flushStandardOutput();  // before the summary says the scores were written
  } else {
    checkNotAnInput(target, r);
    writeOut(target, c.overwrite, [&](const std::string& path) {
      shiftad::writeFileAtomic(path, scoresCsv(r));  // fsync'ed: the CSV survives a power loss once written
      return path;
    });
  }
  // On stderr (the rows on stdout), -q keeps only what warns: unreadable images.
  const bool silent = to_stdout && quietOnStderr();
  if (!silent || !r.skipped.empty())
    fmt::print(say, "scored {} ({} unreadable, skipped) -> {}\n", shiftad::counted(r.scores.size(), "image"),
               r.skipped.size(), to_stdout ? "standard output" : c.out);
  if (!silent && !r.scores.empty() && !std::isnan(r.scores.front().normalised_score)) {
    const auto t = detector.thresholdInfo();
    const auto flagged = std::count_if(r.scores.begin(), r.scores.end(), [](const auto& s) { return s.anomalous; });
    const auto rule = t.fell_back ? fmt::format("{}, fell back to the {} quantile of the calibration normals",
                                                shiftad::toString(t.rule), t.quantile)
                                  : shiftad::toString(t.rule);
    fmt::print(say, "anomalous (score > threshold {:.6g}, rule {}): {} of {}\n", t.threshold, rule, flagged,
               r.scores.size());
  }
  return 0;
}

struct ExportCommand {
  CLI::App* app = nullptr;
  std::string model, out;
  bool overwrite = false;
};

void addExport(CLI::App& app, ExportCommand& c) {
  c.app = app.add_subcommand("export",
                             "write a trained detector as one ONNX model: RGB pixels -> score and embedding "
                             "(docs/deploy.md)");
  c.app->add_option("--model", c.model, "run directory written by `shiftad train`")->required();
  c.app->add_option("--out", c.out, "ONNX file to write (e.g. detector.onnx)")->required();
  c.app->add_flag("--overwrite", c.overwrite, "replace --out if it exists and shiftad wrote it (or it is empty)");
}

int runExport(const ExportCommand& c) {
  const auto target = checkOutFile(c.out, "an .onnx file", c.overwrite);
  const auto detector = shiftad::Detector::load(c.model);
  writeOut(target, c.overwrite, [&](const std::string& path) {
    detector.exportOnnx(path);
    return path;
  });
  fmt::print(
      "exported {} -> {} (ONNX: input \"pixels\", outputs \"score\" and \"embedding\"; the resize it "
      "expects is in its metadata, docs/deploy.md)\n",
      c.model, c.out);
  return 0;
}

struct EvalCommand {
  CLI::App* app = nullptr;
  std::string model, config, out;
  std::vector<std::string> overrides;
  bool overwrite = false;
};

void addEval(CLI::App& app, EvalCommand& c) {
  c.app = app.add_subcommand("eval", "AUROC/AUPR on the target test split of a config");
  c.app->add_option("--model", c.model, "run directory written by `shiftad train`")->required();
  c.app->add_option("--config", c.config, "YAML config defining the split (default: the run's own config)")
      ->check(CLI::ExistingFile);
  c.app
      ->add_option("--set", c.overrides,
                   "override a key of that config that defines the split (data.*; repeatable); the model and its "
                   "settings are the run's")
      ->check(kKeyValue);
  c.app->add_option("--out", c.out,
                    "CSV file for the test images' scores (label,score,path); default: RUN_DIR/test_scores.csv "
                    "for the run's own split, none for another (that file keeps the run's own)");
  c.app->add_flag("--overwrite", c.overwrite, "replace --out if it exists and shiftad wrote it (or it is empty)");
}

/// The keys `eval` reads from its config: those defining the split, and how images are
/// read. F, its preprocessing and its threshold are the run's; other keys change nothing.
bool evalReads(const std::string& key) {
  static const std::set<std::string> kSplit = {"data.root",         "data.source",        "data.target",
                                               "data.normal_class", "data.pool_fraction", "data.contamination",
                                               "data.split_seed",   "data.max_skipped",   "data.threads",
                                               "data.image_cache",  "data.pool_images",   "data.test_images"};
  return kSplit.count(key) > 0;
}

int runEval(const EvalCommand& c) {
  const auto own = shiftad::loadRunConfig(c.model);
  auto cfg = c.config.empty() ? own : shiftad::loadConfig(c.config);
  if (!c.overrides.empty()) cfg = shiftad::parseConfig(shiftad::dumpConfig(cfg), c.overrides, "--set");
  // After the parse: an unknown key is its error alone, not also a key that "changes nothing".
  for (const auto& o : c.overrides)
    if (const auto key = o.substr(0, o.find('=')); !evalReads(key))
      spdlog::warn(
          "eval --set {}: eval reads only the split (data.root, source, target, normal_class, pool_fraction, "
          "contamination, split_seed, pool_images, test_images) and how images are read; the model and its settings "
          "are the run's, so this "
          "changes nothing",
          o);
  // Without --out, another split's scores are not saved (the run's own stay).
  auto r = shiftad::EvalResult{};
  if (c.out.empty()) {
    r = shiftad::evaluate(c.model, cfg, "");
  } else {
    r.scores_file = writeOut(checkOutFile(c.out, "a CSV file", c.overwrite), c.overwrite, [&](const std::string& path) {
      r = shiftad::evaluate(c.model, cfg, path);
      return r.scores_file;  // "" when it could not be written (a warning said why)
    });
  }
  // AUPR's chance level is the anomaly share of the test split (AUROC's is 0.5).
  const double chance =
      static_cast<double>(r.anomalous) / static_cast<double>(std::max<int64_t>(1, r.normal + r.anomalous));
  const auto se = std::isnan(r.auroc_se) ? std::string(" (no standard error: fewer than two of a class)")
                                         : fmt::format(" ± {:.4f} (DeLong's standard error)", r.auroc_se);
  fmt::print(
      "AUROC {:.4f}{}  AUPR {:.4f} (chance {:.4f})  (target '{}' test split: {} normal, {} anomalous, {} "
      "skipped); scores: {}\n",
      r.auroc, se, r.aupr, chance, cfg.data.target, r.normal, r.anomalous, r.skipped,
      !r.scores_file.empty()                                     ? r.scores_file
      : c.out.empty() && !shiftad::sameSplit(own.data, cfg.data) ? "not saved (another split than the run's own, whose "
                                                                   "test_scores.csv stays; --out FILE keeps them)"
                                                                 : "not saved (see the warning)");
  const auto precision = shiftad::evaluation::calledAnyAnomalous(r.recall, r.fpr)
                             ? fmt::format("{:.4f}", r.precision)
                             : std::string("- (no image above it)");
  fmt::print(
      "at the label-free threshold {:.6g}: precision {}  recall {:.4f}  F1 {:.4f}  FPR {:.4f}  (F1-max {:.4f}, "
      "its threshold chosen with the test labels)\n",
      r.threshold, precision, r.recall, r.f1, r.fpr, r.f1_max);
  if (const auto pool = shiftad::poolDiagnostics(c.model); pool.present)
    fmt::print("training's pool: estimated contamination {:.3f} (the share left out of the aligned set); true {}\n",
               pool.contamination_estimate,
               std::isnan(pool.contamination) ? std::string("unknown (an unlabeled pool)")
                                              : fmt::format("{:.3f} (diagnostic, reads labels)", pool.contamination));
  // Asked for by name, a scores file that could not be written (the disk filled) is a
  // failure of the command, even with its metrics above (the run's own file is a bonus).
  if (!c.out.empty() && r.scores_file.empty()) {
    fmt::print(stderr,
               "shiftad: error: eval --out '{}' could not be written (the warning above says why); the "
               "metrics above are complete\n",
               c.out);
    return kFailed;
  }
  return 0;
}

struct DemoCommand {
  CLI::App* app = nullptr;
  shiftad::DemoOptions options;
};

void addDemo(CLI::App& app, DemoCommand& c) {
  c.app = app.add_subcommand("demo",
                             "synthesize the default benchmark, run source-only and the recommended "
                             "variant over its classes and seeds, report like `bench`");
  c.app->add_option("--out", c.options.out_dir, "folder for data, runs, results.csv and reports")
      ->capture_default_str();
  c.app->add_option("--seed", c.options.seed, "seed of the synthetic data")->capture_default_str()->check(kSeedRange);
  addListOption(c.app, "--seeds", c.options.seeds,
                "split and training seeds, separated by spaces or commas (default: the synthetic suite's)", kSeedRange);
}

struct ClassifyCommand {
  CLI::App* app = nullptr;
  std::string weights, image, labels;
  int topk = 5;
};

void addClassify(CLI::App& app, ClassifyCommand& c) {
  c.app = app.add_subcommand("classify",
                             "top-k classes of a pretrained classifier for one image (checks weights + preprocessing)");
  c.app->add_option("--weights", c.weights, "classifier weights (.safetensors, torchvision names)")
      ->required()
      ->check(CLI::ExistingFile);
  c.app->add_option("--image", c.image, "image file")->required()->check(CLI::ExistingFile);
  c.app->add_option("--labels", c.labels, "text file: one class name per line, in index order")
      ->check(CLI::ExistingFile);
  c.app->add_option("--topk", c.topk, "how many classes to print")
      ->capture_default_str()
      ->check(wholeNumber(1, 1 << 20));
}

int runClassify(const ClassifyCommand& c) {
  for (const auto& r : shiftad::classify(c.weights, c.image, c.labels, c.topk))
    fmt::print("{:8.4f}  {:>5}  {}\n", r.probability, r.index, r.label);
  return 0;
}

/// "I/N" with 1 <= I <= N.
std::pair<int, int> parseShard(const std::string& text) {
  int i = 0, n = 0;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  const bool ok =
      static_cast<bool>(in >> i >> slash >> n) && slash == '/' && !(in >> extra) && n >= 1 && i >= 1 && i <= n;
  SHIFTAD_CHECK(ok, "'{}' is not I/N with 1 <= I <= N (e.g. 2/3: the second of three shards)", text);
  return {i, n};
}

struct BenchCommand {
  CLI::App* app = nullptr;
  shiftad::BenchOptions options;
  std::string shard;  ///< "I/N"
};

void addBench(CLI::App& app, BenchCommand& c) {
  c.app = app.add_subcommand("bench", "run a benchmark suite's one-vs-all grid and write results.csv + report.md");
  auto& o = c.options;
  c.app->add_option("--suite", o.suite, "shipped suite name (suites/NAME.yaml) or a suite file")->required();
  c.app->add_option("--root", o.root, "data root (default: the suite's)");
  addListOption(c.app, "--variants", o.variants,
                "variants to run, separated by spaces or commas (default: the suite's)");
  addListOption(c.app, "--seeds", o.seeds, "seeds, separated by spaces or commas (default: the suite's)", kSeedRange);
  addListOption(c.app, "--classes", o.classes,
                "normal classes, separated by spaces or commas (default: the suite's, else all); a class whose "
                "name holds a comma goes in the suite's 'classes' list");
  c.app->add_option("--set", o.overrides, "config key for every run: section.key=value (repeatable)")->check(kKeyValue);
  c.app->add_option("--out", o.out_dir, "output folder")->required();
  c.app->add_flag("--quick", o.quick, "the suite's quick settings (fewer classes/seeds)");
  c.app
      ->add_option("--sweep", o.sweep,
                   "run the grid once per value of one key instead of the main grid: section.key=v1,v2,... "
                   "(e.g. data.contamination=0,0.1,0.3,0.5 or cluster.k=2,4,8,16; a list key's values in brackets, "
                   "data.mean=[0.5,0.5,0.5],[0.485,0.456,0.406])")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto eq = text.find('=');
            const bool ok =
                eq != std::string::npos && eq > 0 && text.find_first_not_of(',', eq + 1) != std::string::npos;
            return ok ? ""
                      : fmt::format("'{}': expected section.key=v1,v2,... (e.g. data.contamination=0,0.1,0.2)", text);
          },
          "KEY=V1,V2,..."));
  // A callback, not a negated flag: CLI11 shows a negated flag's value ("--no-figures{false}").
  c.app->add_flag_callback(
      "--no-figures", [&o] { o.figures = false; }, "skip the ROC and PCA figures (they re-read the runs)");
  c.app->add_flag("-v,--verbose", o.verbose, "also every run's own lines (per epoch); default: one line per run");
  c.app
      ->add_option("--shard", c.shard,
                   "run only shard I of N of the grid (I/N, 1-based: with V variants, the run at grid position "
                   "k goes to shard (k % V + k / V) % N + 1, so every variant spreads over every shard), into its "
                   "own --out; merge the shards with --merge (docs/scale.md)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              parseShard(text);
              return "";
            } catch (const shiftad::Error& e) {
              return e.what();
            }
          },
          "I/N"));
  auto* merge = c.app->add_option("--merge", o.merge_from,
                                  "merge these shard folders of this same bench (same --suite and options) into "
                                  "--out instead of running: rows in grid order, run folders, one report");
  merge->excludes(c.app->get_option("--shard"));
}

int runBench(BenchCommand& c, const std::string& command) {
  c.options.command = command;
  if (!c.shard.empty()) std::tie(c.options.shard_index, c.options.shard_count) = parseShard(c.shard);
  shiftad::handleInterrupts();  // as train: the run in progress checkpoints, the locks are released
  const auto s = shiftad::runBench(c.options);
  if (s.interrupted) {
    fmt::print("interrupted after {} runs; {}; continue with the same command\n", s.runs,
               s.checkpointed ? "the run in progress was checkpointed" : "no run was in progress");
    return interruptedStatus();
  }
  if (!c.options.merge_from.empty())
    fmt::print("merged {} runs; report: {}\n", s.runs, s.report);
  else
    fmt::print("{} runs in {:.0f}s; report: {}\n", s.runs, s.seconds, s.report);
  return 0;
}

int runVariants() {
  for (const auto& v : shiftad::variants())
    fmt::print("{:<16} {}\n{:<16} overrides: {}\n", v.name, v.description, "", fmt::join(v.overrides, " "));
  return 0;
}

struct ConfigCommand {
  CLI::App* app = nullptr;
  std::string file, variant;
  std::vector<std::string> overrides;
  bool doc = false;
};

void addConfig(CLI::App& app, ConfigCommand& c) {
  c.app = app.add_subcommand("config", "print the resolved config, or the documentation of every key");
  c.app->add_option("--config", c.file, "YAML config to resolve")->check(CLI::ExistingFile);
  c.app->add_option("--variant", c.variant,
                    "a named variant applied on top of the config, before --set, as `train --variant` applies it "
                    "(list: `shiftad variants`)");
  c.app->add_option("--set", c.overrides, "override a key (repeatable)")->check(kKeyValue);
  c.app->add_flag("--doc", c.doc, "print every key as a Markdown table")->excludes("--config", "--variant", "--set");
}

int runConfig(const ConfigCommand& c) {
  if (c.doc)
    fmt::print("{}", shiftad::configDocMarkdown());
  else
    fmt::print("{}", shiftad::dumpConfig(variantConfig("config", c.file, c.variant, c.overrides)));
  return 0;
}

struct CheckDataCommand {
  CLI::App* app = nullptr;
  std::string root, config;
  std::vector<std::string> overrides;
  bool all = false;
};

void addCheckData(CLI::App& app, CheckDataCommand& c) {
  c.app = app.add_subcommand("check-data",
                             "check an ImageFolder root: counts, unreadable/truncated and non-image "
                             "files, duplicates; with --config, whether the protocol can run");
  c.app->add_option("root", c.root, "data root: ROOT/DOMAIN/CLASS/image")->required();
  c.app->add_option("--config", c.config, "YAML config whose data.* protocol to check (data.root := ROOT)")
      ->check(CLI::ExistingFile);
  c.app->add_option("--set", c.overrides, "override a key of that config (repeatable)")->check(kKeyValue);
  c.app->add_flag("--all", c.all,
                  fmt::format("list every group of duplicates (default: the first {} of each list, the rest counted)",
                              kShownGroups));
}

int runCheckData(const CheckDataCommand& c, int threads) {
  std::optional<shiftad::Config> cfg;
  if (!c.config.empty() || !c.overrides.empty()) cfg = shiftad::loadConfig(c.config, c.overrides);
  const auto r = shiftad::checkData(c.root, cfg ? &*cfg : nullptr, threads);
  printDataCheck(r, c.all);
  return r.problems.empty() && r.protocol_problems.empty() ? 0 : kFailed;
}

/// Every subcommand's options.
struct Commands {
  SynthCommand synth;
  TrainCommand train;
  ScoreCommand score;
  ExportCommand exporter;
  EvalCommand eval;
  DemoCommand demo;
  ClassifyCommand classify;
  BenchCommand bench;
  CLI::App* variants = nullptr;
  ConfigCommand config;
  CheckDataCommand check;
  Common common;
};

void addCommands(CLI::App& app, Commands& c) {
  app.require_subcommand(1);
  app.set_version_flag("--version", "shiftad 0.1.0");
  app.footer(kExitCodes);
  addSynth(app, c.synth);
  addTrain(app, c.train);
  addScore(app, c.score);
  addExport(app, c.exporter);
  addEval(app, c.eval);
  addDemo(app, c.demo);
  addClassify(app, c.classify);
  addBench(app, c.bench);
  c.variants = app.add_subcommand("variants", "list the named variants (paper baselines and ablations)");
  addConfig(app, c.config);
  addCheckData(app, c.check);
  for (auto* sub : {c.synth.app, c.train.app, c.score.app, c.exporter.app, c.eval.app, c.demo.app, c.classify.app,
                    c.bench.app, c.variants, c.config.app, c.check.app})
    addCommon(sub, c.common);
}

/// The subcommand that was parsed; its exit status.
int runCommand(Commands& c, const std::string& command) {
  if (*c.synth.app) return runSynth(c.synth);
  if (*c.train.app) return runTrain(c.train);
  if (*c.score.app) return runScore(c.score);
  if (*c.exporter.app) return runExport(c.exporter);
  if (*c.eval.app) return runEval(c.eval);
  if (*c.demo.app) {
    c.demo.options.command = command;
    shiftad::handleInterrupts();  // its bench stops as `bench` does
    const auto rows = shiftad::runDemo(c.demo.options);
    return rows.empty() && shiftad::caughtSignal() > 0 ? interruptedStatus() : 0;
  }
  if (*c.classify.app) return runClassify(c.classify);
  if (*c.bench.app) return runBench(c.bench, command);
  if (*c.variants) return runVariants();
  if (*c.check.app) return runCheckData(c.check, c.common.threads);
  if (*c.config.app) return runConfig(c.config);
  return 0;
}

/// What takes memory that a config can lower, for an out-of-memory error.
constexpr const char* kLessMemory =
    "use smaller batches (train.batch_size), smaller images (data.image_size) or fewer threads; with cluster.method "
    "gmm and cluster.covariance full, each of cluster.k components holds an embedding_dim x embedding_dim matrix "
    "(cluster.covariance diag, or a smaller model.embedding_dim)";

/// Runs the parsed command; errors end as one line on stderr and exit status 1.
int runGuarded(Commands& c, const std::string& command) {
  // Messages printed once (logOnce) get their count when a command ends well; after
  // an error, the error stays the last line.
  struct ReportRepeats {
    ~ReportRepeats() {
      if (std::uncaught_exceptions() == 0) shiftad::logRepeats();
    }
  };
  try {
    const ReportRepeats repeats;
    setUp(c.common);
    const int status = runCommand(c, command);
    shiftad::cli::flushStandardOutput();  // a report or CSV cut short by a full disk is an error
    return status;
  } catch (const shiftad::Stopped& e) {
    // Asked for (SIGINT, SIGTERM) before training began: the status of a stop, not of a failure.
    fmt::print(stderr, "shiftad: {}\n", shiftad::errorLine(e.what()));
    return interruptedStatus();
  } catch (const fs::filesystem_error& e) {
    fmt::print(stderr, "shiftad: error: {}\n", filesystemError(e));
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "shiftad: error: out of memory; {}\n", kLessMemory);
  } catch (const std::exception& e) {
    const auto msg = shiftad::errorLine(e.what());
    // LibTorch's allocator failing is std::bad_alloc's case, in its own words.
    if (msg.find("can't allocate memory") != std::string::npos)
      fmt::print(stderr, "shiftad: error: out of memory ({}); {}\n", msg, kLessMemory);
    else
      fmt::print(stderr, "shiftad: error: {}\n", msg);
  }
  return kFailed;
}

}  // namespace

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  passiveOpenMpWait(argv);
  shiftad::cli::openClosedStandardStreams();  // after the re-exec, which would forget what it found
  shiftad::quietLibTorchLog();                // errors are shiftad's one line, not c10d's log beside it
  CLI::App app{"shiftad: one-class anomaly detection under domain shift (dominant-cluster adaptation)"};
  Commands commands;
  addCommands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // CLI11 says only "A subcommand is required" for `shiftad trian`: name the word.
    const bool unknown = argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty();
    auto what = unknown ? fmt::format("unknown subcommand '{}'", argv[1]) : shiftad::errorLine(e.what());
    // CLI11 checks required options before unknown ones: `score --modle RUN` said
    // "--model is required", not what was mistyped.
    if (const auto rest = app.remaining(true); dynamic_cast<const CLI::RequiredError*>(&e) && !rest.empty())
      what = fmt::format("unknown argument '{}' ({})", rest.front(), what);
    fmt::print(stderr, "shiftad: error: {}; see `{} --help`\n", what, commandName(app));
    return kUsage;
  }
  if (*commands.train.app && commands.train.resume.empty() && commands.train.out.empty()) {
    fmt::print(stderr, "shiftad: error: train: --out RUN_DIR is required (or --resume RUN_DIR)\n");
    return kUsage;
  }
  if (*commands.score.app && commands.score.images == "-" && commands.score.out == "-" &&
      commands.score.max_skipped >= 0.0) {
    fmt::print(stderr,
               "shiftad: error: score: --max-skipped does not apply to --images - --out -, which never stops for an "
               "unreadable file (its row has an empty score); see `shiftad score --help`\n");
    return kUsage;
  }
  if (const auto e = *commands.train.app ? distributedUsageError(commands.train) : ""; !e.empty()) {
    fmt::print(stderr, "shiftad: error: {}; see `shiftad train --help`\n", e);
    return kUsage;
  }
  return runGuarded(commands, commandLine(argc, argv));
}
