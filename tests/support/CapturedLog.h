// The library's log lines (the logger named "shiftad") captured for the scope of a test,
// as a program replaces that logger.
#pragma once

#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace shiftad::test {

class CapturedLog {
 public:
  CapturedLog() : old_(spdlog::get("shiftad")) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("shiftad", sink);
    logger->set_pattern("%l %v");
    spdlog::drop("shiftad");
    spdlog::register_logger(logger);
  }
  ~CapturedLog() {
    spdlog::drop("shiftad");
    if (old_) spdlog::register_logger(old_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

}  // namespace shiftad::test
