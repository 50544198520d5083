// A hint for a path a user wrote with '~', which only a shell expands.
#pragma once

#include <string>

namespace shiftad {

/// " ('~' is a shell's, ...)" when `path` holds a folder named '~' (as written, `~/data`,
/// or made absolute against a folder, `/work/~/data`: a config's, a suite's or a
/// --set's path is never expanded), else "". Appended to a "does not exist" message.
inline std::string tildeHint(const std::string& path) {
  const bool tilde = path == "~" || path.rfind("~/", 0) == 0 || path.find("/~/") != std::string::npos ||
                     (path.size() >= 2 && path.compare(path.size() - 2, 2, "/~") == 0);
  return tilde ? " ('~' is a shell's, not expanded in a config, a suite or a --set: write the full path)" : "";
}

}  // namespace shiftad
