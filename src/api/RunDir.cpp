#include "api/RunDir.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "api/Features.h"
#include "api/RunIdentity.h"
#include "api/RunLock.h"
#include "common/AtomicFile.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/Rename.h"
#include "common/StaleTemporary.h"
#include "config/Choices.h"
#include "io/SafeTensors.h"

namespace fs = std::filesystem;

namespace shiftad::api {
namespace {

/// Metadata key of center.safetensors and reference.safetensors: the run's config at
/// training (checkTrainedSettings).
constexpr const char* kTrainedConfigKey = "trained_config";
/// center.safetensors' record of which center c is (LoadedRun::center_used).
constexpr const char* kCenterUsedKey = "center_used";

}  // namespace

bool runCompleted(const std::string& dir) {
  std::error_code ec;
  const auto summary = fs::path(dir) / kSummaryFile;
  if (!fs::is_regular_file(summary, ec) || !fs::is_regular_file(fs::path(dir) / kCalibrationFile, ec)) return false;
  const auto j = nlohmann::json::parse(readText(summary.string()), nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("interrupted") && j["interrupted"] == false;
}

namespace {

/// Whether `dir` holds nothing but the temporary files of atomic writes (a lock being
/// written: RunLock links it into place from one).
bool holdsNoRunFile(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    long writer = 0;
    if (!isTemporaryName(it->path().filename().string(), "", writer)) return false;
  }
  return !ec;
}

void checkFiles(const std::string& run_dir, std::initializer_list<const char*> names) {
  std::error_code ec;
  SHIFTAD_CHECK(!fs::exists(run_dir, ec) || fs::is_directory(run_dir, ec),
                "'{}' is a file, not a run directory (give the folder `shiftad train --out` wrote)", run_dir);
  SHIFTAD_CHECK(fs::is_directory(run_dir), "run directory '{}' does not exist (train one with `shiftad train`)",
                run_dir);
  for (const char* name : names) {
    if (fs::exists(fs::path(run_dir) / name, ec)) continue;
    // Not stopped: still training (another process, or a fit's callback in this one).
    if (const auto trainer = trainingProcess(run_dir); !trainer.empty())
      SHIFTAD_THROW(
          "run directory '{}' has no {} yet: {} is training it (its lock '{}/{}'); load it when that "
          "training has ended",
          run_dir, name, trainer, run_dir, kLockFile);
    // Finished, and a file lost since (a partial copy, a deletion): nothing to resume.
    SHIFTAD_CHECK(!runCompleted(run_dir),
                  "run directory '{}' holds a finished run (its {} says so) but its {} is missing: restore the file "
                  "from a copy of the run, or train the run anew",
                  run_dir, kSummaryFile, name);
    // --resume reads the config: without it, nothing can go on.
    SHIFTAD_CHECK(std::string(name) != kConfigFile || !fs::exists(fs::path(run_dir) / kRunMarkerFile, ec),
                  "run directory '{}' has lost its {} (a shiftad run's folder without it): restore the file from a "
                  "copy of the run, or train the run anew",
                  run_dir, name);
    // Stopped (Ctrl-C, SIGTERM, a cancel) or killed mid-training: it can go on.
    SHIFTAD_CHECK(!fs::exists(fs::path(run_dir) / kCheckpointFile, ec),
                  "run directory '{}' has no {} yet: its training was stopped before the end; finish it with "
                  "`shiftad train --resume {}`",
                  run_dir, name, run_dir);
    // Killed before its first checkpoint: the folder is a run's (marker and config), with
    // nothing to go on from; --resume starts it over from its config.
    SHIFTAD_CHECK(
        !(fs::exists(fs::path(run_dir) / kRunMarkerFile, ec) && fs::exists(fs::path(run_dir) / kConfigFile, ec)),
        "run directory '{}' has no {} yet: its training was stopped before its first checkpoint; train it "
        "from the start with `shiftad train --resume {}`",
        run_dir, name, run_dir);
    // Empty, or holding only a lock being written: a training that has just made the folder
    // (its lock and config follow within moments), or a folder made by hand. "Train again"
    // told a user loading a run whose training had just started to start another.
    SHIFTAD_CHECK(!holdsNoRunFile(run_dir),
                  "run directory '{}' is empty: no run is there yet (a training started in it writes its lock and "
                  "config within moments: load it again then); otherwise give the folder `shiftad train --out` wrote",
                  run_dir);
    SHIFTAD_THROW("run directory '{}' has no {} (incomplete or not a shiftad run; train again)", run_dir, name);
  }
}

}  // namespace

namespace {

/// NAME for a temporary file NAME.tmp-PID (temporaryPathFor) or NAME.tmp (older
/// versions) left by a killed write; "" for any other name.
std::string withoutTemporarySuffix(const std::string& name) {
  const auto at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return "";
  const auto suffix = name.substr(at + 4);
  if (suffix.empty()) return name.substr(0, at);
  const bool pid =
      suffix.size() > 1 && suffix[0] == '-' && suffix.find_first_not_of("0123456789", 1) == std::string::npos;
  return pid ? name.substr(0, at) : "";
}

/// The files a run directory can hold: everything shiftad writes there.
bool isRunFile(const std::string& name) {
  static const std::set<std::string> names = {
      kConfigFile,     kModelFile,      kCenterFile,  kReferenceFile, kMetricsFile,     kSummaryFile, kDominantFile,
      kTestScoresFile, kCheckpointFile, kEncoderFile, kLockFile,      kCalibrationFile, kPoolFile,    kInputsFile};
  return names.count(name) > 0 || names.count(withoutTemporarySuffix(name)) > 0;
}

}  // namespace

namespace {

/// Whether the safetensors file at `path` says shiftad wrote it: "format" in its header's
/// __metadata__ starts with "shiftad" (run files and checkpoints). Reads the header only.
bool writtenByShiftad(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char size_bytes[8] = {};
  if (!f.read(reinterpret_cast<char*>(size_bytes), 8)) return false;
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | size_bytes[i];
  if (size == 0 || size > (1u << 20)) return false;  // run files have headers of a few KiB
  std::string header(static_cast<size_t>(size), '\0');
  if (!f.read(header.data(), static_cast<std::streamsize>(size))) return false;
  const auto j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("__metadata__") || !j["__metadata__"].is_object()) return false;
  const auto& m = j["__metadata__"];
  return m.contains("format") && m["format"].is_string() && m["format"].get<std::string>().rfind("shiftad", 0) == 0;
}

}  // namespace

