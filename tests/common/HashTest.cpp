// The payload checksum of the caches (common/Hash.h xxh64) against the reference
// implementation: the vectors were computed with libxxhash 0.8.1's XXH64 (Debian
// libxxhash0, called from Python through ctypes), plus the spec's empty-input value.
#include <string>

#include <gtest/gtest.h>

#include "common/Hash.h"

namespace {

std::string bytesUpTo(int n, int repeat) {
  std::string s;
  for (int r = 0; r < repeat; ++r)
    for (int i = 0; i < n; ++i) s += static_cast<char>(i);
  return s;
}

}  // namespace

TEST(Xxh64, MatchesTheReferenceImplementationOnEveryTailLength) {
  using shiftad::xxh64;
  EXPECT_EQ(xxh64("", 0), 0xef46db3751d8e999ull);
  EXPECT_EQ(xxh64("a", 1), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(xxh64("abc", 3), 0x44bc2cf5ad770999ull);
  const std::string fox = "The quick brown fox jumps over the lazy dog";  // 43 bytes: stripes, 8-, 1-byte tails
  EXPECT_EQ(xxh64(fox.data(), fox.size()), 0x0b242d361fda71bcull);
  const std::string b37 = bytesUpTo(37, 1);  // a stripe and a 4-byte tail, seeded
  EXPECT_EQ(xxh64(b37.data(), b37.size(), 7), 0x69e0c889396afaf7ull);
  const std::string big = bytesUpTo(256, 4) + "xyz";  // 1027 bytes
  EXPECT_EQ(xxh64(big.data(), big.size()), 0xe146cb31b65bc21aull);
  EXPECT_EQ(xxh64(big.data(), big.size(), 12345), 0xe323a559c0f2ee86ull);
}

TEST(Xxh64, OneFlippedBitChangesTheHash) {
  std::string s = bytesUpTo(256, 600);
  const auto before = shiftad::xxh64(s.data(), s.size());
  s[100000] ^= 1;
  EXPECT_NE(shiftad::xxh64(s.data(), s.size()), before);
}
