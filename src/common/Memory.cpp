#include "common/Memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/Error.h"

namespace shiftad {
namespace {

/// The first number of a one-line file such as memory.max; nullopt for "max" (no
/// limit), a missing file or other text.
std::optional<uint64_t> numberIn(const std::string& path) {
  std::ifstream in(path);
  uint64_t v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

/// What a cgroup limit leaves (v2, else v1); nullopt without one.
std::optional<uint64_t> cgroupLeft(const std::string& cgroup) {
  for (const auto& [limit, usage] : {std::pair<std::string, std::string>{"/memory.max", "/memory.current"},
                                     {"/memory/memory.limit_in_bytes", "/memory/memory.usage_in_bytes"}}) {
    const auto max = numberIn(cgroup + limit);
    const auto used = numberIn(cgroup + usage);
    // cgroup v1 writes "no limit" as a number near 2^63.
    if (max && used && *max < (uint64_t{1} << 62)) return *max > *used ? *max - *used : 0;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> availableMemoryBytes(const std::string& meminfo, const std::string& cgroup) {
  std::ifstream in(meminfo);
  if (!in) return std::nullopt;
  std::optional<uint64_t> available, swap_free;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (!(fields >> key >> kib)) continue;
    if (key == "MemAvailable:") available = kib * 1024;
    if (key == "SwapFree:") swap_free = kib * 1024;
  }
  if (!available) return std::nullopt;  // kernels before 3.14 lack it: no estimate
  uint64_t total = *available + swap_free.value_or(0);
  if (const auto left = cgroupLeft(cgroup)) total = std::min(total, *left);
  return total;
}

void checkFitsInMemory(uint64_t needed, std::optional<uint64_t> available, const std::string& what,
                       const std::string& advice) {
  if (!available || needed <= *available) return;
  const auto gb = [](uint64_t b) { return static_cast<double>(b) / 1e9; };
  SHIFTAD_THROW(
      "{} need about {:.1f} GB of memory, and {:.1f} GB are available (free memory and swap, within any "
      "container limit); {}",
      what, gb(needed), gb(*available), advice);
}

}  // namespace shiftad
