// The hashes of common/Hash.h against published values. XXH64, the payload checksum of
// the caches: vectors computed with libxxhash 0.8.1's XXH64 (Debian libxxhash0, called
// from Python through ctypes), plus the spec's empty-input value. FNV-1a: the test
// vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv). SplitMix64: the first
// outputs of Vigna's splitmix64.c seeded with 0.
#include <string>
#include <string_view>

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

TEST(Fnv1a, MatchesTheReferenceVectorsAndChainsPieces) {
  using shiftad::fnv1a;
  using namespace std::string_view_literals;
  EXPECT_EQ(fnv1a(""sv), 0xcbf29ce484222325ull);  // the offset basis itself
  EXPECT_EQ(fnv1a("a"sv), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a("foobar"sv), 0x85944171f73967e8ull);
  // A previous result as the seed hashes the pieces as one text.
  EXPECT_EQ(fnv1a("bar"sv, fnv1a("foo"sv)), fnv1a("foobar"sv));
  const std::string bytes = "foobar";
  EXPECT_EQ(fnv1a(bytes.data(), bytes.size()), fnv1a(bytes));
}

TEST(Fnv1a, TheSecondSeedGivesAnotherHashOfTheSameText) {
  using shiftad::fnv1a;
  using shiftad::kFnv1aSecondSeed;
  using namespace std::string_view_literals;
  // The feature cache names its entries by both: these values must not change.
  EXPECT_EQ(kFnv1aSecondSeed, 0x9E3779B97F4A7C15ull);
  EXPECT_EQ(fnv1a(""sv, kFnv1aSecondSeed), kFnv1aSecondSeed);
  EXPECT_EQ(fnv1a("a"sv, kFnv1aSecondSeed), 0x22c04a334b91791cull);
  EXPECT_NE(fnv1a("a"sv, kFnv1aSecondSeed), fnv1a("a"sv));
}

TEST(SplitMix64, MatchesTheReferenceGeneratorsFirstOutputs) {
  // splitmix64.c's next() adds the golden gamma to its state, then mixes: from state 0
  // its outputs are splitmix64(0), splitmix64(gamma), ...
  EXPECT_EQ(shiftad::splitmix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(shiftad::splitmix64(0x9E3779B97F4A7C15ull), 0x6e789e6aa1b965f4ull);
}