bool isShiftadRunFolder(const std::string& dir) {
  std::error_code ec;
  const fs::path d(dir);
  if (fs::is_regular_file(d / kRunMarkerFile, ec)) return true;
  if (!fs::is_regular_file(d / kConfigFile, ec)) return false;
  for (const char* name : {kModelFile, kCenterFile, kReferenceFile, kCheckpointFile})
    if (fs::is_regular_file(d / name, ec) && writtenByShiftad(d / name)) return true;
  return false;
}

std::string absoluteFolder(const std::string& dir) {
  auto p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.string();
}

std::string runFolderAtOrAbove(const std::string& path) {
  for (auto d = fs::path(absoluteFolder(path)); d.has_relative_path(); d = d.parent_path())
    if (isShiftadRunFolder(d.string())) return d.string();
  return "";
}

void checkNotInsideARun(const std::string& run_dir) {
  const auto outer = runFolderAtOrAbove(fs::path(absoluteFolder(run_dir)).parent_path().string());
  SHIFTAD_CHECK(outer.empty(),
                "'{}' lies inside the run folder '{}', which holds only its own files (replacing that run would "
                "delete this one); choose a path outside it",
                run_dir, outer);
}

void markRunFolder(const std::string& dir) {
  fs::create_directories(dir);
  const auto marker = fs::path(dir) / kRunMarkerFile;
  std::error_code ec;
  if (fs::is_regular_file(marker, ec)) return;
  // A plain write, not write-and-rename: only its existence counts, and a kill before a
  // rename would leave a run folder without its marker.
  std::ofstream f(marker);
  f << "a shiftad run folder: shiftad may replace the files it wrote here, never others\n";
  SHIFTAD_CHECK(f.good(), "cannot write '{}': {}", marker.string(), std::strerror(errno));
}

void removeOwnFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return;
  SHIFTAD_CHECK(fs::is_directory(fs::symlink_status(dir, ec)),
                "'{}' is in the way: shiftad builds a run there; move it away", dir);
  // A run killed while it was being built may not have its marker yet: then every entry
  // must be one of a run's files.
  bool only_run_files = true;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    only_run_files &= !e.is_directory() &&
                      (isRunFile(name) || name == kRunMarkerFile || withoutTemporarySuffix(name) == kRunMarkerFile);
  }
  SHIFTAD_CHECK(only_run_files || isShiftadRunFolder(dir),
                "'{}' is in the way: shiftad builds a run there, and it holds files shiftad did not write; move it "
                "away (shiftad never deletes what it did not create)",
                dir);
  fs::remove_all(dir);
}

RunDirState inspectRunDir(const std::string& dir) {
  RunDirState st;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return st;
  SHIFTAD_CHECK(fs::is_directory(dir, ec), "'{}' exists and is a file, not a folder; choose another --out", dir);
  bool has_config = false, has_output = false;
  // In a folder shiftad did not make, a file named like a run file is the user's.
  const bool ours = isShiftadRunFolder(dir);
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    ++st.entries;
    const bool lock = name == kLockFile || withoutTemporarySuffix(name) == kLockFile;  // RunLock refuses others
    if (name == kRunMarkerFile && !e.is_directory()) continue;
    if ((!ours && !lock) || !isRunFile(name) || e.is_directory()) {
      st.foreign.push_back(name + (e.is_directory() ? "/" : ""));
      continue;
    }
    has_config |= name == kConfigFile;
    has_output |= name != kConfigFile && name != kLockFile;
    st.finished |= name == kModelFile || name == kReferenceFile;
  }
  std::sort(st.foreign.begin(), st.foreign.end());
  st.has_config = has_config;
  st.is_run = has_config && has_output;
  return st;
}

