#include "common/Counted.h"

#include <gtest/gtest.h>

TEST(Counted, OneTakesTheSingularEveryOtherCountThePlural) {
  EXPECT_EQ(shiftad::counted(1, "image"), "1 image");
  EXPECT_EQ(shiftad::counted(0, "image"), "0 images");
  EXPECT_EQ(shiftad::counted(2, "epoch"), "2 epochs");
  EXPECT_EQ(shiftad::counted(1, "class", "classes"), "1 class");
  EXPECT_EQ(shiftad::counted(11, "class", "classes"), "11 classes");
}
