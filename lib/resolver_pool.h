// lib/resolver_pool.h: the bounded set of threads that run name
// resolutions, apart from the connect workers (issue 14).
//
// getaddrinfo() cannot be cancelled and may block for 5 to 30 s (resolv.conf
// defaults), so a resolution never runs on a connect worker, and nobody ever
// waits for one: the threads are DETACHED and own only reference-counted
// state (this pool's queue, and whatever each job captured: the Socket, the
// request, the Resolver, a Dispatch handle). Shutdown() drops the jobs still
// queued and returns at once; a thread stuck in a resolver exits by itself
// when the resolver returns, after its job has seen that its connect is
// over.
//
// At most `max_threads` run at once; more jobs wait in FIFO order. A thread
// exits as soon as the queue is empty (no idle threads: a resolution costs
// far more than a thread start).
//
// Thread safety: safe for concurrent use, Submit() racing Shutdown()
// included.

#ifndef TETHER_LIB_RESOLVER_POOL_H_
#define TETHER_LIB_RESOLVER_POOL_H_

#include <cstddef>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {

class ResolverPool {
 public:
  // `ops` starts the threads (ops->StartThread); it is used only inside
  // Submit(), never by a running thread.
  ResolverPool(SocketOps* ops, size_t stack_size, int max_threads);
  ResolverPool(const ResolverPool&) = delete;
  ResolverPool& operator=(const ResolverPool&) = delete;
  ~ResolverPool();  // Shutdown()

  // Runs `*job` on a resolver thread, now or when one frees up, and takes
  // it. On failure leaves `*job` with the caller and returns kCancelled
  // (Shutdown() has begun) or kResourceExhausted (no thread could start).
  // A queued job that Shutdown() drops is destroyed without running.
  [[nodiscard]] absl::Status Submit(absl::AnyInvocable<void()>* job);

  // Later Submit()s fail; drops the queued jobs. Never waits for a thread.
  void Shutdown();

  // Resolver threads alive now (a snapshot).
  [[nodiscard]] int threads() const;

 private:
  struct Shared;  // the queue, shared with the threads (resolver_pool.cc)
  SocketOps* const ops_;
  const size_t stack_size_;
  const std::shared_ptr<Shared> shared_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_RESOLVER_POOL_H_