namespace {

/// RUN_DIR as an absolute path without a trailing "." or separator: rename() refuses
/// "." (EBUSY), so `--out .` from inside the run is renamed by its full name. A link to
/// a folder is followed: the run it points at is replaced and the link kept (renaming the
/// link itself would turn it into a real folder and leave the old run behind it).
std::string absoluteDir(const std::string& run_dir) {
  auto p = fs::absolute(run_dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  if (fs::is_symlink(p, ec) && fs::is_directory(p, ec)) {
    const auto target = fs::canonical(p, ec);
    if (!ec) return target.string();
  }
  return p.string();
}

}  // namespace

namespace {

/// The working folder when it is `dir` or lies inside it, else empty: the swap leaves the
/// process (and a shell it was started from) in the old run, which is then removed.
fs::path workingFolderIn(const fs::path& dir) {
  std::error_code ec;
  const auto cwd = fs::current_path(ec);
  if (ec) return {};
  const auto rel = cwd.lexically_relative(fs::weakly_canonical(dir, ec));
  return !rel.empty() && *rel.begin() != ".." ? cwd : fs::path();
}

/// After the swap: the process re-enters its working folder by name (now in the new
/// run), and the user hears that a shell started there did not.
void reenterWorkingFolder(const fs::path& cwd, const std::string& run_dir) {
  if (cwd.empty()) return;
  const bool entered = ::chdir(cwd.c_str()) == 0;
  log::warn(
      "replaced the run '{}' from inside it: a shell started there is still in the old, removed folder "
      "(`cd \"$PWD\"` enters the new one){}",
      run_dir, entered ? "" : fmt::format("; '{}' is not in the new run", cwd.string()));
}

}  // namespace

std::string replacementDir(const std::string& run_dir) {
  const fs::path p = absoluteDir(run_dir);
  // Room for ".old" after it (replaceRun's fallback): a run of a 240-byte name was made
  // and could never be replaced ("File name too long").
  const std::string name = "." + p.filename().string() + ".replacement";
  return (p.parent_path() / nameWithRoomFor(name, 4)).string();
}

void replaceRun(const std::string& run_dir_as_given, const std::string& replacement) {
  const auto run_dir = absoluteDir(run_dir_as_given);
  const auto cwd = workingFolderIn(run_dir);
  keepModeAndGroup(run_dir, replacement);  // a run made private or shared with a group stays so
  faultPointBeforeCommit();
  // One atomic step on Linux: the two folders trade places, so run_dir holds the old
  // run or the new one at every instant; the old one then goes with `replacement`.
  if (::renameat2(AT_FDCWD, replacement.c_str(), AT_FDCWD, run_dir.c_str(), RENAME_EXCHANGE) != 0) {
    // File systems without RENAME_EXCHANGE: two renames; a kill between them leaves
    // run_dir missing and both runs beside it, which the next train --overwrite or
    // --resume puts right (finishReplacement).
    const auto old = replacement + ".old";
    std::error_code ec;
    fs::rename(run_dir, old, ec);
    SHIFTAD_CHECK(!ec, "cannot move the old run '{}' aside: {}", run_dir, ec.message());
    commitRename(replacement, run_dir, ec);
    SHIFTAD_CHECK(!ec, "cannot move the new run '{}' to '{}': {}", replacement, run_dir, ec.message());
    removeOwnFolder(old);
    reenterWorkingFolder(cwd, run_dir);
    return;
  }
  // The exchange is on disk only once the parent folder is (commitRename does this for
  // the fallback's second rename).
  std::error_code ec;
  syncPath(fs::path(run_dir).parent_path().empty() ? fs::path(".") : fs::path(run_dir).parent_path(), ec);
  SHIFTAD_CHECK(!ec, "cannot sync the folder of '{}' after replacing the run: {}", run_dir, ec.message());
  removeOwnFolder(replacement);  // now the old run
  reenterWorkingFolder(cwd, run_dir);
}

void finishReplacement(const std::string& run_dir_as_given) {
  const auto run_dir = absoluteDir(run_dir_as_given);
  const auto replacement = replacementDir(run_dir);
  const auto old = replacement + ".old";
  std::error_code ec;
  if (!fs::exists(run_dir, ec) && fs::exists(old, ec) && fs::exists(replacement, ec)) {
    // Killed between the two renames of replaceRun's fallback: the new run is complete.
    commitRename(replacement, run_dir, ec);
    SHIFTAD_CHECK(!ec, "cannot move the new run '{}' to '{}': {}", replacement, run_dir, ec.message());
  }
  if (fs::exists(old, ec) && fs::exists(run_dir, ec)) removeOwnFolder(old);
}

void keepMetricsBefore(const std::string& run_dir, int epoch) {
  const auto path = (fs::path(run_dir) / kMetricsFile).string();
  if (!fs::exists(path)) return;
  std::ifstream f(path);
  std::string kept;
  for (std::string line; std::getline(f, line);) {
    // A line cut by a kill is not JSON: dropped like the ones after the checkpoint.
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer() && j["epoch"].get<int>() < epoch)
      kept += line + "\n";
  }
  writeTextAtomic(path, kept);
}

PoolDiagnostics readPoolDiagnostics(const std::string& run_dir) {
  std::ifstream f(fs::path(run_dir) / kMetricsFile);
  nlohmann::json last;
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) last = std::move(j);
  }
  PoolDiagnostics d;
  // Epochs that align write the four keys together (api/Fit.cpp, EpochRecorder).
  if (!last.is_object() || !last.contains("dominant_purity_diagnostic")) return d;
  // A line with one key but not the others was edited by hand: say which, not a bare json error.
  const auto number = [&](const char* key) {
    SHIFTAD_CHECK(last.contains(key) && last[key].is_number(),
                  "{}: the last epoch's line has dominant_purity_diagnostic but no number '{}' (the four pool "
                  "diagnostics are written together; restore the file or train again)",
                  (fs::path(run_dir) / kMetricsFile).string(), key);
    return last[key].get<double>();
  };
  d.present = true;
  d.dominant_share = number("dominant_share");
  d.contamination_estimate = number("contamination_estimate");
  // null: an unlabeled pool (data.pool_images), whose labels nobody knows.
  const auto diagnostic = [&](const char* key) {
    return last.contains(key) && last[key].is_null() ? std::numeric_limits<double>::quiet_NaN() : number(key);
  };
  d.dominant_purity = diagnostic("dominant_purity_diagnostic");
  d.contamination = diagnostic("contamination_diagnostic");
  return d;
}

