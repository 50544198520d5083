// One loop over independent items on a few threads: decoding images, checking files.
// Torch-free.
#pragma once

#include <cstddef>
#include <functional>

namespace shiftad {

/// fn(i) for every i in [0, n), on `threads` threads (0: defaultThreads(); never more than n),
/// the calling thread one of them, the others taken from threads kept for the life of
/// the process (never one made per call); items are handed out one at a time, so a slow
/// one holds up no other. Returns when every call has returned. Safe to call from
/// several threads at once. `fn` must not throw: catch inside and keep the error with
/// the item.
void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn);

/// The threads a parallelFor asked for 0 uses: the process's thread setting
/// (shiftad::setThreads sets it with LibTorch's, so a process told to use N threads
/// decodes on N), all cores until it is set. `threads` 0: all cores.
void setDefaultThreads(int threads);
int defaultThreads();

}  // namespace shiftad
