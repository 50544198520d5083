// One loop over independent items on a few threads: decoding images, checking files.
// Torch-free.
#pragma once

#include <cstddef>
#include <functional>

namespace shiftad {

/// fn(i) for every i in [0, n), on `threads` threads (0: all cores; never more than n),
/// the calling thread one of them, the others taken from threads kept for the life of
/// the process (never one made per call); items are handed out one at a time, so a slow
/// one holds up no other. Returns when every call has returned. Safe to call from
/// several threads at once. `fn` must not throw: catch inside and keep the error with
/// the item.
void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn);

}  // namespace shiftad
