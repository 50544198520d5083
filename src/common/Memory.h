// How much memory the process can still take before the kernel, or the container it
// runs in, kills it: checked before work whose size is known up front (decoding a whole
// image set), so that it fails at once with the numbers instead of after minutes of
// decoding, with an out-of-memory kill that leaves no message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shiftad {

/// Bytes still available: MemAvailable plus SwapFree from `meminfo`, capped by what
/// every cgroup limit on the way from the process's own group (`self_cgroup`) up to the
/// mount `cgroup` leaves (v2: memory.max − memory.current; v1, under memory/:
/// memory.limit_in_bytes − memory.usage_in_bytes), the smallest of them.
/// nullopt when `meminfo` cannot be read (not Linux): then nothing is checked.
std::optional<uint64_t> availableMemoryBytes(const std::string& meminfo = "/proc/meminfo",
                                             const std::string& cgroup = "/sys/fs/cgroup",
                                             const std::string& self_cgroup = "/proc/self/cgroup");

/// Throws shiftad::Error when `needed` bytes exceed `available` (nullopt: unknown,
/// passes): "WHAT need about X GB of memory, and Y GB are available; ADVICE".
void checkFitsInMemory(uint64_t needed, std::optional<uint64_t> available, const std::string& what,
                       const std::string& advice);

}  // namespace shiftad
