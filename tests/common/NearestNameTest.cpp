// Edit distances checked by hand (textbook pairs), and the suggestions errors make of them.
#include "common/NearestName.h"

#include <gtest/gtest.h>

namespace {

using shiftad::editDistance;
using shiftad::nearestName;

TEST(NearestName, EditDistanceOfTextbookPairs) {
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);  // k->s, e->i, +g
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("abc", "abc"), 0u);
  EXPECT_EQ(editDistance("train.lr", "train.rl"), 1u);  // one swap of neighbours
  // Optimal string alignment, not unrestricted Damerau: a swapped pair is not edited again.
  EXPECT_EQ(editDistance("ca", "abc"), 3u);
  EXPECT_EQ(editDistance("flaw", "lawn"), 2u);
}

TEST(NearestName, SuggestsOnlyAnUnambiguousNearName) {
  const std::vector<std::string> keys = {"train.lr", "train.epochs", "train.seed", "align.method", "align.lambda"};
  EXPECT_EQ(nearestName("train.lrr", keys), "train.lr");
  EXPECT_EQ(nearestName("trian.lr", keys), "train.lr");
  EXPECT_EQ(nearestName("Train.LR", keys), "train.lr");  // case is not an edit
  EXPECT_EQ(nearestName("align.methd", keys), "align.method");
  EXPECT_EQ(nearestName("batch_size", keys), "");       // nothing near
  EXPECT_EQ(nearestName("xyz", {"xab", "abc"}), "");  // 3 letters allow 1 edit
  EXPECT_EQ(nearestName("ab", {"ax", "ay"}), "");       // two as near: no guess
  EXPECT_EQ(nearestName("ab", {"ax", "ab"}), "ab");
  // A name cut short: the one name it begins, never one of several.
  EXPECT_EQ(nearestName("train.batch", {"train.batch_size", "train.lr"}), "train.batch_size");
  EXPECT_EQ(nearestName("train.ep", {"train.epochs", "train.epsilon"}), "");
  EXPECT_EQ(shiftad::didYouMean("souce_only", {"source_only", "align_all"}), " (did you mean 'source_only'?)");
  EXPECT_EQ(shiftad::didYouMean("zzz", {"source_only"}), "");
}

}  // namespace
