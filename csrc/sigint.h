// Ctrl-C during a long call. While a SigintStop is enabled, SIGINT also sets the flag that the
// call's StopScope names (threads.h), so the kernels stop at their next block; the handler that
// was installed before (Python's, which marks the signal for the interpreter) still runs. Only
// the main thread enables one (Python takes signals there), one at a time. POSIX only: elsewhere
// it never fires.
#pragma once

#include <atomic>

#include "threads.h"

namespace halfkit {

class SigintStop {
 public:
  explicit SigintStop(bool enable);
  ~SigintStop() { restore(); }
  SigintStop(const SigintStop&) = delete;
  SigintStop& operator=(const SigintStop&) = delete;

  // Whether a SIGINT arrived while enabled.
  bool fired() const { return fired_.load(std::memory_order_relaxed); }
  void restore();

 private:
  std::atomic<bool> fired_{false};
  bool installed_ = false;
  StopScope scope_{&fired_};
};

}  // namespace halfkit
