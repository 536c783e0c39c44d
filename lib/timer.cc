#include "lib/timer.h"

#include <cstdio>
#include <cstdlib>

#include "absl/time/clock.h"
#include "lib/thread.h"

namespace tether {
namespace internal {

Timer::Timer(SocketOps* ops, size_t stack_size)
    : ops_(ops), stack_size_(stack_size) {}

Timer::~Timer() { Stop(); }

uint64_t Timer::Schedule(absl::Time when, absl::AnyInvocable<void()> fn) {
  MutexLock lock(&mu_);
  if (stopping_ || !EnsureThreadLocked()) return 0;
  uint64_t id = next_id_++;
  bool earliest = queue_.empty() || Key(when, id) < queue_.begin()->first;
  queue_.emplace(Key(when, id), std::move(fn));
  when_.emplace(id, when);
  if (earliest) cv_.Signal();  // Only a new earliest entry moves the wait.
  return id;
}

void Timer::Cancel(uint64_t id) {
  MutexLock lock(&mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return;
  queue_.erase(Key(it->second, id));
  when_.erase(it);
}

void Timer::Stop() {
  pthread_t thread;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    queue_.clear();
    when_.clear();
    cv_.Signal();
    if (!started_) return;
    thread = thread_;
  }
  if (pthread_equal(thread, pthread_self())) {
    // A callback may not stop its own timer: that would free the Timer
    // under Loop(). tether's callbacks never run user code, so this is a
    // bug in tether; say so rather than corrupt memory.
    std::fputs("tether: Timer::Stop() called from the timer thread\n", stderr);
    std::abort();
  }
  pthread_join(thread, nullptr);
}

bool Timer::EnsureThreadLocked() {
  if (started_) return true;
  absl::StatusOr<pthread_t> t =
      StartThread(ops_, stack_size_, [this] { Loop(); });
  if (!t.ok()) return false;
  thread_ = *t;
  started_ = true;
  return true;
}

void Timer::Loop() {
  MutexLock lock(&mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.Wait();
      continue;
    }
    auto first = queue_.begin();
    if (first->first.first > absl::Now()) {
      cv_.WaitUntil(first->first.first);
      continue;
    }
    absl::AnyInvocable<void()> fn = std::move(first->second);
    when_.erase(first->first.second);
    queue_.erase(first);
    mu_.Unlock();
    fn();
    fn = nullptr;  // Destroy captures outside the lock too.
    mu_.Lock();
  }
}

}  // namespace internal
}  // namespace tether
