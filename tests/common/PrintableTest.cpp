// printable(): control characters and bytes outside valid UTF-8 as escapes, valid UTF-8
// kept. The UTF-8 cases are RFC 3629's table, checked by hand.
#include "common/Printable.h"

#include <gtest/gtest.h>

namespace {

using shiftad::printable;

TEST(Printable, ControlCharactersAreEscapesAndABackslashStays) {
  EXPECT_EQ(printable("a\nb\tc\rd\x1b[2K\x7f\\"), "a\\nb\\tc\\rd\\x1B[2K\\x7F\\");
}

TEST(Printable, ValidUtf8IsKeptAndOtherBytesAreEscaped) {
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");            // é, 2 bytes
  EXPECT_EQ(printable("\xe2\x82\xac 5"), "\xe2\x82\xac 5");      // €, 3 bytes
  EXPECT_EQ(printable("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // U+1F600, 4 bytes
  EXPECT_EQ(printable("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last
  // Latin-1 names: two classes that showed as the same replacement character.
  EXPECT_EQ(printable("caf\xe9"), "caf\\xE9");
  EXPECT_NE(printable("caf\xe9"), printable("caf\xe8"));
  EXPECT_EQ(printable("\xe2\x82"), "\\xE2\\x82");                    // cut short
  EXPECT_EQ(printable("\xc0\xaf"), "\\xC0\\xAF");                    // overlong '/'
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xE0\\x80\\xAF");           // overlong, 3 bytes
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xED\\xA0\\x80");           // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(printable("\xbf"), "\\xBF");                             // a lone continuation byte
  EXPECT_EQ(printable("\xc3\xa9\xe9"), "\xc3\xa9\\xE9");             // valid, then not
}

}  // namespace
