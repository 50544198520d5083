// Repeated-log limits (src/common/LogOnce): the first line, then a count, captured from spdlog.
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/LogOnce.h"

namespace {

/// Captures spdlog output for the scope of a test.
class CapturedLog {
 public:
  CapturedLog() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

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
