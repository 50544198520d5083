// Atomic file writes: every file shiftad writes whole (run files, score CSVs, reports,
// safetensors, cache entries) goes through here, so that a reader sees the old file or
// the new one, never half of one, and a failed write leaves nothing behind. The commit
// point itself (fsync, rename, fault injection) is common/Rename.h.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "common/Rename.h"

namespace shiftad {

/// Whose temporary file a write uses. kPerProcess: PATH.tmp-PID (temporaryPathFor);
/// kPerThread: PATH.tmp-PID.THREAD, for writers of one PATH in several threads (cache
/// entries: each renames a complete file into place and the last one wins).
enum class TemporaryName { kPerProcess, kPerThread };

/// Write PATH: `write` fills a binary stream on a temporary file beside it, which is then
/// renamed over PATH by commitRename with `durability` (kSynced: the data and the rename
/// are on disk when this returns). Any error, thrown by `write` or met writing, flushing
/// or renaming, removes the temporary file, leaves PATH as it was and propagates (a
/// shiftad::Error naming the file for the errors met here).
void writeFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write,
                     Durability durability = Durability::kSynced, TemporaryName temporary = TemporaryName::kPerProcess);

/// writeFileAtomic of `bytes` (text or binary, written as they are).
void writeFileAtomic(const std::string& path, std::string_view bytes, Durability durability = Durability::kSynced);

/// Why a cache entry of `bytes` should not be written in `folder` now, or "": the disk
/// caches (decoded images, features) never take the last 1 GiB of their file system,
/// which the runs they serve need for their checkpoints and models (a few hundred MB at
/// most). "" too when the free space cannot be known (the write itself will say).
std::string cacheSpaceShortfall(const std::string& folder, uintmax_t bytes);

/// Give `to` the permissions and group of `from` where `from` exists (else nothing):
/// a replacement is a new file or folder renamed over the old one, and was made with the
/// umask's permissions and the writer's group: `--overwrite` made a private model
/// world-readable and a group's results the writer's. Best effort (only an owner may
/// chmod, and chown to a group it belongs to): what cannot be kept is left as made.
void keepModeAndGroup(const std::string& from, const std::string& to);

/// Copy the file `from` to `to` the same way (a temporary copy renamed over `to`, synced).
void copyFileAtomic(const std::string& from, const std::string& to);

}  // namespace shiftad
