// Data-parallel training across processes (docs/scale.md): the process group that
// ranks train in, on LibTorch's c10d (Gloo on CPU). Rank 0 serves the rendezvous store
// (unless a launcher such as torchrun already does); every collective fails with a
// shiftad::Error naming the operation when a rank dies or waits past the timeout, so a
// run never hangs on a lost peer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "shiftad/Detector.h"

namespace shiftad::training {

/// Rows [first, last) of `n` that `rank` of `world` handles: contiguous, in rank order,
/// sizes differing by at most one (the first n % world ranks take one more).
std::pair<int64_t, int64_t> shardRange(int64_t n, int rank, int world);

class ProcessGroup {
 public:
  /// Join the group `options` describes (world_size > 1): rendezvous through the TCP
  /// store at master_addr:master_port, then connect every pair of ranks. Throws
  /// shiftad::Error when the others do not all arrive within the timeout.
  static std::shared_ptr<ProcessGroup> connect(const DistributedOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  struct State;  ///< the store, the backend and their device (Distributed.cpp)

  int rank() const { return rank_; }
  int size() const { return size_; }

  /// Sum `tensors` (float, same shapes on every rank) over all ranks, in place.
  /// `what` names the operation in the error a lost rank causes.
  void allReduceSum(std::vector<torch::Tensor>& tensors, const char* what = "summing gradients");
  /// Every rank's `rows` (N_r x ..., same trailing shape and dtype; N_r may differ and
  /// be 0) concatenated in rank order, on every rank.
  torch::Tensor allGatherRows(const torch::Tensor& rows);
  /// Every rank's string, in rank order, on every rank (through the store).
  std::vector<std::string> allGatherStrings(const std::string& value);
  /// Rank 0's `value` on every rank (other ranks' argument is ignored).
  std::string fromRank0(const std::string& value);
  /// Whether `flag` is set on any rank.
  bool any(bool flag);
  /// Wait until every rank is here.
  void barrier();

 private:
  ProcessGroup(int rank, int size, std::unique_ptr<State> state);
  std::string nextKey(const char* what);

  int rank_;
  int size_;
  std::unique_ptr<State> state_;
  int64_t calls_ = 0;  ///< store keys are numbered by call: every rank makes the same calls in the same order
};

/// `fn` over this rank's shard of `n` rows (first, last), gathered: the rows of all
/// ranks in order. Without a group (or alone), `fn(0, n)`.
template <class Fn>
torch::Tensor gatherShards(ProcessGroup* group, int64_t n, Fn&& fn) {
  if (!group || group->size() == 1) return fn(int64_t{0}, n);
  const auto [first, last] = shardRange(n, group->rank(), group->size());
  return group->allGatherRows(fn(first, last));
}

}  // namespace shiftad::training
