#include "training/OpenMpThreads.h"

#include <omp.h>

#include <ATen/Parallel.h>

namespace shiftad::training {

ScopedOpenMpThreads::ScopedOpenMpThreads(int threads) {
  at::internal::lazy_init_num_threads();  // else the first operator in the scope resets it
  saved_ = omp_get_max_threads();
  if (threads > 0 && threads != saved_) omp_set_num_threads(threads);
}

ScopedOpenMpThreads::~ScopedOpenMpThreads() { omp_set_num_threads(saved_); }

}  // namespace shiftad::training
