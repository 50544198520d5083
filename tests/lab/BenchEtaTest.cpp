// lab::BenchEta against hand-computed cases: the runs at the mean time they took (the
// elapsed time less the directions' preparation), each direction left at the mean
// preparation of those prepared.
#include <gtest/gtest.h>

#include "lab/BenchEta.h"

using shiftad::lab::BenchEta;

TEST(BenchEta, NothingBeforeTheFirstRunEnds) {
  BenchEta eta(10, 2);
  eta.directionPrepared(30.0);
  EXPECT_LT(eta.secondsLeft(30.0), 0.0);
}

TEST(BenchEta, TheFirstDirectionsPreparationIsNotChargedToEveryRun) {
  // 2 directions of 5 runs of 2 s; the first direction decoded and embedded for 60 s.
  BenchEta eta(10, 2);
  eta.directionPrepared(60.0);
  eta.runEnded();
  // 62 s elapsed: 9 runs x 2 s, and the second direction's 60 s. (A plain rate: 9 x 62 s.)
  EXPECT_DOUBLE_EQ(eta.secondsLeft(62.0), 9 * 2.0 + 60.0);
  for (int i = 0; i < 4; ++i) eta.runEnded();
  eta.directionPrepared(4.0);  // the second direction: its images came from the cache
  eta.runEnded();
  // 76 s = 64 s of preparation and 6 runs of 2 s; no direction left.
  EXPECT_DOUBLE_EQ(eta.secondsLeft(76.0), 4 * 2.0);
}

TEST(BenchEta, FastAndSlowVariantsCountAtTheirMeanAndSoDoTheGapsBetweenRuns) {
  // Runs of 1 s and 3 s alternating, 0.5 s between runs (writing the row, the next
  // config), one direction prepared in 10 s: after 4 runs, 10 + 1 + 3 + 1 + 3 + 4 x 0.5.
  BenchEta eta(8, 1);
  eta.directionPrepared(10.0);
  for (int i = 0; i < 4; ++i) eta.runEnded();
  EXPECT_DOUBLE_EQ(eta.secondsLeft(20.0), 4 * 2.5);
}

TEST(BenchEta, ElapsedTimeBelowThePreparationCountsTheRunsAsFree) {
  BenchEta eta(4, 2);
  eta.directionPrepared(5.0);
  eta.runEnded();
  EXPECT_DOUBLE_EQ(eta.secondsLeft(4.0), 0.0 * 3 + 5.0 * 1);
}
