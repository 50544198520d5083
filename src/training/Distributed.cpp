// c10d's ProcessGroupGloo.hpp declares the Gloo backend only under USE_C10D_GLOO, which
// Debian's LibTorch was built with but does not define for its users.
#define USE_C10D_GLOO 1

#include "training/Distributed.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Log.h"

namespace shiftad::training {

std::pair<int64_t, int64_t> shardRange(int64_t n, int rank, int world) {
  const int64_t base = n / world, extra = n % world;
  const int64_t first = rank * base + std::min<int64_t>(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

struct ProcessGroup::State {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> backend;  ///< Gloo here; the only backend-specific object
  torch::Device device = torch::kCPU;              ///< where the backend's tensors live
  std::chrono::milliseconds timeout;
};

namespace {

/// A c10d failure as the user should read it: which rank, doing what, and why a peer
/// is the usual cause.
template <class Fn>
auto collective(int rank, int size, const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const shiftad::Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (const auto eol = why.find('\n'); eol != std::string::npos) why.resize(eol);  // c10 appends a backtrace
    // A port in use is this machine's business, not another rank's.
    const bool port_taken = why.find("Address already in use") != std::string::npos;
    // Gloo's own words for ranks of different world sizes ("enforce fail at .../address.cc")
    // or a master name that does not resolve ("client socket has timed out") say neither.
    const bool rendezvous = std::string(what) == "the rendezvous";
    SHIFTAD_THROW("distributed training, rank {} of {}: {} failed: {} ({})", rank, size, what, why,
                  port_taken ? "another job or program listens on that port: give --master (or MASTER_PORT) another "
                               "port, the same for every rank"
                  : rendezvous
                      ? "every rank must give the same --world-size and --master, a host name every node resolves; "
                        "or another rank stopped, failed or did not answer within the timeout: its log says why"
                      : "another rank stopped, failed or did not answer within the timeout; its log says why");
  }
}

std::shared_ptr<gloo::transport::Device> glooDevice() {
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the network interface on multi-homed
  // nodes; otherwise the address this host's name resolves to (loopback if none).
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    try {
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    } catch (const std::exception&) {
      // Gloo says "Unable to find address for: NAME", which a rank-failure hint then buried.
      SHIFTAD_THROW(
          "distributed training: GLOO_SOCKET_IFNAME='{}' names no network interface of this host with an address "
          "(`ip -brief address` lists them); unset it, or name the interface the ranks reach each other on",
          ifname);
    }
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

/// The collective backend over `store`: Gloo on CPU. This is the one place a CUDA build
/// of LibTorch would construct c10d::ProcessGroupNCCL instead (and set the device to
/// cuda:LOCAL_RANK); everything else goes through c10d::ProcessGroup (docs/scale.md).
void makeBackend(ProcessGroup::State& state, int rank, int size) {
  auto options = c10d::ProcessGroupGloo::Options::create(state.timeout);
  options->devices.push_back(glooDevice());
  state.backend = c10::make_intrusive<c10d::ProcessGroupGloo>(state.store, rank, size, options);
  state.device = torch::kCPU;
}

/// The store of the rendezvous. LibTorch 1.13's TCPStore client waits for the server's
/// answer to its handshake without its own timeout: when rank 0's port accepted the
/// connection but nobody answers (rank 0 stopped or hung, another program on that port),
/// it waits for ever. So it runs on a thread of its own, given up after twice the timeout
/// (the thread stays blocked until the peer answers or the process ends).
c10::intrusive_ptr<c10d::Store> storeWithin(const std::string& addr, const c10d::TCPStoreOptions& so,
                                            std::chrono::milliseconds timeout) {
  auto made = std::make_shared<std::promise<c10::intrusive_ptr<c10d::Store>>>();
  auto store = made->get_future();
  std::thread([made, addr, so] {
    try {
      made->set_value(c10::make_intrusive<c10d::TCPStore>(addr, so));
    } catch (...) {
      made->set_exception(std::current_exception());
    }
  }).detach();
  const auto limit = 2 * timeout + std::chrono::seconds(1);
  SHIFTAD_CHECK(store.wait_for(limit) == std::future_status::ready,
                "no answer from {}:{} within {:.0f} s (twice --dist-timeout): rank 0 accepted the connection but does "
                "not answer (stopped or hung), or another program listens on that port",
                addr, so.port, std::chrono::duration<double>(limit).count());
  return store.get();
}

}  // namespace

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const DistributedOptions& o) {
  SHIFTAD_CHECK(o.world_size >= 2, "distributed training needs a world size of 2 or more; got {}", o.world_size);
  SHIFTAD_CHECK(o.rank >= 0 && o.rank < o.world_size, "distributed training: rank {} is outside 0..{}", o.rank,
                o.world_size - 1);
  SHIFTAD_CHECK(o.master_port > 0 && o.master_port < 65536, "distributed training: master port {} is not a TCP port",
                o.master_port);
  SHIFTAD_CHECK(o.timeout_seconds > 0 && o.timeout_seconds <= kMaxDistTimeoutSeconds,
                "distributed training: the timeout must be in (0, {}] seconds (a week); got {} s",
                kMaxDistTimeoutSeconds, o.timeout_seconds);
  auto state = std::make_unique<State>();
  state->timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000.0));
  log::info("distributed training: rank {} of {}, rendezvous at {}:{}", o.rank, o.world_size, o.master_addr,
            o.master_port);
  collective(o.rank, o.world_size, "the rendezvous", [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    // Under torchrun the launcher already serves the store: every rank is a client.
    so.isServer = o.rank == 0 && !o.store_served;
    so.numWorkers = o.store_served ? c10::nullopt : c10::optional<std::size_t>(o.world_size);
    so.waitWorkers = !o.store_served;
    so.timeout = state->timeout;
    auto tcp = storeWithin(o.master_addr, so, state->timeout);
    // A prefix of our own: a launcher's store also holds its keys, and those of the
    // attempts it restarted.
    state->store = c10::make_intrusive<c10d::PrefixStore>(fmt::format("shiftad/attempt{}", o.attempt), tcp);
    // Two processes given one rank: the second would wait with the others for a rank
    // nobody is, and each fail with a message that names neither.
    const auto joined = state->store->add(fmt::format("rank/{}", o.rank), 1);
    // A count no store of this run gives: whatever answered is not one (an HTTP server,
    // a proxy answering every connection), whose reply reads as a number.
    SHIFTAD_CHECK(joined >= 1 && joined <= 1 + o.world_size,
                  "distributed training: {}:{} does not answer as a rendezvous store (another program listens on that "
                  "port, or a proxy answers for the host?): give --master the host and a free port of rank 0",
                  o.master_addr, o.master_port);
    SHIFTAD_CHECK(joined == 1,
                  "distributed training: another process already joined as rank {} of {}: give each process its own "
                  "rank, 0 to {} (--rank, RANK or SLURM_PROCID; a --rank on a torchrun command line gives every "
                  "worker that rank)",
                  o.rank, o.world_size, o.world_size - 1);
    makeBackend(*state, o.rank, o.world_size);
    return 0;
  });
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(o.rank, o.world_size, std::move(state)));
}

