#include "lib/resolver_pool.h"

#include <pthread.h>

#include <deque>
#include <utility>

#include "absl/status/statusor.h"
#include "lib/mutex.h"
#include "lib/thread.h"

namespace tether {
namespace internal {

// Everything a resolver thread touches: it holds a reference, so the pool
// (and its Connector) may be gone while the thread is still in a resolver.
struct ResolverPool::Shared {
  explicit Shared(int max) : max_threads(max) {}

  // A thread's life: its first job, then queued ones until none is left.
  static void Loop(std::shared_ptr<Shared> self,
                   absl::AnyInvocable<void()> job);

  const int max_threads;
  mutable Mutex mu;
  std::deque<absl::AnyInvocable<void()>> queue ABSL_GUARDED_BY(mu);
  int threads ABSL_GUARDED_BY(mu) = 0;  // started and not yet exiting
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

void ResolverPool::Shared::Loop(std::shared_ptr<Shared> self,
                                absl::AnyInvocable<void()> job) {
  for (;;) {
    job();
    job = nullptr;  // Drops what it captured before the next job runs.
    MutexLock lock(&self->mu);
    if (self->stopped || self->queue.empty()) {
      --self->threads;
      return;
    }
    job = std::move(self->queue.front());
    self->queue.pop_front();
  }
}

ResolverPool::ResolverPool(SocketOps* ops, size_t stack_size, int max_threads)
    : ops_(ops),
      stack_size_(stack_size),
      shared_(std::make_shared<Shared>(max_threads < 1 ? 1 : max_threads)) {}

ResolverPool::~ResolverPool() { Shutdown(); }

absl::Status ResolverPool::Submit(absl::AnyInvocable<void()>* job) {
  {
    MutexLock lock(&shared_->mu);
    if (shared_->stopped) return absl::CancelledError("resolver pool stopped");
    if (shared_->threads >= shared_->max_threads) {
      shared_->queue.push_back(std::move(*job));
      return absl::OkStatus();
    }
    ++shared_->threads;  // Reserved before the start, so the bound holds.
  }
  // The thread owns a reference to the queue and its first job; a
  // holder lets a failed start hand the job back.
  auto first = std::make_shared<absl::AnyInvocable<void()>>(std::move(*job));
  std::shared_ptr<Shared> shared = shared_;
  absl::StatusOr<pthread_t> t =
      StartThread(ops_, stack_size_, [shared, first]() mutable {
        Shared::Loop(std::move(shared), std::move(*first));
      });
  if (t.ok()) {
    pthread_detach(*t);  // Never joined: ~Connector never waits for it.
    return absl::OkStatus();
  }
  *job = std::move(*first);
  MutexLock lock(&shared_->mu);
  --shared_->threads;
  return absl::ResourceExhaustedError("cannot start a resolver thread");
}

void ResolverPool::Shutdown() {
  std::deque<absl::AnyInvocable<void()>> dropped;  // destroyed unlocked
  MutexLock lock(&shared_->mu);
  shared_->stopped = true;
  dropped.swap(shared_->queue);
}

int ResolverPool::threads() const {
  MutexLock lock(&shared_->mu);
  return shared_->threads;
}

}  // namespace internal
}  // namespace tether
