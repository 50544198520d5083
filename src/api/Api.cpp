// The public API's free functions (include/shiftad/shiftad.h): set-up, the synthetic
// benchmark, and train / score / evaluate as thin wrappers over shiftad::Detector.
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <glog/logging.h>
#include <torch/torch.h>

#include "api/Interrupt.h"
#include "api/OutputFile.h"
#include "api/RunDir.h"
#include "common/Error.h"
#include "common/ParallelFor.h"
#include "data/FileCheck.h"
#include "data/ImageTensors.h"
#include "data/Synth.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

/// Convolutions at 224 px allocate and free activation buffers of tens of MB per
/// layer. glibc serves those with mmap/munmap, so every layer pays page faults and
/// zeroing: MobileNetV2 inference ran at ~5 images/s with most time in the kernel.
/// Keeping large blocks in the heap (never trimmed) makes it ~6x faster. Once per process.
void keepLargeAllocationsInHeap() {
  static const bool tuned = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    return true;
  }();
  (void)tuned;
}

/// LibTorch's thread setting does not reach the BLAS behind libblas.so.3: Debian's
/// OpenBLAS (pthreads) runs every matrix product on all cores, its idle threads
/// spinning in sched_yield (seen in stack samples of two `--threads 1` bench processes
/// on 2 cores, each running its products on both). Looked up at run time: the BLAS is
/// chosen by Debian's alternatives, and a reference BLAS has no such function (nothing
/// to limit then).
void setBlasThreads(int n) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(n);
}

/// OpenBLAS chooses its kernels by CPU model name when it is loaded; on a model it does
/// not know, such as a hypervisor's generic "Intel(R) Xeon(R) Processor" with AVX-512,
/// it falls back to its SSE3 "Prescott" kernels, and head-only training (1280 x 1280
/// products) ran 2x slower. Where that happened and the CPU has the instructions, its
/// kernel table is chosen again as OPENBLAS_CORETYPE would have chosen it at load
/// (gotoblas_dynamic_quit/init, exported by DYNAMIC_ARCH builds such as Debian's). Done
/// once, at setThreads, the start-up call the CLI and programs make, so that they score
/// alike. A core type the user set is kept. Not when the library is loaded: the table
/// is rebuilt under whatever BLAS call another thread is in, and a host that loads it
/// late (Python's ctypes, a plugin) had its own threads' products crash or come out
/// wrong (4 of 6 runs of a dgemm loop beside a dlopen).
void useBlasKernelsOfThisCpu() {
  static const bool done = [] {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return false;
    using CoreName = const char* (*)();
    using Hook = void (*)();
    auto* name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    auto* quit = reinterpret_cast<Hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    auto* init = reinterpret_cast<Hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    if (!name || !quit || !init || std::string(name()) != "Prescott") return false;  // a CPU it knows
    __builtin_cpu_init();
    const char* core = nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
      core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      core = "Haswell";
    if (!core) return false;
    setenv("OPENBLAS_CORETYPE", core, 1);  // also what child processes get
    quit();
    init();
    return true;
  }();
  (void)done;
}

using data::kSynthMarkerFile;
/// The benchmark is written here (hidden: no listing reads it), then its domains are
/// moved into place: a write cut short (Ctrl-C, a kill, a full disk) leaves no domain
/// with part of its images for check-data to pass and training to use.
constexpr const char* kSynthStaging = ".synth-partial";

/// The first entry below the benchmark's domain folder `domain` that synth does not
/// write (a user's image, class or note added to an earlier benchmark), or "".
std::string foreignInSynthDomain(const fs::path& domain) {
  const auto status = fs::symlink_status(domain);
  if (!fs::exists(status)) return "";
  if (!fs::is_directory(status)) return domain.string();  // a file or a link named like a domain
  const auto classes = data::synthClasses();
  std::vector<std::string> foreign;
  for (const auto& c : fs::directory_iterator(domain)) {
    const auto cls = c.path().filename().string();
    if (!fs::is_directory(c.symlink_status()) || std::find(classes.begin(), classes.end(), cls) == classes.end()) {
      foreign.push_back(c.path().string());
      continue;
    }
    for (const auto& f : fs::directory_iterator(c.path()))
      if (!fs::is_regular_file(f.symlink_status()) || !data::isSynthImageName(f.path().filename().string()))
        foreign.push_back(f.path().string());
  }
  return foreign.empty() ? "" : *std::min_element(foreign.begin(), foreign.end());
}

