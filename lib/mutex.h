// lib/mutex.h: std::mutex and std::condition_variable behind abseil's
// thread-safety annotations (leveldb's port::Mutex).
//
// Why not absl::Mutex: Debian's abseil is not built with ThreadSanitizer, so
// TSan cannot see absl::Mutex and reports false races on what it guards. The
// standard primitives are intercepted by TSan, and clang's -Wthread-safety
// still checks the annotations.

#ifndef TETHER_LIB_MUTEX_H_
#define TETHER_LIB_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tether {
namespace internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void AssertHeld() ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // REQUIRES: mu is held (not checked by the analysis: it cannot relate
  // mu_ to the caller's lock, as in leveldb's port::CondVar). May wake
  // spuriously.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // REQUIRES: mu is held. Returns false when `deadline` passed. May wake
  // spuriously.
  bool WaitUntil(absl::Time deadline) {
    if (deadline == absl::InfiniteFuture()) {
      Wait();
      return true;
    }
    std::unique_lock<std::mutex> lock(mu_->mu_, std::adopt_lock);
    std::cv_status s = cv_.wait_until(lock, absl::ToChronoTime(deadline));
    lock.release();
    return s == std::cv_status::no_timeout;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_MUTEX_H_
