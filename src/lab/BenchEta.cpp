#include "lab/BenchEta.h"

#include <algorithm>

namespace shiftad::lab {

BenchEta::BenchEta(int64_t runs, int64_t directions) : runs_(runs), directions_(directions) {}

void BenchEta::directionStarted() { ++directions_started_; }

void BenchEta::runEnded(double seconds) { run_seconds_.push_back(seconds); }

double BenchEta::secondsLeft(double elapsed) const {
  if (run_seconds_.empty()) return -1.0;
  std::vector<double> s = run_seconds_;
  const auto mid = s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2);
  std::nth_element(s.begin(), mid, s.end());
  double typical = *mid;
  if (s.size() % 2 == 0) typical = (typical + *std::max_element(s.begin(), mid)) / 2;
  const auto ran = static_cast<int64_t>(s.size());
  const double once = std::max(0.0, elapsed - typical * static_cast<double>(ran));
  const double per_direction = directions_started_ > 0 ? once / static_cast<double>(directions_started_) : 0.0;
  const int64_t runs_left = std::max<int64_t>(0, runs_ - ran);
  const int64_t directions_left = std::max<int64_t>(0, directions_ - directions_started_);
  return typical * static_cast<double>(runs_left) + per_direction * static_cast<double>(directions_left);
}

}  // namespace shiftad::lab
