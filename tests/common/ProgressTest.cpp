// Progress lines (src/common/Progress), with an injected clock, a fake
// "is a terminal" flag and a sink that records what would be printed.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "common/Log.h"
#include "common/Progress.h"

namespace {

struct Printed {
  std::string line;
  bool last;
};

/// Options with a clock the test moves by hand and a sink that records every line.
struct Fake {
  double now = 100.0;
  std::vector<Printed> printed;
  shiftad::ProgressOptions options(bool terminal) {
    shiftad::ProgressOptions o;
    o.terminal = terminal;
    o.clock = [this] { return now; };
    o.sink = [this](const std::string& line, bool last) { printed.push_back({line, last}); };
    return o;
  }
};

TEST(Progress, QuickWorkPrintsNothing) {
  Fake f;
  {
    shiftad::Progress p("decoding images", 10, f.options(true));
    for (int i = 0; i < 10; ++i) {
      f.now += 0.01;
      p.advance();
    }
  }
  EXPECT_TRUE(f.printed.empty());
}

TEST(Progress, TerminalRedrawsWithCountRateAndEta) {
  Fake f;
  shiftad::Progress p("embedding", 100, f.options(true));
  f.now += 0.2;
  p.advance(10);  // before redraw_seconds: nothing yet
  ASSERT_TRUE(f.printed.empty());
  f.now += 0.8;  // 1 s in, 20 of 100 done: 20/s, 80 left -> 4 s
  p.advance(10);
  ASSERT_EQ(f.printed.size(), 1u);
  EXPECT_EQ(f.printed[0].line, "embedding: 20/100 (20%), 20/s, ETA 4s");
  EXPECT_FALSE(f.printed[0].last);
  f.now += 0.1;  // too soon for another redraw
  p.advance(5);
  EXPECT_EQ(f.printed.size(), 1u);
  f.now += 3.9;  // 5 s in, 100 done
  p.advance(75);
  p.finish();
  ASSERT_EQ(f.printed.size(), 3u);
  EXPECT_EQ(f.printed[1].line, "embedding: 100/100 (100%), 20/s, ETA 0s");
  EXPECT_EQ(f.printed[2].line, "embedding: 100 done in 5s, 20/s");
  EXPECT_TRUE(f.printed[2].last);
  p.finish();  // idempotent
  EXPECT_EQ(f.printed.size(), 3u);
}

TEST(Progress, WorkStoppedByAnExceptionEndsTheTerminalLineWithoutDone) {
  Fake f;
  try {
    shiftad::Progress p("embedding", 10, f.options(true));
    f.now += 1.0;
    p.advance(2);
    throw std::runtime_error("encoder failed");
  } catch (const std::runtime_error&) {
  }
  ASSERT_EQ(f.printed.size(), 2u);
  EXPECT_EQ(f.printed[1].line, "embedding: 2/10 (20%), 2.0/s, ETA 4s (stopped)");
  EXPECT_TRUE(f.printed[1].last);  // the error message then starts on a line of its own
}

TEST(Progress, PlainLinesOnlyEveryPlainSeconds) {
  Fake f;
  shiftad::Progress p("decoding images", 800, f.options(false));
  for (int i = 0; i < 800; ++i) {  // 0.125 s per image (exact in binary): 100 s in all
    f.now += 0.125;
    p.advance();
  }
  p.finish();
  // At 10, 20, ..., 100 s, then the final line.
  ASSERT_EQ(f.printed.size(), 11u);
  EXPECT_EQ(f.printed[0].line, "decoding images: 80/800 (10%), 8.0/s, ETA 1m30s");
  EXPECT_EQ(f.printed[4].line, "decoding images: 400/800 (50%), 8.0/s, ETA 50s");
  EXPECT_EQ(f.printed[10].line, "decoding images: 800 done in 1m40s, 8.0/s");
  EXPECT_TRUE(f.printed[10].last);
}

TEST(Progress, SlowUnitsAndLongEtas) {
  Fake f;
  shiftad::Progress p("bench", 48, f.options(false));
  f.now += 125.0;  // one run of 125 s; 47 left
  p.advance();
  EXPECT_DOUBLE_EQ(p.eta(), 47 * 125.0);
  EXPECT_EQ(p.status(), "1/48 (2%), 125.0s each, ETA 1h37m");
  EXPECT_EQ(shiftad::formatDuration(185), "3m05s");
  EXPECT_EQ(shiftad::formatDuration(59.4), "59s");
}

TEST(Progress, UnknownTotalHasNoEta) {
  Fake f;
  shiftad::Progress p("scanning", 0, f.options(false));
  f.now += 20;
  p.advance(40);
  EXPECT_LT(p.eta(), 0);
  EXPECT_EQ(p.status(), "40, 2.0/s");
}

}  // namespace

TEST(Progress, IsRedrawnOnATerminalOnlyWhereTheLogGoesToStderrToo) {
  // A host that routed the library's lines elsewhere (shiftad_set_log's callback, started
  // from a terminal) got progress redrawn in its terminal and never in its log.
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(terminal, 0);
  const auto own = shiftad::libraryLogger();  // stderr, made on first use
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(terminal, STDERR_FILENO);
  const bool to_stderr = shiftad::defaultProgressOptions().terminal;
  spdlog::drop("shiftad");
  auto routed = std::make_shared<spdlog::logger>("shiftad", std::make_shared<spdlog::sinks::null_sink_mt>());
  routed->set_level(own->level());
  spdlog::register_logger(routed);
  const auto options = shiftad::defaultProgressOptions();
  spdlog::drop("shiftad");
  spdlog::register_logger(own);
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  for (int fd : {saved, terminal, master}) ::close(fd);
  EXPECT_TRUE(to_stderr);
  EXPECT_FALSE(options.terminal);
}
