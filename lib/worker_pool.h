// lib/worker_pool.h: the elastic pool of dedicated threads that run
// blocking connects.
//
// Why threads and not TBB tasks: every job blocks in getaddrinfo() or
// connect() for up to minutes; oneTBB's own guide says blocking work belongs
// on full-blown threads (docs/design.md has the reasoning). Jobs travel
// through a tbb::concurrent_bounded_queue (try_push/try_pop only: tbb's
// blocking pop() hands each item to the oldest blocked popper, so a polling
// worker could never take it and every hand-off would cost a futex
// wake-up). An idle worker polls it for a short
// while (one worker at a time), then parks on its own futex word in a LIFO
// stack; Submit() wakes a parked worker (one futex call, no lock held) only
// when no worker is polling. A worker that takes a task while more are
// queued wakes at most two more (WakeForQueued()), which pass it on.
//
// Threads run on stacks the pool allocates itself, in chunks (guard pages
// as guard regions where the kernel has them), and Shutdown() joins every
// thread: no glibc munmap() per thread, and one munmap() per chunk.
//
// Elasticity, with one atomic counter: balance_ = idle workers - queued
// tasks. Submit() decrements it; a result <= 0 means no idle worker is left
// for this task, so a new worker starts (up to max_workers): Submit()
// reserves it (live_) and asks the pool's starter thread for it, which
// costs the caller one atomic increment (and one futex wake-up when the
// starter was asleep); pthread_create() runs on the starter, never on the
// caller. A start that fails there fails one queued task with
// kResourceExhausted (Task::Fail), and Submit() refuses further growth
// synchronously until a worker exits. A worker
// increments it each time it goes idle, then pops exactly one item. Retiring
// an idle worker claims one unit of a positive balance and pushes a null
// task (the shutdown signal). Thus every popped item was paid for once, and
// a task never waits behind a busy worker while the pool could grow.
//
// Thread safety: safe for concurrent use, Submit() racing Shutdown()
// included (a worker's task may submit sub-tasks while the pool stops: they
// fail with kCancelled, or are abandoned).

#ifndef TETHER_LIB_WORKER_POOL_H_
#define TETHER_LIB_WORKER_POOL_H_

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"
#include "oneapi/tbb/concurrent_queue.h"

namespace tether {
namespace internal {

// A unit of work. The pool deletes it after Run(), or calls Abandon() (and
// deletes it) when the pool shuts down before running it.
class Task {
 public:
  virtual ~Task() = default;
  virtual void Run() = 0;
  virtual void Abandon() {}
  // The pool could not start a thread to run it (kResourceExhausted). By
  // default the same as Abandon().
  virtual void Fail(absl::Status status) {
    (void)status;
    Abandon();
  }
};

// How many threads one pool may hold at most: the documented share of the
// system's thread limits (docs/performance.md, "Capacity"), so tether never
// takes the last threads of the machine. `why` names the limit that decided.
struct ThreadCap {
  int threads;
  std::string why;
};
// 3/4 of the lowest of kernel.pid_max, kernel.threads-max and RLIMIT_NPROC
// (read once per process).
const ThreadCap& SystemThreadCap();

class WorkerPool {
 public:
  struct Options {
    int max_workers = 1024;
    size_t stack_size = 256 * 1024;
    size_t max_queued = 65536;
    SocketOps* ops = nullptr;
  };

  explicit WorkerPool(const Options& options);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // Shutdown()

  // Hands `*task` to a worker (starting one if none is idle) and takes
  // ownership. On failure leaves `*task` with the caller and returns
  // kResourceExhausted (queue full, the pool at its share of the system's
  // thread limits, or no thread could start) or kCancelled (shut down).
  // Never creates a thread on the calling thread (the starter does), except
  // with `only_if_idle`, which fails with kUnavailable unless a worker can
  // start on it right away (a new one is started synchronously then), or
  // when the starter itself cannot start. Cheap from any thread.
  absl::Status Submit(std::unique_ptr<Task>* task, bool only_if_idle = false);

