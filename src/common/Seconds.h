// Wall seconds measured on the monotonic clock. Torch-free.
#pragma once

#include <chrono>

namespace shiftad {

/// Seconds from `t0` to now (std::chrono::steady_clock: never set back by the system).
inline double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace shiftad
