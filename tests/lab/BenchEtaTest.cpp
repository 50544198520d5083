// lab::BenchEta against hand-computed cases: runs at their median time, the elapsed time
// the runs do not explain spread over the directions started.
#include <gtest/gtest.h>

#include "lab/BenchEta.h"

using shiftad::lab::BenchEta;

TEST(BenchEta, NothingBeforeTheFirstRunEnds) {
  BenchEta eta(10, 2);
  eta.directionStarted();
  EXPECT_LT(eta.secondsLeft(30.0), 0.0);
}

TEST(BenchEta, TheFirstDirectionsDecodingIsNotChargedToEveryRun) {
  // 2 directions of 5 runs of 2 s; the first direction decoded and embedded for 60 s.
  BenchEta eta(10, 2);
  eta.directionStarted();
  eta.runEnded(2.0);
  // 62 s elapsed: a typical run is 2 s, so 60 s were the direction's once-only work,
  // expected again for the second: 9 runs x 2 s + 60 s. (A plain rate said 9 x 62 s.)
  EXPECT_DOUBLE_EQ(eta.secondsLeft(62.0), 9 * 2.0 + 60.0);
  for (int i = 0; i < 4; ++i) eta.runEnded(2.0);
  eta.directionStarted();  // the second direction: its images come from the cache, 4 s
  eta.runEnded(2.0);
  // 76 s = 6 runs x 2 s + 64 s of once-only work over 2 directions; none left.
  EXPECT_DOUBLE_EQ(eta.secondsLeft(76.0), 4 * 2.0);
}

TEST(BenchEta, ATypicalRunIsTheMedianSoOneSlowRunDoesNotMoveIt) {
  BenchEta eta(6, 1);
  eta.directionStarted();
  for (double s : {30.0, 2.0, 3.0, 2.5}) eta.runEnded(s);  // median of 4: (2.5 + 3) / 2
  EXPECT_DOUBLE_EQ(eta.secondsLeft(40.0), 2 * 2.75);       // the one direction is done
  eta.runEnded(4.0);                                       // median of 5: 3
  EXPECT_DOUBLE_EQ(eta.secondsLeft(44.0), 1 * 3.0);
}

TEST(BenchEta, ElapsedTimeBelowTheRunsTimesChargesNothingToDirections) {
  BenchEta eta(4, 2);
  eta.directionStarted();
  eta.runEnded(5.0);
  eta.runEnded(5.0);
  EXPECT_DOUBLE_EQ(eta.secondsLeft(9.0), 2 * 5.0);
}