void saveRun(const std::string& run_dir, const Config& cfg, training::Trainer& trainer, ScoreCenter center_used) {
  markRunFolder(run_dir);
  writeTextAtomic((fs::path(run_dir) / kConfigFile).string(), dumpConfig(cfg));
  auto metadata = trainer.net().describe();
  metadata["format"] = "shiftad";
  metadata["arch"] = toString(cfg.model.arch);
  const auto model = io::moduleStateDict(trainer.net());
  const NamedTensors center = {{"center", trainer.center()}};
  const auto id = runId({&model, &center});
  io::writeSafeTensors((fs::path(run_dir) / kModelFile).string(), model, withIdentity(metadata, model, id));
  io::writeSafeTensors(
      (fs::path(run_dir) / kCenterFile).string(), center,
      withIdentity(
          {{"format", "shiftad"}, {kTrainedConfigKey, dumpConfig(cfg)}, {kCenterUsedKey, toString(center_used)}},
          center, id));
}

namespace {

void writeReference(const std::string& run_dir, const Config& cfg, const models::FrozenScorer& scorer,
                    const NamedTensors& reference, const std::string& id) {
  io::writeSafeTensors(
      (fs::path(run_dir) / kReferenceFile).string(), reference,
      withIdentity({{"format", "shiftad"}, {"k", std::to_string(scorer.k)}, {kTrainedConfigKey, dumpConfig(cfg)}},
                   reference, id));
}

}  // namespace

void saveFrozenRun(const std::string& run_dir, const Config& cfg, const models::FrozenScorer& scorer,
                   std::shared_ptr<models::FeatureExtractor> encoder_trunk) {
  markRunFolder(run_dir);
  writeTextAtomic((fs::path(run_dir) / kConfigFile).string(), dumpConfig(cfg));
  const NamedTensors reference = {{"reference", scorer.reference.contiguous()}};
  // Φ goes into the run, so that it scores without the files it was built from.
  if (cfg.encoder.type == EncoderType::kBackbone) {
    auto trunk = encoder_trunk ? encoder_trunk : initialTrunk(cfg);
    auto metadata = trunk->describe();
    metadata["format"] = "shiftad";
    metadata["arch"] = toString(cfg.model.arch);
    metadata["role"] = "frozen encoder (F's initial trunk)";
    const auto model = io::moduleStateDict(*trunk);
    const auto id = runId({&model, &reference});
    io::writeSafeTensors((fs::path(run_dir) / kModelFile).string(), model, withIdentity(metadata, model, id));
    writeReference(run_dir, cfg, scorer, reference, id);
    return;
  }
  if (cfg.encoder.type == EncoderType::kTorchScript)
    copyFileAtomic(cfg.encoder.path, (fs::path(run_dir) / kEncoderFile).string());
  writeReference(run_dir, cfg, scorer, reference, runId({&reference}));
}

Config loadRunConfig(const std::string& run_dir) {
  checkFiles(run_dir, {kConfigFile});
  const auto path = (fs::path(run_dir) / kConfigFile).string();
  return parseConfig(readText(path), {}, path, run_dir);
}

namespace {

/// A run's config.yaml says what F was trained under; `file` (center or reference) holds
/// a copy made at training (runs of earlier versions: none). An edited preprocessing or
/// model key would change every score without a word.
/// Returns data.root as trained (cfg's for a run of an earlier version).
std::string checkTrainedSettings(const std::string& run_dir, const io::SafeTensorsFile& file, const Config& cfg) {
  const auto it = file.metadata.find(kTrainedConfigKey);
  if (it == file.metadata.end()) return cfg.data.root;
  std::vector<std::string> changed;
  Config trained;
  try {
    trained = parseConfig(it->second, {}, file.path);
    changed = changedSettings(trained, cfg);
  } catch (const Error& e) {
    SHIFTAD_THROW("'{}': the settings stored at training cannot be read ({}); restore the run or train it again",
                  file.path, e.what());
  }
  SHIFTAD_CHECK(changed.empty(),
                "'{}/{}' says other settings than '{}' was trained under ({}): config.yaml was edited after "
                "training, or one of the two comes from another run. F was trained under the values before the "
                "arrows and its scores mean nothing under others. Restore them, or train a new run with the new "
                "settings",
                run_dir, kConfigFile, file.path, fmt::format("{}", fmt::join(changed, "; ")));
  return trained.data.root;
}

}  // namespace

