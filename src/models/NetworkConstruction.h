#pragma once

#include <ATen/core/Generator.h>

#include <memory>

namespace shiftad::models {

/// LibTorch draws a new module's initial weights from its one process-wide generator, so
/// two threads building networks at once draw each other's numbers, and a fit that seeded
/// that generator would reseed its host's. Every network shiftad builds is built while a
/// NetworkConstruction is alive: one at a time in the process (a recursive lock), given a
/// `stream` with the draws taken from that private generator (swapped in, advanced,
/// swapped out), and the global generator's state put back as it was found. A fit's F and
/// discriminator therefore get the same weights whatever else the process does, and a
/// single-threaded host's generator never moves. (A host thread that draws from the global
/// generator during those milliseconds still shares it: nothing can prevent that.) Inside
/// a construction that draws from a stream, a nested one draws from that stream too.
/// Networks are built in float32 whatever default dtype the host set (restored after).
class NetworkConstruction {
 public:
  /// One construction at a time; draws from the global generator, then puts its state
  /// back (a network whose weights are read next).
  NetworkConstruction();
  /// One construction at a time; draws from `stream`, which is advanced by them.
  explicit NetworkConstruction(at::Generator& stream);
  ~NetworkConstruction();
  NetworkConstruction(const NetworkConstruction&) = delete;
  NetworkConstruction& operator=(const NetworkConstruction&) = delete;

 private:
  explicit NetworkConstruction(at::Generator* stream);
  struct Held;
  std::unique_ptr<Held> held_;
};

/// The private generator a fit draws its networks' initial weights from: what the global
/// generator gives after torch::manual_seed(seed), so a seed means the weights it meant
/// when fits seeded the global generator.
at::Generator constructionStream(uint64_t seed);

}  // namespace shiftad::models
