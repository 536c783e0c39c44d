#include "lib/callback_thread.h"

#include <pthread.h>

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "lib/connect_state.h"
#include "lib/mutex.h"
#include "lib/thread.h"

namespace tether {
namespace internal {

struct CallbackThread::Shared {
  struct Item {
    ConnectState* state;
    std::shared_ptr<Socket> socket;  // keeps `state` alive
  };

  Shared(SocketOps* o, size_t s) : ops(o), stack_size(s) {}

  // Runs queued callbacks until stopping and the queue is empty.
  static void Loop(const std::shared_ptr<Shared>& self);

  SocketOps* const ops;
  const size_t stack_size;
  Mutex mu;
  CondVar cv{&mu};
  std::deque<Item> queue ABSL_GUARDED_BY(mu);
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  pthread_t thread ABSL_GUARDED_BY(mu);
};

void CallbackThread::Shared::Loop(const std::shared_ptr<Shared>& self) {
  MutexLock lock(&self->mu);
  for (;;) {
    while (self->queue.empty() && !self->stopping) self->cv.Wait();
    if (self->queue.empty()) return;  // stopping, and nothing left
    Item item = std::move(self->queue.front());
    self->queue.pop_front();
    self->mu.Unlock();
    item.state->RunCallbackOnce();
    item = Item{};  // the Socket may go here: outside the lock too
    self->mu.Lock();
  }
}

CallbackThread::CallbackThread(SocketOps* ops, size_t stack_size)
    : shared_(std::make_shared<Shared>(ops, stack_size)) {}

CallbackThread::~CallbackThread() { Stop(); }

bool CallbackThread::Post(ConnectState* state, std::shared_ptr<Socket> socket) {
  MutexLock lock(&shared_->mu);
  if (shared_->stopping) return false;
  if (!shared_->started) {
    // The thread owns a reference: it may outlive this object (Stop() from
    // the thread itself).
    absl::StatusOr<pthread_t> t = StartThread(
        shared_->ops, shared_->stack_size, [s = shared_] { Shared::Loop(s); });
    if (!t.ok()) return false;
    shared_->thread = *t;
    shared_->started = true;
  }
  shared_->queue.push_back(Shared::Item{state, std::move(socket)});
  shared_->cv.Signal();
  return true;
}

void CallbackThread::Stop() {
  pthread_t thread;
  {
    MutexLock lock(&shared_->mu);
    if (shared_->stopping) return;
    shared_->stopping = true;
    shared_->cv.Signal();
    if (!shared_->started) return;
    thread = shared_->thread;
  }
  if (pthread_equal(thread, pthread_self())) {
    pthread_detach(thread);  // Its glibc stack is freed when it exits.
  } else {
    pthread_join(thread, nullptr);
  }
}

}  // namespace internal
}  // namespace tether
