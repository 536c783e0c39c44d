// lib/registry.h: the connects a Connector has in progress, so ~Connector
// can cancel them.
//
// CancelAll() publishes kCancelled for every registered socket under mu_
// (cheap: no system call unless a thread waits on the socket), then wakes
// every connect in flight at once with one write to an eventfd that each
// attempt polls beside its socket (lib/attempt.cc). The alternative, one
// shutdown() per descriptor, cost ~10 µs each in the destructor's thread
// and woke the workers one at a time into this mutex (10,000 pending: 283
// ms). Without an eventfd (creation failed) CancelAll() falls back to that.
//
// Thread safety: every method may be called from any thread.

#ifndef TETHER_LIB_REGISTRY_H_
#define TETHER_LIB_REGISTRY_H_

#include "absl/base/thread_annotations.h"
#include "lib/connect_state.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {

class Registry {
 public:
  // `ops` makes, writes and closes the eventfd; it must outlive this.
  explicit Registry(SocketOps* ops);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds `state`; returns false (adding nothing) once CancelAll() has run.
  bool Add(ConnectState* state);
  // O(1).
  void Remove(ConnectState* state);
  // Cancels every registered socket, and every later Add() fails:
  // PublishCancelAll(), then Wake().
  void CancelAll();
  // Publishes kCancelled for every registered socket (without an eventfd
  // also shuts down their descriptors); every later Add() fails. The
  // connects in flight notice at Wake().
  void PublishCancelAll();
  // Wakes every connect in flight with one eventfd write. The kernel wakes
  // each poller inside it (about 14 µs each here), so ~Connector of a large
  // pool leaves it to another thread (docs/performance.md, section 6).
  void Wake();
  // Readable (POLLIN) once CancelAll() has run; -1 if none could be made.
  int cancel_fd() const { return cancel_fd_; }

 private:
  SocketOps* const ops_;
  const int cancel_fd_;
  Mutex mu_;
  // The registered states, oldest first: a list linked through the states
  // themselves, so Add() never allocates (a growing vector's reallocation,
  // an mmap() at 8,192 pending, cost a Connect() up to a millisecond while
  // the pool grew; docs/performance.md §6.9).
  ConnectState* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  ConnectState* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_REGISTRY_H_
