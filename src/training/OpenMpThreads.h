// The OpenMP threads of the calling thread's parallel regions, for a scope: a run's
// train.threads, and one image scored on one thread. Torch-free.
#pragma once

namespace shiftad::training {

/// While alive, the calling thread's parallel regions (LibTorch's operators and oneDNN
/// read its OpenMP setting) use `threads` threads (0: left as they are); restored after.
/// omp_set_num_threads, not torch::set_num_threads: only the calling thread's setting
/// changes, so work on other threads is not affected, and it costs nothing, where
/// LibTorch's also resizes its thread pools (scoring one image at a time fell from 93
/// to 50 images/s on the 2-core machine). LibTorch sets a thread's OpenMP threads to its
/// own setting at the thread's first parallel operator; that is done first, so it
/// cannot undo this one.
class ScopedOpenMpThreads {
 public:
  explicit ScopedOpenMpThreads(int threads);
  ~ScopedOpenMpThreads();
  ScopedOpenMpThreads(const ScopedOpenMpThreads&) = delete;
  ScopedOpenMpThreads& operator=(const ScopedOpenMpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace shiftad::training
