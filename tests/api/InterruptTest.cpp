// installInterruptHandler: what it leaves of the signal dispositions the process started with.
#include <signal.h>

#include <gtest/gtest.h>

#include "api/Interrupt.h"

namespace {

using Handler = void (*)(int);

Handler dispositionOf(int sig) {
  struct sigaction now {};
  sigaction(sig, nullptr, &now);
  return now.sa_handler;
}

/// Sets `sig`'s disposition for the test's scope and restores the one before.
struct Disposition {
  int sig;
  struct sigaction before {};
  Disposition(int s, Handler h) : sig(s) {
    struct sigaction sa {};
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &before);
  }
  ~Disposition() { sigaction(sig, &before, nullptr); }
};

}  // namespace

TEST(Interrupt, ASignalInheritedAsIgnoredStaysIgnored) {
  // A script's background job (`shiftad train ... &` without job control) starts with
  // SIGINT ignored: a Ctrl-C meant for the foreground command must not stop it.
  const Disposition sigint(SIGINT, SIG_IGN), sigterm(SIGTERM, SIG_DFL);
  shiftad::api::installInterruptHandler();
  EXPECT_EQ(dispositionOf(SIGINT), SIG_IGN);
  // The one not ignored is caught (a clean stop), as before.
  EXPECT_NE(dispositionOf(SIGTERM), SIG_DFL);
  EXPECT_NE(dispositionOf(SIGTERM), SIG_IGN);
}

TEST(Interrupt, SignalsWithTheirDefaultActionAreCaught) {
  const Disposition sigint(SIGINT, SIG_DFL), sigterm(SIGTERM, SIG_IGN);
  shiftad::api::installInterruptHandler();
  EXPECT_NE(dispositionOf(SIGINT), SIG_DFL);
  EXPECT_NE(dispositionOf(SIGINT), SIG_IGN);
  EXPECT_EQ(dispositionOf(SIGTERM), SIG_IGN);
}
