#include "common/Memory.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/Error.h"

namespace fs = std::filesystem;

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

/// What a cgroup limit leaves in the group folder `dir` (v2's files, else v1's);
/// nullopt without one.
std::optional<uint64_t> cgroupLeft(const std::string& dir) {
  for (const auto& [limit, usage] : {std::pair<std::string, std::string>{"/memory.max", "/memory.current"},
                                     {"/memory.limit_in_bytes", "/memory.usage_in_bytes"}}) {
    const auto max = numberIn(dir + limit);
    const auto used = numberIn(dir + usage);
    // cgroup v1 writes "no limit" as a number near 2^63.
    if (max && used && *max < (uint64_t{1} << 62)) return *max > *used ? *max - *used : 0;
  }
  return std::nullopt;
}

/// The group folders whose limits bind this process, below the mount `root`: for each
/// line of `self` (/proc/self/cgroup: "ID:CONTROLLERS:/PATH") that is cgroup v2's
/// ("0::") or v1's memory controller's, the process's own group and every group above
/// it (root/PATH, ..., root; v1 under root/memory). A job's limit sits on its own group
/// (Slurm's .../job_N/step_M, a systemd slice, a nested container), not on the root.
std::vector<std::string> groupsAbove(const std::string& root, const std::string& self) {
  std::vector<std::string> out = {root, root + "/memory"};
  std::ifstream in(self);
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const auto controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    const bool v2 = line.compare(0, a, "0") == 0 && controllers == ",,";
    if (!v2 && controllers.find(",memory,") == std::string::npos) continue;
    // A group outside this cgroup namespace ("/../x") is not below the mount: unknown.
    if (line.find("/..", b) != std::string::npos) continue;
    for (auto path = fs::path(line.substr(b + 1)).lexically_normal(); path.has_relative_path();
         path = path.parent_path())
      out.push_back((v2 ? root : root + "/memory") + path.string());
  }
  return out;
}

}  // namespace

std::optional<uint64_t> availableMemoryBytes(const std::string& meminfo, const std::string& cgroup,
                                             const std::string& self_cgroup) {
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
  for (const auto& group : groupsAbove(cgroup, self_cgroup))
    if (const auto left = cgroupLeft(group)) total = std::min(total, *left);
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
