// A persistent pool of worker threads (not OpenMP: it must not fight torch's or numpy's runtimes
// over the same cores, and it must survive fork()).
#pragma once

#include <stddef.h>

#include <functional>

namespace halfkit {

int get_num_threads();
void set_num_threads(int n);  // n >= 1; the caller counts as one of them

// Runs fn(i) for every i in [0, n_tasks), spread over up to get_num_threads() threads with the
// calling thread taking part. If the pool is busy (another Python thread is using it, or the
// caller is itself a task of a parallel_for), the tasks run on the calling thread: results
// never depend on how the work was spread.
void parallel_for(size_t n_tasks, const std::function<void(size_t)>& fn);

}  // namespace halfkit
