// The public API's free functions (include/shiftad/shiftad.h): set-up, the synthetic
// benchmark, and train / score / evaluate as thin wrappers over shiftad::Detector.
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <thread>

#include <torch/torch.h>

#include "api/Interrupt.h"
#include "api/RunDir.h"
#include "common/Error.h"
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

}  // namespace

/// LibTorch's thread setting does not reach the BLAS behind libblas.so.3: Debian's
/// OpenBLAS (pthreads) runs every matrix product on all cores, its idle threads
/// spinning in sched_yield. Two `--threads 1` processes on 2 cores (bench shards,
/// data-parallel ranks) then each ran OpenBLAS on both cores, and head-only training
/// ran ~10× slower. Looked up at run time: the BLAS is chosen by Debian's alternatives,
/// and a reference BLAS has no such function (nothing to limit then).
void setBlasThreads(int n) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(n);
}

void setThreads(int threads) {
  keepLargeAllocationsInHeap();
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  setBlasThreads(n);
}

void synthesize(const std::string& out_dir, int seed) {
  // The benchmark's own layout may be rewritten; anything else in the folder is the user's.
  std::error_code ec;
  if (fs::is_directory(out_dir, ec)) {
    std::vector<std::string> foreign;
    const auto domains = data::synthDomains();
    for (const auto& e : fs::directory_iterator(out_dir))
      if (std::find(domains.begin(), domains.end(), e.path().filename().string()) == domains.end())
        foreign.push_back(e.path().filename().string());
    SHIFTAD_CHECK(foreign.empty(),
                  "synth --out '{}' holds files the benchmark does not write (e.g. '{}'); choose a new or empty folder",
                  out_dir, foreign.empty() ? "" : foreign.front());
  }
  data::SynthParams p;
  p.seed = seed;
  data::writeSynth(out_dir, p);
}

TrainSummary train(const Config& cfg, const std::string& run_dir, const TrainOptions& options) {
  return Detector::fit(cfg, run_dir, options).trainSummary();
}

TrainSummary resumeTraining(const std::string& run_dir, const DistributedOptions& distributed) {
  TrainOptions options;
  options.resume = true;
  options.distributed = distributed;
  // A replacement that was interrupted resumes with its own config.
  const auto replacement = api::replacementDir(run_dir);
  const bool pending = fs::exists(fs::path(replacement) / api::kConfigFile);
  return train(api::loadRunConfig(pending ? replacement : run_dir), run_dir, options);
}

void handleInterrupts() { api::installInterruptHandler(); }

std::string imageProblem(const std::string& path) {
  try {
    data::readImage(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

Config loadRunConfig(const std::string& run_dir) { return api::loadRunConfig(run_dir); }

ScoreResult score(const std::string& run_dir, const std::string& images) {
  return Detector::load(run_dir).score(images);
}

EvalResult evaluate(const std::string& run_dir, const Config& cfg) {
  return Detector::load(run_dir).evaluate(cfg, (fs::path(run_dir) / api::kTestScoresFile).string());
}

}  // namespace shiftad
