#include "common/Log.h"

#include <algorithm>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>

namespace shiftad {

std::shared_ptr<spdlog::logger> libraryLogger() {
  static std::mutex making;
  if (auto logger = spdlog::get("shiftad")) return logger;
  const std::lock_guard<std::mutex> one(making);
  if (auto logger = spdlog::get("shiftad")) return logger;  // made meanwhile
  // stderr: a program's stdout is its own (the examples print CSV there).
  auto logger = std::make_shared<spdlog::logger>("shiftad", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::get_level());
  spdlog::register_logger(logger);
  return logger;
}

bool libraryLogsToStderr() {
  const auto& sinks = libraryLogger()->sinks();
  return !sinks.empty() && std::all_of(sinks.begin(), sinks.end(), [](const spdlog::sink_ptr& sink) {
    return dynamic_cast<spdlog::sinks::stderr_sink_mt*>(sink.get()) ||
           dynamic_cast<spdlog::sinks::stderr_sink_st*>(sink.get());
  });
}

}  // namespace shiftad
