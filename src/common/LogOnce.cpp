#include "common/LogOnce.h"

#include <map>
#include <mutex>

#include "common/Log.h"

namespace shiftad {

namespace {

struct Seen {
  spdlog::level::level_enum level;
  int64_t count = 0;
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, Seen> seen;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

int64_t logOnce(spdlog::level::level_enum level, const std::string& message) {
  auto& r = registry();
  int64_t count = 0;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    auto& s = r.seen.try_emplace(message, Seen{level, 0}).first->second;
    count = ++s.count;
  }
  if (count == 1) log::at(level, message);
  return count;
}

void logRepeats() {
  std::map<std::string, Seen> seen;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    seen.swap(r.seen);
  }
  for (const auto& [message, s] : seen)
    if (s.count > 1) log::at(s.level, fmt::format("({} times) {}", s.count, message));
}

void logFirst(spdlog::level::level_enum level, const std::vector<std::string>& lines, size_t shown,
              const std::string& what, const std::string& hint) {
  for (size_t i = 0; i < lines.size() && i < shown; ++i) log::at(level, lines[i]);
  if (lines.size() > shown) log::at(level, fmt::format("... and {} more {}{}", lines.size() - shown, what, hint));
}

}  // namespace shiftad
