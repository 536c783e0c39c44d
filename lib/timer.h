// lib/timer.h: one thread that runs callbacks at given times.
//
// The Connector uses it to publish whole-connect deadlines on time, even
// while a resolver thread or a worker's connect() is stuck, and to retire idle
// workers. The thread starts with the first Schedule().
//
// Callbacks must be short and must never run user code (on_complete): one
// slow callback delays every later deadline, and the timer thread's stack
// is small and fixed. The deadline callback only publishes the failure and
// posts on_complete elsewhere (issue 12, items 3 to 5).
//
// Thread safety: safe for concurrent use. Callbacks run on the timer thread,
// one at a time, never under the timer's lock. Stop() must not be called
// from a callback (it aborts with a message: the Timer would be freed under
// its own thread).

#ifndef TETHER_LIB_TIMER_H_
#define TETHER_LIB_TIMER_H_

#include <pthread.h>

#include <cstdint>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {

class Timer {
 public:
  Timer(SocketOps* ops, size_t stack_size);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();  // Stop()

  // Runs `fn` at `when`. Returns an id for Cancel(), or 0 when the timer is
  // stopped or its thread cannot start (`fn` is then dropped).
  uint64_t Schedule(absl::Time when, absl::AnyInvocable<void()> fn);
  // Drops a callback that has not started. Unknown ids are ignored.
  void Cancel(uint64_t id);
  // Drops every pending callback, waits for a running one, joins the thread.
  void Stop();

 private:
  using Key = std::pair<absl::Time, uint64_t>;

  void Loop();
  bool EnsureThreadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SocketOps* const ops_;
  const size_t stack_size_;
  Mutex mu_;
  CondVar cv_{&mu_};
  std::map<Key, absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, absl::Time> when_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  pthread_t thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_TIMER_H_
