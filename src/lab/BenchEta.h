// The time left of a bench: its runs and, per direction, the work done once (decoding,
// embedding, the first run's feature extraction). Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace shiftad::lab {

/// A bench's ETA from what it has run so far. A plain rate (elapsed / runs) counts the
/// first direction's decoding and embedding into every run: after the first run of a
/// suite it said hours where minutes were left. Here a typical run takes the median of
/// the runs' own times, and the rest of the elapsed time is the directions' once-only
/// work, expected again for each direction not yet started.
class BenchEta {
 public:
  /// `runs`: the runs this process will run; `directions`: the directions it will visit.
  BenchEta(int64_t runs, int64_t directions);

  /// A direction was started (before its images are prefetched).
  void directionStarted();
  /// A run ended after `seconds` of its own.
  void runEnded(double seconds);
  /// Seconds left, `elapsed` seconds into the bench (< 0 before any run ended).
  double secondsLeft(double elapsed) const;

 private:
  int64_t runs_ = 0, directions_ = 0, directions_started_ = 0;
  std::vector<double> run_seconds_;
};

}  // namespace shiftad::lab
