// shiftad::Error, the one exception type the library throws (Stopped, one kind of it, says a
// fit was stopped before it began training), in the public API so that a program using only
// include/shiftad/ can catch it. Its message says what is wrong, where (the path, key or
// value at fault) and, when possible, what to do about it.
#pragma once

#include <stdexcept>
#include <string>

namespace shiftad {

/// The one exception type the library throws for bad input or impossible requests.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

/// A stop request (SIGINT or SIGTERM with handleInterrupts) that arrived while a fit was
/// still embedding its images, before its first training step: nothing was trained and
/// the run folder is as it was (a resumed run's checkpoint too). The features computed
/// before the stop are not written to the disk cache (encoder.cache_dir): the fit run
/// again computes them again. A stop during training is not an exception: see
/// TrainSummary::interrupted.
class Stopped : public Error {
 public:
  using Error::Error;
};

}  // namespace shiftad
