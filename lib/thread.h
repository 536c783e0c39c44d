// lib/thread.h: joinable threads with a chosen stack size, or on a given
// stack.

#ifndef TETHER_LIB_THREAD_H_
#define TETHER_LIB_THREAD_H_

#include <pthread.h>

#include <cstddef>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {

// Starts `fn` on a new joinable thread with `stack_size` bytes of stack
// (raised to PTHREAD_STACK_MIN), through ops->StartThread(). Returns
// kResourceExhausted, and runs nothing, when the thread cannot be created.
absl::StatusOr<pthread_t> StartThread(SocketOps* ops, size_t stack_size,
                                      absl::AnyInvocable<void()> fn);

// The same on a stack the caller provides (pthread_attr_setstack): `stack`
// is its lowest address, `stack_size` bytes (at least PTHREAD_STACK_MIN).
// glibc neither caches nor unmaps such a stack: the caller frees it after
// pthread_join(). (lib/worker_pool.cc allocates its workers' stacks in
// chunks, so a pool of 10,000 threads is torn down with a few hundred
// munmap() calls instead of one per thread.)
absl::StatusOr<pthread_t> StartThreadOnStack(SocketOps* ops, void* stack,
                                             size_t stack_size,
                                             absl::AnyInvocable<void()> fn);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_THREAD_H_
