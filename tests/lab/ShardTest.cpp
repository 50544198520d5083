// How a sharded bench deals its grid (lab::shardOfRun), against hand-dealt cases and the
// property the dealing is for: every variant's runs spread evenly over every shard.
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "lab/Bench.h"

using shiftad::lab::ShardDealing;
using shiftad::lab::shardOfRun;

TEST(ShardDealing, TurnsEachGroupsStartByOneShard) {
  // 10 variants, 2 shards: group 0 deals 0,1,0,1,..., group 1 starts on shard 1.
  const std::vector<int> group0 = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, group1 = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
  for (int v = 0; v < 10; ++v) {
    EXPECT_EQ(shardOfRun(v, 10, 2), group0[static_cast<size_t>(v)]) << v;
    EXPECT_EQ(shardOfRun(10 + v, 10, 2), group1[static_cast<size_t>(v)]) << v;
  }
  // One variant: plain round robin over the groups.
  for (int k = 0; k < 7; ++k) EXPECT_EQ(shardOfRun(k, 1, 3), k % 3) << k;
  // Folders of an older shiftad: k mod N, whatever the variants.
  for (int k = 0; k < 25; ++k) EXPECT_EQ(shardOfRun(k, 10, 2, ShardDealing::kModulo), k % 2) << k;
}

TEST(ShardDealing, EveryVariantsRunsSpreadEvenlyOverEveryShard) {
  // Over a multiple of N groups each (variant, shard) pair gets the same number of runs,
  // also where V is a multiple of N (the modulo dealing gave a variant one shard only).
  for (int variants = 1; variants <= 7; ++variants)
    for (int count = 1; count <= 4; ++count) {
      const int groups = 3 * count;
      std::map<std::pair<int, int>, int> runs;  // (variant, shard) -> runs
      for (int k = 0; k < variants * groups; ++k) ++runs[{k % variants, shardOfRun(k, variants, count)}];
      for (int v = 0; v < variants; ++v)
        for (int s = 0; s < count; ++s) EXPECT_EQ((runs[{v, s}]), groups / count) << variants << " " << count;
    }
  int one_shard_variants = 0;  // the modulo dealing, 10 variants in 2 shards
  for (int v = 0; v < 10; ++v)
    one_shard_variants +=
        shardOfRun(v, 10, 2, ShardDealing::kModulo) == shardOfRun(10 + v, 10, 2, ShardDealing::kModulo);
  EXPECT_EQ(one_shard_variants, 10);
}

TEST(ShardDealing, RejectsAnEmptyGridOrNoShards) {
  EXPECT_THROW(shardOfRun(0, 0, 2), shiftad::Error);
  EXPECT_THROW(shardOfRun(0, 3, 0), shiftad::Error);
  EXPECT_THROW(shardOfRun(-1, 3, 2), shiftad::Error);
}