ProcessGroup::ProcessGroup(int rank, int size, std::unique_ptr<State> state)
    : rank_(rank), size_(size), state_(std::move(state)) {}

ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::nextKey(const char* what) { return fmt::format("{}/{}", what, calls_++); }

void ProcessGroup::allReduceSum(std::vector<torch::Tensor>& tensors, const char* what) {
  collective(rank_, size_, what, [&] {
    // One flat buffer: one round trip however many parameters F has.
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors) parts.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(parts).to(state_->device)};
    state_->backend->allreduce(flat)->wait(state_->timeout);
    int64_t at = 0;
    for (auto& t : tensors) {
      t.copy_(flat[0].slice(0, at, at + t.numel()).view_as(t));  // copy_ moves it back to t's device
      at += t.numel();
    }
    return 0;
  });
}

torch::Tensor ProcessGroup::allGatherRows(const torch::Tensor& rows_in) {
  return collective(rank_, size_, "gathering rows", [&] {
    const auto rows = rows_in.to(state_->device).contiguous();
    // Collectives gather equal shapes: row counts first, then rows padded to the largest.
    const auto longs = torch::TensorOptions().dtype(torch::kLong).device(state_->device);
    std::vector<torch::Tensor> count{torch::full({1}, rows.size(0), longs)};
    std::vector<std::vector<torch::Tensor>> counts(1);
    for (int r = 0; r < size_; ++r) counts[0].push_back(torch::empty({1}, longs));
    state_->backend->allgather(counts, count)->wait(state_->timeout);
    int64_t most = 0;
    for (const auto& c : counts[0]) most = std::max(most, c.item<int64_t>());
    auto shape = rows.sizes().vec();
    shape[0] = most;
    std::vector<torch::Tensor> padded{torch::zeros(shape, rows.options())};
    padded[0].slice(0, 0, rows.size(0)).copy_(rows);
    std::vector<std::vector<torch::Tensor>> all(1);
    for (int r = 0; r < size_; ++r) all[0].push_back(torch::empty(shape, rows.options()));
    state_->backend->allgather(all, padded)->wait(state_->timeout);
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < size_; ++r) parts.push_back(all[0][r].slice(0, 0, counts[0][r].item<int64_t>()));
    return torch::cat(parts).to(rows_in.device());
  });
}

