// parseNumber: the C locale's number form, whole, in a host whose locale writes 0,5.
#include <cmath>
#include <cstdlib>
#include <limits>

#include <gtest/gtest.h>

#include "common/Number.h"
#include "support/CommaLocale.h"

using shiftad::parseNumber;

TEST(Number, ReadsTheWholeTextInTheCLocalesFormOnly) {
  EXPECT_EQ(parseNumber<double>("0.001"), 0.001);
  EXPECT_EQ(parseNumber<double>("-2.5e-3"), -2.5e-3);
  EXPECT_EQ(parseNumber<double>("+.5"), 0.5) << "strtod takes a '+' and a bare fraction";
  EXPECT_EQ(parseNumber<long>("+42"), 42);
  EXPECT_EQ(parseNumber<int>("-7"), -7);
  for (const char* bad : {"", "+", "+-5", " 1", "1 ", "0,5", "1.5x", "0x10", "1e400", "1e-400"})
    EXPECT_FALSE(parseNumber<double>(bad)) << "'" << bad << "'";
  for (const char* bad : {"1.5", "2147483648", "1e3", "--1"}) EXPECT_FALSE(parseNumber<int>(bad)) << "'" << bad << "'";
  EXPECT_TRUE(std::isinf(*parseNumber<double>("inf"))) << "callers check finiteness";
  EXPECT_THROW(shiftad::numberIn<double>("abc"), std::invalid_argument);
}

TEST(Number, ReadsTheSameUnderALocaleWithADecimalComma) {
  shiftad::test::CommaLocale comma;
  if (!comma.cLocale()) GTEST_SKIP() << "no German locale and no localedef to make one";
  // The oracle that the host's locale is in force: C's own reader stops at the '.'.
  EXPECT_EQ(std::strtod("0.5", nullptr), 0.0);
  EXPECT_EQ(parseNumber<double>("0.5"), 0.5);
  EXPECT_EQ(parseNumber<double>("0.001"), 0.001);
  EXPECT_FALSE(parseNumber<double>("0,5")) << "the file's form, not the host's";
}
