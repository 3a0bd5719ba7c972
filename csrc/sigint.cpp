#include "sigint.h"

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#define HALFKIT_HAVE_SIGACTION 1
#endif

namespace halfkit {

#ifdef HALFKIT_HAVE_SIGACTION
namespace {

std::atomic<std::atomic<bool>*> g_flag{nullptr};
struct sigaction g_prev;

void on_sigint(int sig, siginfo_t* info, void* context) {
  if (std::atomic<bool>* f = g_flag.load(std::memory_order_acquire)) {
    f->store(true, std::memory_order_relaxed);
  }
  if (g_prev.sa_flags & SA_SIGINFO) {
    g_prev.sa_sigaction(sig, info, context);
  } else if (g_prev.sa_handler != SIG_IGN && g_prev.sa_handler != SIG_DFL) {
    g_prev.sa_handler(sig);
  }
}

}  // namespace

SigintStop::SigintStop(bool enable) {
  if (!enable) return;
  struct sigaction prev;
  if (sigaction(SIGINT, nullptr, &prev) != 0) return;
  // Ignored, or the default (the process ends anyway): nothing to stop for.
  if (!(prev.sa_flags & SA_SIGINFO) && (prev.sa_handler == SIG_IGN || prev.sa_handler == SIG_DFL))
    return;
  g_prev = prev;
  g_flag.store(&fired_, std::memory_order_release);
  struct sigaction mine = prev;
  mine.sa_flags = (prev.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
  mine.sa_sigaction = on_sigint;
  installed_ = sigaction(SIGINT, &mine, nullptr) == 0;
  if (!installed_) g_flag.store(nullptr, std::memory_order_release);
}

void SigintStop::restore() {
  if (!installed_) return;
  sigaction(SIGINT, &g_prev, nullptr);
  g_flag.store(nullptr, std::memory_order_release);
  installed_ = false;
}
#else
SigintStop::SigintStop(bool) {}
void SigintStop::restore() {}
#endif

}  // namespace halfkit
