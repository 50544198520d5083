// The library's log lines. They go to spdlog's logger named "shiftad", never to spdlog's
// default logger: a program that uses spdlog itself (Debian's shared libspdlog, one
// registry per process) keeps its default logger, its level and its output, and finds the
// library's lines under that name (docs/deploy.md, "Logging"). Torch-free.
#pragma once

#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/Printable.h"

namespace shiftad {

/// The logger named "shiftad" in spdlog's registry, made on first use (stderr, at
/// spdlog's global level) unless the program registered its own under that name.
std::shared_ptr<spdlog::logger> libraryLogger();

/// Whether the library's lines go to stderr alone (its own logger, or one a program
/// registered with stderr sinks only): a progress line may then be redrawn on stderr in
/// place; otherwise (a C host's callback, a file, a GUI's sink) progress goes through the
/// logger too.
bool libraryLogsToStderr();

namespace log {

/// A whole message at `level`, its control characters escaped (printable()): a line
/// quotes names from the data, which must not move the cursor, erase the line or add
/// lines of their own.
inline void at(spdlog::level::level_enum level, const std::string& message) {
  libraryLogger()->log(level, printable(message));
}

template <typename... Args>
void atFormatted(spdlog::level::level_enum level, spdlog::format_string_t<Args...> format, Args&&... args) {
  if (libraryLogger()->should_log(level)) at(level, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void info(spdlog::format_string_t<Args...> format, Args&&... args) {
  atFormatted(spdlog::level::info, format, std::forward<Args>(args)...);
}

template <typename... Args>
void warn(spdlog::format_string_t<Args...> format, Args&&... args) {
  atFormatted(spdlog::level::warn, format, std::forward<Args>(args)...);
}

template <typename... Args>
void error(spdlog::format_string_t<Args...> format, Args&&... args) {
  atFormatted(spdlog::level::err, format, std::forward<Args>(args)...);
}

}  // namespace log
}  // namespace shiftad
