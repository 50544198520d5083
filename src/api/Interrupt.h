// SIGINT (Ctrl-C) and SIGTERM (a scheduler, `kill`, `docker stop`) as a request to stop
// training cleanly: the trainer finishes its step, writes a checkpoint and returns;
// `shiftad train --resume` continues from it.
#pragma once

#include <atomic>

namespace shiftad::api {

/// Set by the signal handler (installInterruptHandler); read by the trainer between steps.
std::atomic<bool>& stopRequested();

/// The signal that set stopRequested() (SIGINT or SIGTERM), 0 if none yet.
int caughtSignal();

/// First SIGINT or SIGTERM during a fit (a FitInProgress alive): set stopRequested(). A
/// second one, or one while no fit runs: that signal's default action (terminate now).
/// A signal the process inherited as ignored (SIG_IGN) is left ignored.
void installInterruptHandler();

/// Alive for the whole of a fit (api::fitRun). The first of several at once starts with
/// no stop requested and no signal caught: a stop ends the fit it was asked of, so a
/// process that embeds shiftad can train again after an interrupted fit, and a signal
/// between fits keeps its default action instead of stopping the next fit at its first
/// step.
class FitInProgress {
 public:
  FitInProgress();
  ~FitInProgress();
  FitInProgress(const FitInProgress&) = delete;
  FitInProgress& operator=(const FitInProgress&) = delete;
};

/// While one is alive, SIGINT or SIGTERM (with the handler installed) ends the process at
/// once with exit status 128 + the signal: for blocking waits that no step ends and that
/// have nothing to save (the rendezvous of distributed training, which waits up to its
/// timeout inside c10d). A stop asked before it is made stays a request.
class ExitAtOnceOnInterrupt {
 public:
  ExitAtOnceOnInterrupt();
  ~ExitAtOnceOnInterrupt();
  ExitAtOnceOnInterrupt(const ExitAtOnceOnInterrupt&) = delete;
  ExitAtOnceOnInterrupt& operator=(const ExitAtOnceOnInterrupt&) = delete;
};

}  // namespace shiftad::api
