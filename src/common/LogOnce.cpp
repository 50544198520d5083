#include "common/LogOnce.h"

#include <map>
#include <mutex>

namespace shiftad {

int64_t logOnce(spdlog::level::level_enum level, const std::string& message) {
  static std::mutex mutex;
  static std::map<std::string, int64_t> seen;
  int64_t count = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    count = ++seen[message];
  }
  if (count == 1) spdlog::log(level, "{}", message);
  return count;
}

void logFirst(spdlog::level::level_enum level, const std::vector<std::string>& lines, size_t shown,
              const std::string& what, const std::string& hint) {
  for (size_t i = 0; i < lines.size() && i < shown; ++i) spdlog::log(level, "{}", lines[i]);
  if (lines.size() > shown) spdlog::log(level, "... and {} more {}{}", lines.size() - shown, what, hint);
}

}  // namespace shiftad
