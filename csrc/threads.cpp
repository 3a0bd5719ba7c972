#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace halfkit {

int cpus_available() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

namespace {

// Workers spin for a short while after a job before blocking on the condition variable: a
// GEMM posts jobs back to back (pack B, then compute, per k block), and waking a blocked thread
// costs tens of microseconds on a virtual machine, more than a small job.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// The stop flag of the call this thread is working for (its own, or the job's on a worker).
thread_local const std::atomic<bool>* tl_stop = nullptr;

// Set while this thread runs tasks of a job: a parallel_for inside a task (a product of a
// batch of GEMMs) runs inline. The calling thread holds the pool's busy mutex then, and locking
// a mutex a thread already owns, even with try_lock, is undefined.
thread_local bool tl_in_job = false;
struct InJob {
  const bool outer = tl_in_job;
  InJob() { tl_in_job = true; }
  ~InJob() { tl_in_job = outer; }
};

// A job lives on the caller's stack. Workers join it under the pool's mutex and only while it is
// posted; the caller unposts it once every task has run and then waits only for the workers that
// joined, never for ones still asleep (waking a blocked thread costs tens to hundreds of
// microseconds on a virtual machine: more than a whole small job).
struct Job {
  const std::function<void(size_t)>* fn;
  const std::atomic<bool>* stop;
  size_t n;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<int> users{0};
};

class Pool {
 public:
  // Runs with the workers it could start: where the OS refuses a thread (a PID or address-space
  // limit), the pool is smaller, never half-built (unwinding here used to destroy the condition
  // variable the started workers wait on, and the first job hung). Results do not depend on it.
  explicit Pool(int threads) : requested_(threads) {
    for (int i = 1; i < requested_; ++i) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error& e) {
        std::fprintf(stderr,
                     "halfkit: the OS refused a thread (%s); running with %zu of the %d threads "
                     "asked for\n",
                     e.what(), workers_.size() + 1, requested_);
        break;
      }
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int requested() const { return requested_; }

  bool try_run(size_t n_tasks, const std::function<void(size_t)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    Job job;
    job.fn = &fn;
    job.stop = tl_stop;
    job.n = n_tasks;
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_tasks(job);
    spin_until([&] { return job.done.load(std::memory_order_acquire) == job.n; });
    {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [&] { return job.done.load(std::memory_order_acquire) == job.n; });
      job_ = nullptr;  // from here no worker can join
    }
    spin_until([&] { return job.users.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return job.users.load(std::memory_order_acquire) == 0; });
    return true;
  }

 private:
  template <class Pred>
  static void spin_until(Pred ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (!ready() && std::chrono::steady_clock::now() < until) cpu_relax();
  }

  void run_tasks(Job& job) {
    const InJob in_job;
    const std::atomic<bool>* const outer_stop = tl_stop;
    tl_stop = job.stop;
    for (;;) {
      const size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= job.n) break;
      if (!stop_requested()) (*job.fn)(i);  // a skipped task still counts as done
      if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.n) {
        std::lock_guard<std::mutex> lk(m_);
        done_.notify_all();
      }
    }
    tl_stop = outer_stop;
  }

  void work() {
    size_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(m_);
        wake_.wait(lk,
                   [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
        if (stop_) return;
        seen = generation_.load(std::memory_order_acquire);
        job = job_;
        if (job) job->users.fetch_add(1, std::memory_order_acq_rel);
      }
      if (!job) continue;  // that job finished before this worker woke
      run_tasks(*job);
      if (job->users.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_.notify_all();
      }
    }
  }

  const int requested_;
  std::vector<std::thread> workers_;
  std::mutex busy_;  // one parallel_for at a time
  std::mutex m_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  std::atomic<size_t> generation_{0};
  Job* job_ = nullptr;  // guarded by m_
};

std::mutex g_pool_mutex;
std::shared_ptr<Pool> g_pool;
std::atomic<int> g_threads{0};

void after_fork_in_child() {
  // The workers did not survive fork(); forget the pool without joining (its memory is leaked
  // on purpose, its mutexes may be held by threads that no longer exist).
  new (&g_pool_mutex) std::mutex();
  new (&g_pool) std::shared_ptr<Pool>();
}

std::shared_ptr<Pool> pool() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
    return true;
  }();
  (void)registered;
  std::lock_guard<std::mutex> lk(g_pool_mutex);
  const int want = get_num_threads();
  if (!g_pool || g_pool->requested() != want) {
    g_pool.reset();  // the old workers are joined first, unless a running job still holds them
    g_pool = std::make_shared<Pool>(want);
  }
  return g_pool;
}

}  // namespace

int get_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = cpus_available();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

void parallel_for(size_t n_tasks, const std::function<void(size_t)>& fn) {
  if (n_tasks > 1 && !tl_in_job && get_num_threads() > 1) {
    if (pool()->try_run(n_tasks, fn)) return;
  }
  for (size_t i = 0; i < n_tasks && !stop_requested(); ++i) fn(i);
}

StopScope::StopScope(const std::atomic<bool>* flag) : outer_(tl_stop) { tl_stop = flag; }
StopScope::~StopScope() { tl_stop = outer_; }

bool stop_requested() { return tl_stop && tl_stop->load(std::memory_order_relaxed); }

}  // namespace halfkit
