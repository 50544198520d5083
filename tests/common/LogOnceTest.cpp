// Repeated-log limits (src/common/LogOnce): the first line, then a count, captured from spdlog.
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/Log.h"
#include "common/LogOnce.h"
#include "support/CapturedLog.h"

namespace {

using shiftad::test::CapturedLog;

TEST(LogOnce, PrintsTheFirstAndCountsTheRest) {
  CapturedLog log;
  const std::string msg = "model.weights: ignored 2 tensors that F does not use (a test-only message)";
  EXPECT_EQ(shiftad::logOnce(spdlog::level::info, msg), 1);
  EXPECT_EQ(shiftad::logOnce(spdlog::level::info, msg), 2);
  EXPECT_EQ(shiftad::logOnce(spdlog::level::info, msg), 3);
  EXPECT_EQ(shiftad::logOnce(spdlog::level::warn, "another message"), 1);
  EXPECT_EQ(log.text(), "info " + msg + "\nwarning another message\n");
  // The count is not lost: the repeated message once more with it, at its own level.
  shiftad::logRepeats();
  EXPECT_EQ(log.text(), "info " + msg + "\nwarning another message\ninfo (3 times) " + msg + "\n");
  shiftad::logRepeats();  // forgotten once reported
  EXPECT_EQ(log.text(), "info " + msg + "\nwarning another message\ninfo (3 times) " + msg + "\n");
}

TEST(LogOnce, FirstLinesThenACount) {
  CapturedLog log;
  shiftad::logFirst(spdlog::level::warn, {"a", "b", "c", "d", "e"}, 2, "unreadable images", "; see check-data");
  EXPECT_EQ(log.text(), "warning a\nwarning b\nwarning ... and 3 more unreadable images; see check-data\n");
  CapturedLog few;
  shiftad::logFirst(spdlog::level::warn, {"a", "b"}, 2, "unreadable images");
  EXPECT_EQ(few.text(), "warning a\nwarning b\n");
}

}  // namespace

TEST(Log, TheLibrarysLinesGoToItsOwnLoggerNeverToTheProgramsDefault) {
  // A program with a default logger of its own (spdlog's registry is one per process).
  std::ostringstream host_out;
  const auto old_default = spdlog::default_logger();
  auto host = std::make_shared<spdlog::logger>("host", std::make_shared<spdlog::sinks::ostream_sink_mt>(host_out));
  spdlog::set_default_logger(host);
  {
    CapturedLog library;
    shiftad::log::info("from the library: {}", 42);
    shiftad::logOnce(spdlog::level::warn, "a warning of the library");
    spdlog::info("from the program");
    EXPECT_EQ(library.text(), "info from the library: 42\nwarning a warning of the library\n");
  }
  EXPECT_EQ(spdlog::default_logger()->name(), "host");
  EXPECT_EQ(host_out.str().find("library"), std::string::npos) << host_out.str();
  EXPECT_NE(host_out.str().find("from the program"), std::string::npos) << host_out.str();
  spdlog::set_default_logger(old_default);
}