/// The benchmark's own folder may be rewritten; anything else is the user's: OUT must be
/// new, empty, or carry kSynthMarkerFile and nothing but the benchmark's domains, which
/// hold nothing but its classes' NNNN.png (a user's `source/` and `target/` look like the
/// benchmark's by their names alone; a marked benchmark may have had images added).
void checkSynthFolder(const std::string& out_dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(out_dir, ec))) return;
  SHIFTAD_CHECK(fs::is_directory(out_dir, ec),
                "'{}' is a file, not a folder; give a new or empty folder for the synthetic benchmark", out_dir);
  std::vector<std::string> foreign;
  bool marked = false;
  const auto domains = data::synthDomains();
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const auto name = e.path().filename().string();
    if (name == kSynthMarkerFile && e.is_regular_file())
      marked = true;
    else if (name == kSynthStaging)
      continue;  // a write cut short, ours: replaced
    else if (std::find(domains.begin(), domains.end(), name) == domains.end())
      foreign.push_back(name);
  }
  std::sort(foreign.begin(), foreign.end());
  SHIFTAD_CHECK(
      foreign.empty(),
      "'{}' holds files the synthetic benchmark does not write (e.g. '{}'); they are left alone: choose a new or "
      "empty folder",
      out_dir, foreign.empty() ? "" : foreign.front());
  SHIFTAD_CHECK(marked || fs::is_empty(out_dir, ec),
                "'{}' holds folders named like the synthetic benchmark's but not its marker '{}' (they are not its, "
                "or an older shiftad's); they are left alone: choose a new or empty folder, or delete that one",
                out_dir, kSynthMarkerFile);
  for (const auto& domain : domains) {
    const auto added = foreignInSynthDomain(fs::path(out_dir) / domain);
    SHIFTAD_CHECK(added.empty(),
                  "'{}' is not one the synthetic benchmark writes (its domains hold only its classes' NNNN.png), and "
                  "rewriting '{}' would delete it; move it out, or choose a new or empty folder",
                  added, out_dir);
  }
}

void markSynthFolder(const std::string& out_dir, int seed) {
  const auto marker = fs::path(out_dir) / kSynthMarkerFile;
  std::ofstream f(marker);
  f << data::synthMarkerText(seed);
  SHIFTAD_CHECK(f.good(), "cannot write '{}' (read-only or full?); choose another folder", marker.string());
}

}  // namespace

void setThreads(int threads) {
  SHIFTAD_CHECK(threads >= 0 && threads <= kMaxThreads, "threads = {} must be 0 (all cores) or in [1, {}]", threads,
                kMaxThreads);
  keepLargeAllocationsInHeap();
  useBlasKernelsOfThisCpu();
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  setBlasThreads(n);
  setDefaultThreads(n);  // image decoding (data.threads 0) and check-data
}

void quietLibTorchLog() {
  // LibTorch logs through glog; its c10d rendezvous warns and errs on stderr ("[c10d] The
  // client socket has timed out ...", after glog's own "Logging before InitGoogleLogging")
  // about what shiftad's error then says in one line. GLOG_minloglevel, where set, decides.
  if (const char* set = std::getenv("GLOG_minloglevel"); set == nullptr || *set == '\0')
    FLAGS_minloglevel = google::GLOG_FATAL;
}

void synthesize(const std::string& out_dir, int seed) {
  SHIFTAD_CHECK(!out_dir.empty(),
                "the synthetic benchmark's folder is '' (it would be written into the working directory); name a "
                "new or empty folder");
  const auto run = api::runFolderAtOrAbove(out_dir);
  SHIFTAD_CHECK(run.empty(),
                "'{}' lies inside the run folder '{}', which holds only its own files (that run could no longer be "
                "replaced); choose a folder outside every run",
                out_dir, run);
  checkSynthFolder(out_dir);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  SHIFTAD_CHECK(!ec, "cannot create folder '{}': {}; choose another folder", out_dir, ec.message());
  markSynthFolder(out_dir, seed);  // before the images: a folder cut short is still ours to rewrite
  const auto staging = fs::path(out_dir) / kSynthStaging;
  fs::remove_all(staging);
  data::SynthParams p;
  p.seed = seed;
  data::writeSynth(staging.string(), p);
  for (const auto& domain : data::synthDomains()) {
    fs::remove_all(fs::path(out_dir) / domain);
    fs::rename(staging / domain, fs::path(out_dir) / domain);
  }
  fs::remove(staging);
}

