// CSV (common/Csv): quoting per RFC 4180 only where a field needs it, and reading back,
// against hand-written lines.
#include "common/Csv.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using shiftad::csv::field;
using shiftad::csv::row;
using shiftad::csv::split;

TEST(Csv, OrdinaryFieldsStayAsTheyAre) {
  // What every file written before quoting existed holds: its bytes must not change.
  EXPECT_EQ(field("data/target/circle/img 001.png"), "data/target/circle/img 001.png");
  EXPECT_EQ(field(""), "");
  EXPECT_EQ(row({"a", "b", "0.123456789", "data.contamination=0.5"}), "a,b,0.123456789,data.contamination=0.5");
}

TEST(Csv, CommasQuotesAndLineBreaksAreQuotedWithQuotesDoubled) {
  EXPECT_EQ(field("a,b"), "\"a,b\"");
  EXPECT_EQ(field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(row({"x", "a,b", ""}), "x,\"a,b\",");
}

TEST(Csv, SplitRemovesQuotesAndKeepsEmptyFields) {
  EXPECT_EQ(split("a,\"b,c\","), (std::vector<std::string>{"a", "b,c", ""}));
  EXPECT_EQ(split("\"say \"\"hi\"\"\",x"), (std::vector<std::string>{"say \"hi\"", "x"}));
  EXPECT_EQ(split(",,"), (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(split(""), (std::vector<std::string>{""}));
}

TEST(Csv, RecordsSpanLinesOnlyInsideQuotesAndCountLines) {
  std::istringstream in("label,path\n1,\"two\nlines.png\"\n0,plain.png\n");
  std::string record;
  int line = 0;
  ASSERT_TRUE(shiftad::csv::readRecord(in, record, line));
  EXPECT_EQ(record, "label,path");
  EXPECT_EQ(line, 1);
  ASSERT_TRUE(shiftad::csv::readRecord(in, record, line));
  EXPECT_EQ(split(record), (std::vector<std::string>{"1", "two\nlines.png"}));
  EXPECT_EQ(line, 3);
  ASSERT_TRUE(shiftad::csv::readRecord(in, record, line));
  EXPECT_EQ(record, "0,plain.png");
  EXPECT_EQ(line, 4);
  EXPECT_FALSE(shiftad::csv::readRecord(in, record, line));
}

TEST(Csv, EveryRowReadsBackAsItsFields) {
  const std::vector<std::vector<std::string>> rows = {
      {"a", "b"}, {"a,b", "\"", "\"\""}, {"", "x\ny", ""}, {"trailing,", ",leading", "mid\"dle"}};
  std::string text;
  for (const auto& r : rows) text += row(r) + "\n";
  std::istringstream in(text);
  std::string record;
  int line = 0;
  for (const auto& r : rows) {
    ASSERT_TRUE(shiftad::csv::readRecord(in, record, line));
    EXPECT_EQ(split(record), r);
  }
  EXPECT_FALSE(shiftad::csv::readRecord(in, record, line));
}
