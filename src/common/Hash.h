// A stable content hash: 64-bit FNV-1a (std::hash may differ between builds and
// runs). Used for cache keys and content identity, not for security.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shiftad {

/// FNV-1a's offset basis; another `seed` gives an independent second hash.
constexpr uint64_t kFnv1aOffset = 14695981039346656037ull;

/// FNV-1a of `size` bytes at `data`, continuing from `h` (chain calls to hash pieces).
inline uint64_t fnv1a(const void* data, size_t size, uint64_t h = kFnv1aOffset) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h;
}

inline uint64_t fnv1a(std::string_view bytes, uint64_t h = kFnv1aOffset) {
  return fnv1a(bytes.data(), bytes.size(), h);
}

}  // namespace shiftad