  // Asks up to `n` idle workers to exit, and joins workers that exited.
  void RetireIdle(int n);
  // Idle workers right now (a snapshot).
  int idle() const;
  // Live worker threads (a snapshot).
  int workers() const;

  // Stop() without waiting: from now on Submit() fails, parked workers are
  // woken to exit, busy ones exit after their task, queued tasks are
  // abandoned (on this thread). Joins nothing: Shutdown() or ~WorkerPool
  // joins later, so nothing the workers touch may be freed before that.
  void Stop();

  // Stops every worker after it finishes its current task, joins them all,
  // and abandons tasks still queued. Idempotent. Called on one of the
  // pool's own workers (an on_complete destroying its Connector), it joins
  // every other worker and leaves that one running: its task goes on, then
  // it exits, and ~WorkerPool, which must then run on another thread,
  // joins it and frees its stack.
  void Shutdown();

  // Whether the calling thread is one of this pool's workers.
  bool OnWorkerThread() const;

 private:
  struct Worker;  // one thread: its stack, its park word (worker_pool.cc)
  struct Chunk {  // one mmap() holding the stacks of several workers
    void* base;
    size_t size;
  };

  // Creates the thread of a worker already counted in live_; false (and
  // live_ decremented) when it cannot, with `*error` set.
  bool StartWorker(absl::Status* error, bool counted_starting = false,
                   bool born_pinned = false);
  // Sets the calling thread's affinity back to affinity_.
  void RestoreAffinity() const;
  // Reserves one more worker in live_ if the caps allow; kResourceExhausted
  // names the cap that refused, `*reserved` false when max_workers is
  // reached (the task then waits for a busy worker).
  absl::Status ReserveWorker(bool* reserved);
  // Starts the starter thread if need be; false when it cannot run (the
  // caller then starts the worker itself).
  bool EnsureStarter();
  // Hands a reserved start to the starter (after EnsureStarter()).
  void RequestStart();
  void StarterLoop();
  // A start failed on the starter: remember the cap, fail one queued task.
  void StartFailed(const absl::Status& error);
  void WorkerLoop(Worker* self);
  void Exit(Worker* self);
  Task* Pop(Worker* self);
  // Polls the queue for a while as the spinner (counted in spinning_);
  // true with the task taken (maybe null: a retirement signal).
  bool Spin(Task** task);
  // After an item is queued: wakes a parked worker unless one is polling.
  void Push(Task* task);
  // Wakes the most recently parked worker, if any: to take one task, or
  // (`to_spin`) counted as the spinner at once. False when none is parked.
  bool WakeOne(bool to_spin);
  // A worker that took a task while more are queued (the spinner's found
  // it spinning, so nobody was woken for them): wakes at most two parked
  // workers, the first to spin when nobody spins; each of them that takes
  // a task does the same. A burst of n tasks thus wakes its workers in
  // about log2(n) rounds (BM_PoolBurst), and each wake-up is decided when
  // the queue is looked at again: a worker finishing a connect takes a
  // queued task itself, and nobody is woken for it (at K=64 waking one
  // per queued task cost about one context switch per connect).
  void WakeForQueued();
  void JoinExited();
  // Abandons (and deletes) every queued task.
  void AbandonQueued();
  // After every worker is joined: unmaps the stacks.
  void FreeStacks();
  // A stack for a new worker (nullptr: let pthread_create() allocate one),
  // and back to the free list after the worker was joined.
  void* TakeStackLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReturnStackLocked(void* stack) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  // A worker's stack slot: a guard page, then the stack (page-rounded).
  const size_t stack_bytes_;
  const size_t slot_bytes_;
  // The queue of submitted tasks (null: a retirement signal), bounded by
  // max_queued. Its pages come from std::allocator, not tbb's default
  // cache_aligned_allocator: that one draws on tbbmalloc, whose page
  // recycling neither ThreadSanitizer nor LeakSanitizer can see (TSan then
  // reported races between a page's old and new owners inside the queue).
  bool TryPush(Task* task) { return queue_.try_push(task); }
  bool TryPop(Task** task) { return queue_.try_pop(*task); }
  // How many items are queued (tbb's size(), never negative here: nobody
  // blocks in pop()).
  size_t Queued() const;
  tbb::concurrent_bounded_queue<Task*, std::allocator<Task*>> queue_;
  // Idle workers minus queued tasks; see the file comment. acq_rel on every
  // update: the counter hands a reservation from one thread to another.
  std::atomic<int64_t> balance_{0};
  // Live workers; CAS-incremented before a start so max_workers holds.
  std::atomic<int> live_{0};
  std::atomic<bool> stopping_{false};  // written once by Stop()
  // The share of the system's limits (SystemThreadCap()), and a lower cap
  // learned when pthread_create() failed (INT_MAX: none), cleared when a
  // worker exits; start_error_ (under mu_) says why.
  const ThreadCap* const system_cap_;
  std::atomic<int> learned_cap_;
  // Starts the starter wants to make, plus kStopStarter once Stop() ran;
  // the starter sleeps on it (a futex word) while it is 0.
  std::atomic<uint32_t> starts_wanted_{0};
  static constexpr uint32_t kStopStarter = 1u << 31;
  // 0: not started yet, 1: running, 2: could not start (Submit() then
  // starts workers itself).
  std::atomic<int> starter_state_{0};
  // The starter's CPU affinity when it started (that of the thread that
  // started it), which the workers it makes while pinned restore; written
  // by the starter before it makes one.
  cpu_set_t affinity_{};
  // The CPU of the latest RequestStart(), which the starter avoids.
  std::atomic<int> submitter_cpu_{-1};
  // Workers the starter made that have not yet counted themselves idle.
  std::atomic<int> starting_{0};
  // Idle workers polling the queue; at most one spins, the rest block, so
  // spinning never takes a core from the connects (Go's spinning-M limit).
  std::atomic<int> spinning_{0};
  // Workers that returned from WorkerLoop() and wait to be joined: a stack
  // pushed by exiting workers, taken whole by JoinExited().
  std::atomic<Worker*> exited_{nullptr};

