#include "lib/worker_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/thread.h"

namespace tether {
namespace internal {
namespace {

// How long an idle worker polls the queue before it blocks. A blocking pop
// costs a futex wake-up on the submitter's path (tens of microseconds here);
// a worker that finished a job usually gets the next one sooner than this.
constexpr absl::Duration kIdleSpin = absl::Microseconds(50);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

WorkerPool::WorkerPool(const Options& options) : options_(options) {
  queue_.set_capacity(static_cast<std::ptrdiff_t>(options_.max_queued));
}

WorkerPool::~WorkerPool() { Shutdown(); }

absl::Status WorkerPool::Submit(std::unique_ptr<Task>* task,
                                bool only_if_idle) {
  // relaxed: a fast path only; StartWorker() re-checks under mu_, and a task
  // queued after Shutdown() began is abandoned by it.
  if (stopping_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("connector is shutting down");
  }
  // acq_rel: claims one idle worker (or records one more queued task).
  if (balance_.fetch_sub(1, std::memory_order_acq_rel) <= 0) {
    const bool full = live_.load(std::memory_order_relaxed) >=
                      options_.max_workers;
    if ((full && only_if_idle) || (!full && !StartWorker())) {
      balance_.fetch_add(1, std::memory_order_acq_rel);  // undo the claim
      return full ? absl::UnavailableError("no idle worker")
                  : absl::ResourceExhaustedError(
                        "cannot start a worker thread");
    }
  }
  if (!queue_.try_push(task->get())) {
    balance_.fetch_add(1, std::memory_order_acq_rel);
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many queued connects (max_queued ", options_.max_queued, ")"));
  }
  Push(task->release());
  return absl::OkStatus();
}

bool WorkerPool::StartWorker() {
  // relaxed: the count only bounds the pool; thread start/join order the rest.
  int n = live_.load(std::memory_order_relaxed);
  do {
    if (n >= options_.max_workers) return true;  // someone else started it
  } while (!live_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  JoinExited();
  // Under mu_, with the stopping_ check: Shutdown() sets stopping_ under mu_
  // as it takes its snapshot of running_, so every worker is either in that
  // snapshot (and gets a stop signal) or never starts.
  MutexLock lock(&mu_);
  absl::StatusOr<pthread_t> t =
      stopping_.load(std::memory_order_relaxed)
          ? absl::CancelledError("connector is shutting down")
          : StartThread(options_.ops, options_.stack_size,
                        [this] { WorkerLoop(); });
  if (!t.ok()) {
    live_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  running_.push_back(*t);
  return true;
}

void WorkerPool::WorkerLoop() {
  for (;;) {
    balance_.fetch_add(1, std::memory_order_acq_rel);  // idle: one item is mine
    Task* task = Pop();
    if (task == nullptr) break;  // Shutdown signal.
    task->Run();
    delete task;
  }
  live_.fetch_sub(1, std::memory_order_relaxed);
  MutexLock lock(&mu_);
  pthread_t self = pthread_self();
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](pthread_t t) { return pthread_equal(t, self); });
  if (it != running_.end()) {
    running_.erase(it);
    exited_.push_back(self);
  }
}

Task* WorkerPool::Pop() {
  Task* task = nullptr;
  // seq_cst on spinning_ and the fences: a Dekker hand-shake with Push().
  // Either Push() sees this worker spinning, or this worker, having stopped,
  // sees the pushed task (in Park()'s re-check).
  if (spinning_.fetch_add(1, std::memory_order_seq_cst) == 0) {
    const absl::Time end = absl::Now() + kIdleSpin;
    for (int i = 0;; ++i) {
      if (queue_.try_pop(task)) {
        spinning_.fetch_sub(1, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // A task pushed while we spun found no one to wake: pass it on.
        if (!queue_.empty()) WakeOne();
        return task;
      }
      if ((i & 15) == 15 && absl::Now() >= end) break;
      CpuRelax();
    }
  }
  spinning_.fetch_sub(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return Park();
}

Task* WorkerPool::Park() {
  Parker parker;
  Task* task = nullptr;
  for (;;) {
    {
      MutexLock lock(&park_mu_);
      if (queue_.try_pop(task)) return task;  // Re-check under the lock.
      parked_.push_back(&parker);
    }
    parker.Wait();
    if (queue_.try_pop(task)) return task;
  }
}

void WorkerPool::Push(Task* task) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed after the fence: see Pop().
  if (spinning_.load(std::memory_order_relaxed) == 0) WakeOne();
}

void WorkerPool::WakeOne() {
  Parker* p;
  {
    MutexLock lock(&park_mu_);
    if (parked_.empty()) return;
    p = parked_.back();  // LIFO: the most recently active worker is warmest.
    parked_.pop_back();
  }
  p->Wake();
}

void WorkerPool::Parker::Wait() {
  MutexLock lock(&mu_);
  while (!woken_) cv_.Wait();
  woken_ = false;
}

void WorkerPool::Parker::Wake() {
  MutexLock lock(&mu_);
  woken_ = true;
  cv_.Signal();  // Under mu_: the Parker lives until Wait() re-takes it.
}

void WorkerPool::RetireIdle(int n) {
  for (int i = 0; i < n; ++i) {
    int64_t b = balance_.load(std::memory_order_acquire);
    do {
      if (b <= 0) break;
    } while (!balance_.compare_exchange_weak(b, b - 1,
                                             std::memory_order_acq_rel));
    if (b <= 0 || !queue_.try_push(nullptr)) break;
    Push(nullptr);
  }
  JoinExited();
}

int WorkerPool::idle() const {
  return static_cast<int>(
      std::max<int64_t>(0, balance_.load(std::memory_order_relaxed)));
}

int WorkerPool::workers() const {
  return live_.load(std::memory_order_relaxed);
}

void WorkerPool::JoinExited() {
  std::vector<pthread_t> exited;
  {
    MutexLock lock(&mu_);
    exited.swap(exited_);
  }
  for (pthread_t t : exited) pthread_join(t, nullptr);
}

void WorkerPool::Shutdown() {
  std::vector<pthread_t> threads;
  size_t live;
  {
    MutexLock lock(&mu_);  // See StartWorker().
    if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
    live = running_.size();
    threads = running_;
    threads.insert(threads.end(), exited_.begin(), exited_.end());
  }
  // One signal per live worker; a blocking push, since workers keep
  // draining. A worker moving from running_ to exited_ meanwhile just leaves
  // one signal unused.
  for (size_t i = 0; i < live; ++i) {
    queue_.push(nullptr);
    WakeOne();  // Every parked worker must see its signal.
  }
  for (pthread_t t : threads) pthread_join(t, nullptr);
  {
    MutexLock lock(&mu_);
    running_.clear();
    exited_.clear();
  }
  Task* task = nullptr;
  while (queue_.try_pop(task)) {
    if (task == nullptr) continue;
    task->Abandon();
    delete task;
  }
}

}  // namespace internal
}  // namespace tether
