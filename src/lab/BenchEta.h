// The time left of a bench: its runs and, per direction, the work done once before them
// (decoding and embedding its images). Torch-free.
#pragma once

#include <cstdint>

namespace shiftad::lab {

/// A bench's ETA from what it has run so far. A plain rate (elapsed / runs) charged the
/// first direction's decoding and embedding to every run: after the first run of a suite
/// it said many times the time left. Here a run takes the mean time the runs took, the
/// elapsed time less the directions' preparation (so the gaps between runs and the mix
/// of fast and slow variants are counted as they come), and each direction not yet
/// started takes the mean preparation of those that were.
class BenchEta {
 public:
  /// `runs`: the runs this process will run; `directions`: the directions it will visit.
  BenchEta(int64_t runs, int64_t directions);

  /// A direction's images were prepared (decoded, embedded) in `seconds`.
  void directionPrepared(double seconds);
  /// A run ended.
  void runEnded();
  /// Seconds left, `elapsed` seconds into the bench (< 0 before any run ended).
  double secondsLeft(double elapsed) const;

 private:
  int64_t runs_ = 0, directions_ = 0, ran_ = 0, prepared_ = 0;
  double preparing_seconds_ = 0.0;
};

}  // namespace shiftad::lab
