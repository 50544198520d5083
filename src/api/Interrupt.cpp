#include "api/Interrupt.h"

#include <signal.h>

#include <csignal>
#include <unistd.h>

namespace shiftad::api {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void onInterrupt(int) {
  // Only async-signal-safe calls here.
  if (g_stop.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  constexpr char kMsg[] =
      "\nshiftad: interrupt: finishing the current step and writing a checkpoint "
      "(press Ctrl-C again to quit at once)\n";
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
}

}  // namespace

std::atomic<bool>& stopRequested() { return g_stop; }

void installInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace shiftad::api
