// Repeated log lines, printed once with a count: the same warning from every model a
// run builds, or one line per unreadable file of a large set, would bury the rest of
// the output. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace shiftad {

/// Log `message` at `level` the first time this process sees it; later identical
/// messages are only counted. Returns how often it has been seen (1: it was printed).
int64_t logOnce(spdlog::level::level_enum level, const std::string& message);

/// For every logOnce message seen more than once since the last call: one line at its
/// level, "(N times) MESSAGE", so the count is not lost; then forget them. The CLI calls
/// it when a command ends.
void logRepeats();

/// Log the first `shown` of `lines` at `level`, then, if there are more, one line
/// "... and N more `what`" + `hint` (e.g. "; `shiftad check-data ROOT` lists every one").
void logFirst(spdlog::level::level_enum level, const std::vector<std::string>& lines, size_t shown,
              const std::string& what, const std::string& hint = "");

}  // namespace shiftad
