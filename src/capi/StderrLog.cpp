// libshiftad.so logs to stderr, as the `shiftad` command does (src/cli/main.cpp): a
// program's stdout is its own (the examples print CSV there). spdlog's default logger
// writes to stdout, so when the library is loaded it is replaced by a stderr logger,
// unless the program has already set one of its own (spdlog's is the one named "").
// Only in the shared library: the static libraries never touch the process's logger.
#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace {

const bool kLogsToStderr = [] {
  const auto current = spdlog::default_logger();
  if (!current || !current->name().empty()) return false;
  auto logger = std::make_shared<spdlog::logger>("shiftad", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(current->level());
  spdlog::set_default_logger(logger);
  return true;
}();

}  // namespace