  Mutex park_mu_;
  // Idle, asleep workers: a stack linked through Worker::next_parked, so
  // parking never allocates (a holder of park_mu_ never blocks in malloc).
  Worker* parked_ ABSL_GUARDED_BY(park_mu_) = nullptr;
  // The length of parked_, written under park_mu_, read without it by
  // WakeOne().
  std::atomic<int> parked_count_{0};

  Mutex mu_;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;  // Shutdown() joined everyone
  absl::Status start_error_ ABSL_GUARDED_BY(mu_);
  pthread_t starter_ ABSL_GUARDED_BY(mu_);
  // The pool and record of the worker running on this thread, if any.
  static thread_local const WorkerPool* tls_pool_;
  static thread_local Worker* tls_worker_;
  // The worker that called Shutdown(), joined by ~WorkerPool. Written by
  // Shutdown() on that worker, read by ~WorkerPool (ordered by whatever
  // hands the pool to the destroying thread).
  Worker* shut_down_by_ = nullptr;
  // The same for the starter thread (joined by ~WorkerPool).
  bool starter_left_ = false;
  // Every started, not yet joined worker; Worker::index is its position.
  std::vector<Worker*> all_ ABSL_GUARDED_BY(mu_);
  std::vector<Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  std::vector<void*> free_stacks_ ABSL_GUARDED_BY(mu_);
  size_t chunk_used_ ABSL_GUARDED_BY(mu_) = 0;  // slots of chunks_.back()
  size_t chunk_slots_ ABSL_GUARDED_BY(mu_) = 0;
  bool own_stacks_ ABSL_GUARDED_BY(mu_) = true;  // false once mmap failed
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_WORKER_POOL_H_
