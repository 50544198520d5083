// A run's lists of image paths (pool.txt, dominant.txt): one path per line, so that a
// person and `grep` can read them, and any path at all, so that a check that compares
// them with a split sees every one.
#pragma once

#include <string>
#include <vector>

namespace shiftad {

/// Write PATHS atomically, one per line. A path holding a line break or a carriage
/// return, or starting with a double quote, is written quoted: "..." with \n, \r, \"
/// and \\ escaped (other bytes as they are: paths need not be UTF-8).
void writePathList(const std::string& path, const std::vector<std::string>& paths);

/// The paths of a file writePathList wrote (empty lines skipped). A quoted line is
/// unescaped; lists written before quoting existed read as they did.
std::vector<std::string> readPathList(const std::string& path);

}  // namespace shiftad
