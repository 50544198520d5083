// Whole text files: read one, or replace one atomically (durable commit, common/Rename.h).
#pragma once

#include <string>

namespace shiftad {

/// Write `text` to PATH.tmp-PID, fsync, rename over PATH, fsync the folder (a reader
/// never sees half a file; after a power loss PATH is the old file or the new one).
void writeTextAtomic(const std::string& path, const std::string& text);

/// The whole of a text file; an Error naming the path when it cannot be read.
std::string readText(const std::string& path);

}  // namespace shiftad
