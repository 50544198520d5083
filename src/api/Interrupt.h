// SIGINT as a request to stop training cleanly: the trainer finishes its step, writes
// a checkpoint and returns; `shiftad train --resume` continues from it.
#pragma once

#include <atomic>

namespace shiftad::api {

/// Set by the SIGINT handler (installInterruptHandler); read by the trainer between steps.
std::atomic<bool>& stopRequested();

/// First SIGINT: set stopRequested(). A second one: the default action (terminate now).
void installInterruptHandler();

}  // namespace shiftad::api