namespace {

/// A frozen-encoder baseline: its reference features and, with encoder.type backbone, Φ.
void loadFrozenRun(const std::string& run_dir, LoadedRun& run) {
  checkFiles(run_dir, {kReferenceFile});
  const auto path = (fs::path(run_dir) / kReferenceFile).string();
  const auto file = io::readSafeTensors(path);
  // The run's own copy of Φ (runs of older versions name the original files).
  const auto trunk_path = fs::path(run_dir) / kModelFile;
  const bool has_trunk = run.cfg.encoder.type == EncoderType::kBackbone && fs::exists(trunk_path);
  const auto trunk = has_trunk ? io::readSafeTensors(trunk_path.string()) : io::SafeTensorsFile{};
  run.run_id = checkRunFiles(run_dir, has_trunk ? std::vector{&trunk, &file} : std::vector{&file});
  run.trained_root = checkTrainedSettings(run_dir, file, run.cfg);
  const auto it = file.tensors.find("reference");
  SHIFTAD_CHECK(it != file.tensors.end() && it->second.dim() == 2 && it->second.size(0) > 0,
                "'{}': expected a non-empty 2-D tensor 'reference'", path);
  const auto k = file.metadata.count("k") ? std::stoi(file.metadata.at("k")) : 1;
  run.frozen = models::FrozenScorer{io::exactly(file, "reference", torch::kFloat), k};
  if (has_trunk) run.encoder_trunk = models::loadFeatureExtractor(run.cfg.model, trunk);
  const auto encoder = fs::path(run_dir) / kEncoderFile;
  if (run.cfg.encoder.type == EncoderType::kTorchScript && fs::exists(encoder)) run.cfg.encoder.path = encoder.string();
}

}  // namespace

namespace {

/// Which center a run's c is: as saveRun recorded it, else (a run of an earlier version,
/// or a value this version does not know) score.center, as the export said before.
ScoreCenter centerUsed(const io::SafeTensorsFile& center, const Config& cfg) {
  const auto it = center.metadata.find(kCenterUsedKey);
  const auto recorded = it == center.metadata.end() ? std::nullopt : config::parseChoice<ScoreCenter>(it->second);
  return recorded.value_or(cfg.score.center);
}

}  // namespace

LoadedRun loadRun(const std::string& run_dir) {
  LoadedRun run{loadRunConfig(run_dir), nullptr, std::nullopt, nullptr, "", ""};
  if (run.cfg.score.method != ScoreMethod::kSvdd) {
    loadFrozenRun(run_dir, run);
    return run;
  }
  checkFiles(run_dir, {kModelFile, kCenterFile});
  const auto model = io::readSafeTensors((fs::path(run_dir) / kModelFile).string());
  const auto center = io::readSafeTensors((fs::path(run_dir) / kCenterFile).string());
  run.run_id = checkRunFiles(run_dir, {&model, &center});
  run.trained_root = checkTrainedSettings(run_dir, center, run.cfg);
  auto net = models::loadFeatureExtractor(run.cfg.model, model);
  run.trainer = std::make_unique<training::Trainer>(run.cfg, net);
  const auto it = center.tensors.find("center");
  SHIFTAD_CHECK(it != center.tensors.end() && it->second.dim() == 1 && it->second.size(0) == net->embeddingDim(),
                "'{}/{}': expected a tensor 'center' of size {} ({}'s embedding size); the file does not belong "
                "to this run: restore the run or train it again",
                run_dir, kCenterFile, net->embeddingDim(), kModelFile);
  run.trainer->setCenter(io::exactly(center, "center", torch::kFloat));
  run.center_used = centerUsed(center, run.cfg);
  return run;
}

}  // namespace shiftad::api
