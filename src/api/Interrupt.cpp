#include "api/Interrupt.h"

#include <signal.h>

#include <csignal>
#include <unistd.h>

namespace shiftad::api {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");
static_assert(std::atomic<int>::is_always_lock_free, "the signal is stored from a signal handler");

void say(const char* text, size_t n) { [[maybe_unused]] const auto written = ::write(STDERR_FILENO, text, n); }

std::atomic<bool> g_exit_at_once{false};
std::atomic<int> g_fits{0};  // FitInProgress objects alive

extern "C" void onInterrupt(int sig) {
  // Only async-signal-safe calls here.
  if (g_exit_at_once.load()) {
    constexpr char kNow[] = "\nshiftad: stopped while waiting for the other ranks (nothing to save)\n";
    say(kNow, sizeof kNow - 1);
    ::_exit(128 + sig);
  }
  // Between fits there is nothing to stop cleanly: the signal does what it would without us.
  if (g_fits.load() == 0 || g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal.store(sig);
  constexpr char kInt[] =
      "\nshiftad: interrupt: finishing the current step and writing a checkpoint "
      "(press Ctrl-C again to quit at once)\n";
  // SIGTERM: a scheduler or `docker stop` asking the job to end (SIGKILL follows after a grace period).
  constexpr char kTerm[] = "\nshiftad: terminated: finishing the current step and writing a checkpoint\n";
  if (sig == SIGTERM)
    say(kTerm, sizeof kTerm - 1);
  else
    say(kInt, sizeof kInt - 1);
}

}  // namespace

std::atomic<bool>& stopRequested() { return g_stop; }

int caughtSignal() { return g_signal.load(); }

ExitAtOnceOnInterrupt::ExitAtOnceOnInterrupt() { g_exit_at_once.store(true); }
ExitAtOnceOnInterrupt::~ExitAtOnceOnInterrupt() { g_exit_at_once.store(false); }

FitInProgress::FitInProgress() {
  if (g_fits.fetch_add(1) == 0) {
    g_stop.store(false);
    g_signal.store(0);
  }
}
FitInProgress::~FitInProgress() { g_fits.fetch_sub(1); }

void installInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (const int sig : {SIGINT, SIGTERM}) {
    // An ignored signal stays ignored: a shell without job control starts a background
    // job (`shiftad train ... &` in a script) with SIGINT ignored so that Ctrl-C meant
    // for the foreground command does not reach it, and nohup-like wrappers do the same.
    struct sigaction inherited {};
    if (sigaction(sig, nullptr, &inherited) == 0 && inherited.sa_handler == SIG_IGN) continue;
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace shiftad::api
