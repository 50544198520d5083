// Every hash shiftad computes: stable (std::hash may differ between builds and runs), for
// cache keys, content identity, seeds and cache checksums, not for security: 64-bit
// FNV-1a for keys of small texts, SplitMix64 to derive seeds, XXH64 for payloads (FNV-1a
// goes byte by byte, XXH64 8 bytes per step in four independent lanes: the checksum of a
// cache entry must cost little next to reading it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace shiftad {

/// FNV-1a's offset basis: the seed of the standard 64-bit FNV-1a.
constexpr uint64_t kFnv1aOffset = 14695981039346656037ull;

/// A second seed (2^64 / golden ratio): fnv1a(x) and fnv1a(x, kFnv1aSecondSeed) are two
/// independent 64-bit hashes, together a 128-bit key (io/FeatureCache.cpp). Feature
/// cache entries are named by it: another value would orphan every cached entry.
constexpr uint64_t kFnv1aSecondSeed = 0x9E3779B97F4A7C15ull;

/// 64-bit FNV-1a of `size` bytes at `data` (http://www.isthe.com/chongo/tech/comp/fnv/).
/// `seed` is the state the bytes are folded into: kFnv1aOffset for the standard hash,
/// kFnv1aSecondSeed for the independent second one, or the result of a previous call
/// to hash several pieces as one. Keys made with it (cache entries, encoder ids, memo
/// keys) change if the function or a seed does.
inline uint64_t fnv1a(const void* data, size_t size, uint64_t seed = kFnv1aOffset) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;  // the 64-bit FNV prime
  }
  return h;
}

/// fnv1a of a text. Pass a string or string_view: a bare literal with a seed,
/// fnv1a("x", seed), would pick the pointer overload above and read `seed` bytes.
inline uint64_t fnv1a(std::string_view bytes, uint64_t seed = kFnv1aOffset) {
  return fnv1a(bytes.data(), bytes.size(), seed);
}

/// SplitMix64's output function (Steele, Lea & Flood 2014): a well-mixed 64-bit value
/// from an integer, to derive independent seeds from small ones (data/Synth.cpp: every
/// synthetic image comes from it, so another function would change every image).
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

namespace detail {

constexpr uint64_t kXxP1 = 0x9E3779B185EBCA87ull, kXxP2 = 0xC2B2AE3D27D4EB4Full, kXxP3 = 0x165667B19E3779F9ull,
                   kXxP4 = 0x85EBCA77C2B2AE63ull, kXxP5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const unsigned char* p) {  // little-endian host (x86-64, arm64)
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t read32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t xxRound(uint64_t acc, uint64_t input) { return rotl64(acc + input * kXxP2, 31) * kXxP1; }
inline uint64_t xxMerge(uint64_t h, uint64_t v) { return (h ^ xxRound(0, v)) * kXxP1 + kXxP4; }

}  // namespace detail

/// XXH64 (https://github.com/Cyan4973/xxHash, doc/xxhash_spec.md) of `size` bytes at
/// `data`; equal to libxxhash's XXH64(data, size, seed).
inline uint64_t xxh64(const void* data, size_t size, uint64_t seed = 0) {
  using namespace detail;
  const auto* p = static_cast<const unsigned char*>(data);
  const unsigned char* const end = p + size;
  uint64_t h;
  if (size >= 32) {
    uint64_t v1 = seed + kXxP1 + kXxP2, v2 = seed + kXxP2, v3 = seed, v4 = seed - kXxP1;
    for (; p + 32 <= end; p += 32) {
      v1 = xxRound(v1, read64(p));
      v2 = xxRound(v2, read64(p + 8));
      v3 = xxRound(v3, read64(p + 16));
      v4 = xxRound(v4, read64(p + 24));
    }
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xxMerge(xxMerge(xxMerge(xxMerge(h, v1), v2), v3), v4);
  } else {
    h = seed + kXxP5;
  }
  h += static_cast<uint64_t>(size);
  for (; p + 8 <= end; p += 8) h = rotl64(h ^ xxRound(0, read64(p)), 27) * kXxP1 + kXxP4;
  if (p + 4 <= end) {
    h = rotl64(h ^ (static_cast<uint64_t>(read32(p)) * kXxP1), 23) * kXxP2 + kXxP3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl64(h ^ (*p * kXxP5), 11) * kXxP1;
  h ^= h >> 33;
  h *= kXxP2;
  h ^= h >> 29;
  h *= kXxP3;
  h ^= h >> 32;
  return h;
}

}  // namespace shiftad
