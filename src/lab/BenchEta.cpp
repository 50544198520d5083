#include "lab/BenchEta.h"

#include <algorithm>

namespace shiftad::lab {

BenchEta::BenchEta(int64_t runs, int64_t directions) : runs_(runs), directions_(directions) {}

void BenchEta::directionPrepared(double seconds) {
  ++prepared_;
  preparing_seconds_ += seconds;
}

void BenchEta::runEnded() { ++ran_; }

double BenchEta::secondsLeft(double elapsed) const {
  if (ran_ == 0) return -1.0;
  const double per_run = std::max(0.0, elapsed - preparing_seconds_) / static_cast<double>(ran_);
  const double per_direction = prepared_ > 0 ? preparing_seconds_ / static_cast<double>(prepared_) : 0.0;
  const int64_t runs_left = std::max<int64_t>(0, runs_ - ran_);
  const int64_t directions_left = std::max<int64_t>(0, directions_ - prepared_);
  return per_run * static_cast<double>(runs_left) + per_direction * static_cast<double>(directions_left);
}

}  // namespace shiftad::lab
