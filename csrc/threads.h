// A persistent pool of worker threads (not OpenMP: it must not fight torch's or numpy's runtimes
// over the same cores, and it must survive fork()).
#pragma once

#include <stddef.h>

#include <atomic>
#include <functional>

namespace halfkit {

// The CPUs this process may run on (its affinity mask): the default thread count.
int cpus_available();
int get_num_threads();
void set_num_threads(int n);  // n >= 1; the caller counts as one of them

// Runs fn(i) for every i in [0, n_tasks), spread over up to get_num_threads() threads with the
// calling thread taking part. If the pool is busy (another Python thread is using it, or the
// caller is itself a task of a parallel_for), the tasks run on the calling thread: results
// never depend on how the work was spread.
// Once the call's stop flag is set, tasks not yet started are skipped.
void parallel_for(size_t n_tasks, const std::function<void(size_t)>& fn);

// Stopping a long call early (Ctrl-C): a StopScope on the calling thread names a flag that the
// call's tasks, on whichever thread they run, see through stop_requested(); drivers check it
// between blocks and return, leaving their output partly written. Without a scope, never set.
class StopScope {
 public:
  explicit StopScope(const std::atomic<bool>* flag);
  ~StopScope();
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  const std::atomic<bool>* outer_;
};
bool stop_requested();

}  // namespace halfkit