std::vector<std::string> ProcessGroup::allGatherStrings(const std::string& value) {
  const auto key = nextKey("strings");
  return collective(rank_, size_, "gathering names", [&] {
    state_->store->set(fmt::format("{}/{}", key, rank_), std::vector<uint8_t>(value.begin(), value.end()));
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r) {
      const auto bytes = state_->store->get(fmt::format("{}/{}", key, r));
      out.emplace_back(bytes.begin(), bytes.end());
    }
    return out;
  });
}

std::string ProcessGroup::fromRank0(const std::string& value) {
  const auto key = nextKey("from0");
  return collective(rank_, size_, "waiting for rank 0", [&] {
    if (rank_ == 0) {
      state_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
      return value;
    }
    const auto bytes = state_->store->get(key);
    return std::string(bytes.begin(), bytes.end());
  });
}

bool ProcessGroup::any(bool flag) {
  std::vector<torch::Tensor> t{torch::tensor({flag ? 1.0f : 0.0f})};
  allReduceSum(t, "agreeing on a stop");
  return t[0].item<float>() > 0.0f;
}

void ProcessGroup::barrier() {
  collective(rank_, size_, "waiting for every rank", [&] {
    state_->backend->barrier()->wait(state_->timeout);
    return 0;
  });
}

}  // namespace shiftad::training

namespace shiftad {
namespace {

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  SHIFTAD_CHECK(end && *end == '\0' && x >= 0 && x <= 1 << 30, "environment variable {}='{}' is not a count", name, v);
  return static_cast<int>(x);
}

std::string envString(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

DistributedOptions distributedFromEnvironment() {
  DistributedOptions o;
  // Each variable is the default of its own setting, whatever names the world: a script
  // that exports RANK and MASTER_PORT and gives --world-size meant them too (they were
  // read only beside WORLD_SIZE, and every process took rank 0 at 127.0.0.1:29500).
  const auto set = [](const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0';
  };
  o.world_size = set("WORLD_SIZE") ? envInt("WORLD_SIZE", 1) : std::max(1, envInt("SLURM_NTASKS", 1));
  o.rank = set("RANK") ? envInt("RANK", 0) : envInt("SLURM_PROCID", 0);
  o.master_addr = envString("MASTER_ADDR", o.master_addr);
  o.master_port = envInt("MASTER_PORT", o.master_port);
  o.store_served = set("WORLD_SIZE") && envString("TORCHELASTIC_USE_AGENT_STORE", "") == "True";
  o.attempt = envInt("TORCHELASTIC_RESTART_COUNT", 0);
  SHIFTAD_CHECK(o.world_size >= 1, "the launcher's environment names a world of {} processes", o.world_size);
  SHIFTAD_CHECK(o.world_size == 1 || o.rank < o.world_size,
                "the launcher's environment names rank {} of a world of {}: not a rank of it", o.rank, o.world_size);
  return o;
}

}  // namespace shiftad
