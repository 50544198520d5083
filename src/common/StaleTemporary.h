// Temporary files of atomic writes whose writer was killed (AtomicFile.h: PATH.tmp-PID,
// or PATH.tmp-PID.THREAD for cache entries). A write that completes renames its
// temporary away and one that fails removes it, but a SIGKILL, an out-of-memory kill or
// a power cut between the two leaves it, a full copy of the file (a checkpoint: hundreds
// of MB); under a scheduler that preempts by killing, one more each time. They are
// removed by the next write of the same file and by the cache trim. Torch-free.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace shiftad {

/// A leftover is removed only when its writer cannot be writing it any more: its pid is
/// not a live process here, and it has not changed for this long, so that a writer on
/// another host or in another PID namespace sharing the folder (whose pid means nothing
/// here) is never robbed of a temporary it is still filling.
inline constexpr std::chrono::minutes kStaleTemporaryAge{10};

/// Whether process `pid` exists on this machine (kill(pid, 0): EPERM is another user's
/// live process, ESRCH none).
bool processAlive(long pid);

/// Whether `name` is the name of a temporary file of an atomic write of a file named
/// `target` (the name temporaryPathFor gives, with or without a thread suffix): `target`
/// (or its shortened form, nameWithRoomFor), ".tmp-", a pid, optionally "." and digits.
/// Sets `pid`. With `target` empty, of any file.
bool isTemporaryName(const std::string& name, const std::string& target, long& pid);

/// Whether the file `path`, named as a temporary with writer `pid`, was left by a killed
/// writer: `pid` is not this process nor a live one, and the file has not been modified
/// for kStaleTemporaryAge. False when it cannot be told.
bool isStaleTemporary(const std::filesystem::path& path, long pid);

/// Remove the stale temporaries of atomic writes of `target` (a file path) beside it.
/// Best effort: returns how many were removed; errors are passed over.
int removeStaleTemporariesOf(const std::filesystem::path& target);

}  // namespace shiftad
