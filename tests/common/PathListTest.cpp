// A run's path lists (common/PathList): any path back as written, hand-written lines
// for the file's form, and lists written before quoting existed read as before.
#include "common/PathList.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/TextFile.h"
#include "common/Error.h"
#include "support/TestSupport.h"

using shiftad::test::TempDir;

TEST(PathList, OrdinaryPathsAreOneLineEachAsBefore) {
  TempDir tmp;
  shiftad::writePathList(tmp / "l.txt", {"/d/target/circle/0001.png", "/d/a b/x\"y.png", "/d/back\\slash.png"});
  EXPECT_EQ(shiftad::readText(tmp / "l.txt"), "/d/target/circle/0001.png\n/d/a b/x\"y.png\n/d/back\\slash.png\n");
}

TEST(PathList, LineBreaksAndALeadingQuoteAreQuotedAndReadBack) {
  TempDir tmp;
  const std::vector<std::string> paths = {"/d/tar\nget/c/1.png",   "/d/cr\r.png",     "\"quoted\".png",
                                          "/d/tar\nget/\\n\\.png", "/d/\xff\xfe.png", "/plain.png"};
  shiftad::writePathList(tmp / "l.txt", paths);
  // Written by hand: one line a path, the quoted ones escaped.
  EXPECT_EQ(shiftad::readText(tmp / "l.txt"),
            "\"/d/tar\\nget/c/1.png\"\n\"/d/cr\\r.png\"\n\"\\\"quoted\\\".png\"\n\"/d/tar\\nget/\\\\n\\\\.png\"\n"
            "/d/\xff\xfe.png\n/plain.png\n");
  EXPECT_EQ(shiftad::readPathList(tmp / "l.txt"), paths);
}

TEST(PathList, ListsWrittenBeforeQuotingReadAsBefore) {
  TempDir tmp;
  shiftad::writeTextAtomic(tmp / "old.txt", "/d/a.png\n\n/d/b\"c.png\n/d/e\\n.png\n");
  EXPECT_EQ(shiftad::readPathList(tmp / "old.txt"),
            (std::vector<std::string>{"/d/a.png", "/d/b\"c.png", "/d/e\\n.png"}));
  shiftad::writeTextAtomic(tmp / "bad.txt", "\"/d/a\\q.png\"\n");
  EXPECT_THROW(shiftad::readPathList(tmp / "bad.txt"), shiftad::Error);
}