TrainSummary train(const Config& cfg, const std::string& run_dir, const TrainOptions& options) {
  return Detector::fit(cfg, run_dir, options).trainSummary();
}

namespace {

TrainSummary resumeFrom(const std::string& run_dir, const DistributedOptions& distributed) {
  TrainOptions options;
  options.resume = true;
  options.distributed = distributed;
  // A replacement that was interrupted resumes with its own config.
  const auto replacement = api::replacementDir(run_dir);
  const bool pending = fs::exists(fs::path(replacement) / api::kConfigFile);
  const auto dir = pending ? replacement : run_dir;
  Config cfg;
  try {
    cfg = api::loadRunConfig(dir);
  } catch (const Error& e) {
    // Before the rendezvous: the other ranks only see one that never comes.
    if (distributed.world_size < 2) throw;
    SHIFTAD_THROW(
        "{}; rank {} of {}: every rank must see the run folder at the same path (a shared file system) to "
        "resume a data-parallel run, and the other ranks wait for this one until their --dist-timeout",
        e.what(), distributed.rank, distributed.world_size);
  }
  // --set is refused with --resume: the way to follow moved data is the run's config.yaml.
  std::error_code ec;
  SHIFTAD_CHECK(fs::is_directory(cfg.data.root, ec),
                "'{}/{}' names data.root '{}', which is not a folder now: if the data moved, edit data.root in that "
                "file (the run resumes on the same images below the new root)",
                dir, api::kConfigFile, cfg.data.root);
  return train(cfg, run_dir, options);
}

}  // namespace

TrainSummary resumeTraining(const std::string& run_dir, const DistributedOptions& distributed) {
  return api::withFilesystemErrors("cannot resume the run '" + run_dir + "'", run_dir,
                                   [&] { return resumeFrom(run_dir, distributed); });
}

void handleInterrupts() { api::installInterruptHandler(); }

int caughtSignal() { return api::caughtSignal(); }

std::string imageProblem(const std::string& path) { return checkImageFile(path).problem; }

ImageFileCheck checkImageFile(const std::string& path) {
  ImageFileCheck check;
  try {
    const auto bytes = data::readDecodableBytes(path);
    check.content_hash = data::contentHash(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    check.bytes = bytes.size();
  } catch (const std::exception& e) {
    check.problem = e.what();
  }
  return check;
}

Config loadRunConfig(const std::string& run_dir) {
  return api::withFilesystemErrors("cannot read the run '" + run_dir + "'", run_dir,
                                   [&] { return api::loadRunConfig(run_dir); });
}

PoolDiagnostics poolDiagnostics(const std::string& run_dir) {
  return api::withFilesystemErrors("cannot read the run '" + run_dir + "'", run_dir, [&] {
    api::loadRunConfig(run_dir);  // a path that is no run is an error, not a run that aligned nothing
    return api::readPoolDiagnostics(run_dir);
  });
}

ScoreResult score(const std::string& run_dir, const std::string& images) {
  return Detector::load(run_dir).score(images);
}

namespace {

EvalResult evaluateRun(const std::string& run_dir, const Config& cfg, const std::string& scores_file) {
  LoadOptions options;
  options.disk_caches = true;  // the test split of a data set: read again at each eval
  // Another split's scores never replace the run's own (a bench's ROC figures read them).
  const bool own = sameSplit(api::loadRunConfig(run_dir).data, cfg.data);
  const auto file = !scores_file.empty() ? scores_file : own ? (fs::path(run_dir) / api::kTestScoresFile).string() : "";
  return Detector::load(run_dir, options).evaluate(cfg, file);
}

}  // namespace

EvalResult evaluate(const std::string& run_dir, const Config& cfg, const std::string& scores_file) {
  return api::withFilesystemErrors("cannot evaluate the run '" + run_dir + "'", run_dir,
                                   [&] { return evaluateRun(run_dir, cfg, scores_file); });
}

}  // namespace shiftad
