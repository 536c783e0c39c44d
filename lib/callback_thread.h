// lib/callback_thread.h: the thread that runs on_complete for sockets that
// completed without a worker of their own.
//
// A connect cancelled or past its deadline while its task still waits for a
// worker (in the queue or its destination's line, or while it waits for the
// resolver pool) has nobody to run its
// on_complete. The canceller cannot run it: the deadline timer must never
// run user code (a slow callback would delay every other deadline), and
// Socket::Close() may be called under a lock the callback takes. So such
// callbacks are posted here and run in order on one thread, started on first
// use with the workers' stack size.
//
// Thread safety: safe for concurrent use. Stop() may be called from the
// thread itself (a callback destroying its Connector): it then detaches
// instead of joining, and the thread finishes the queue and exits on its
// own; its state is reference-counted, so nothing it touches is freed under
// it.

#ifndef TETHER_LIB_CALLBACK_THREAD_H_
#define TETHER_LIB_CALLBACK_THREAD_H_

#include <cstddef>
#include <memory>

#include "lib/socket_ops.h"

namespace tether {
class Socket;

namespace internal {
class ConnectState;

class CallbackThread {
 public:
  CallbackThread(SocketOps* ops, size_t stack_size);
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;
  ~CallbackThread();  // Stop()

  // Queues `state`'s RunCallbackOnce(), keeping `socket` (its owner) alive
  // until it has run. Returns false, queuing nothing, once Stop() has begun
  // or when the thread cannot start: the caller then makes sure the
  // callback runs elsewhere. Never runs user code on the calling thread.
  [[nodiscard]] bool Post(ConnectState* state, std::shared_ptr<Socket> socket);

  // Lets the thread run what is queued, then joins it (detaches it when
  // called from the thread itself). Later Post()s fail. Idempotent.
  void Stop();

 private:
  struct Shared;  // the queue, shared with the thread (callback_thread.cc)
  const std::shared_ptr<Shared> shared_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CALLBACK_THREAD_H_
