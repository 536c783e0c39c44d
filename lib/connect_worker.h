// lib/connect_worker.h: what a worker does for one Connect().
//
// ConnectTask resolves the host, then tries its addresses, each connect
// blocking the worker (connect() on a non-blocking socket, then poll(), so a
// cancel can never be lost; see AwaitConnect): one at a time (ConnectSerial),
// or raced per RFC 8305, Happy Eyeballs (Race, in lib/happy_eyeballs.cc), where
// each attempt runs on its own worker. docs/design.md describes both.

#ifndef TETHER_LIB_CONNECT_WORKER_H_
#define TETHER_LIB_CONNECT_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/connect_state.h"
#include "lib/socket_ops.h"
#include "lib/timer.h"
#include "lib/worker_pool.h"
#include "tether/address.h"
#include "tether/resolver.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

// One Connect()'s validated arguments.
struct ConnectRequest {
  std::string host;
  uint16_t port = 0;
  Family family = Family::kAny;
  std::optional<SocketAddress> local_address;  // parsed ConnectOptions field
  uint16_t local_port = 0;
  absl::Duration attempt_timeout = absl::InfiniteDuration();
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration happy_eyeballs_delay = absl::ZeroDuration();
  bool tcp_nodelay = false;
};

// The sockets being worked on, so ~Connector can cancel them.
//
// CancelAll() publishes kCancelled for every registered socket under mu_
// (cheap: no system call unless a thread waits on the socket), then wakes
// every connect in flight at once with one write to an eventfd that each
// attempt polls beside its socket (AwaitConnect). The alternative, one
// shutdown() per descriptor, cost ~10 µs each in the destructor's thread
// and woke the workers one at a time into this mutex (10,000 pending: 283
// ms). Without an eventfd (creation failed) CancelAll() falls back to that.
//
// Thread safety: every method may be called from any thread.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds `state`; returns false (adding nothing) once CancelAll() has run.
  bool Add(ConnectState* state);
  // O(1): each state remembers its index.
  void Remove(ConnectState* state);
  // Cancels every registered socket, and every later Add() fails. With
  // `wake` false, the connects in flight are published but not woken until
  // Wake() (one eventfd write that wakes every waiting worker: about 14 µs
  // per worker on this VM, so ~Connector leaves it to another thread).
  void CancelAll(bool wake = true);
  void Wake();
  // Readable (POLLIN) once CancelAll() has run; -1 if none could be made.
  int cancel_fd() const { return cancel_fd_; }

 private:
  const int cancel_fd_;
  Mutex mu_;
  std::vector<ConnectState*> states_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// What a task needs from its Connector. Outlives every task.
struct ConnectEnv {
  WorkerPool* pool;
  Timer* timer;
  Resolver* resolver;
  SocketOps* ops;
  Counters* counters;
  Registry* registry;
};

// The status every cancelled socket reports (kCancelled, ECANCELED).
absl::Status CancelledStatus(absl::string_view why);
// The status a socket past its whole-connect deadline reports.
absl::Status DeadlineStatus(const ConnectRequest& request);
// True when the socket is done; publishes DeadlineStatus() first when its
// deadline has passed (the timer may be late: item 6 of issue 12).
bool PublishIfPastDeadline(const ConnectRequest& request, ConnectState& state);

// Tries one address with a worker-blocking connect bounded by the attempt and
// whole-connect limits, recording it as an attempt. On success publishes the
// connected socket (and interrupts the other attempts of a race) and
// returns true.
bool ConnectOne(const ConnectEnv& env, const ConnectRequest& request,
                ConnectState& state, const SocketAddress& address);
// ConnectOne() for an attempt already recorded with StartAttempt() (a race
// records it when it decides to start it, before the hand-off).
bool ConnectAttempt(const ConnectEnv& env, const ConnectRequest& request,
                    ConnectState& state, const SocketAddress& address,
                    size_t attempt);

// Publishes the failure of a connect whose every attempt failed: the first
// attempt's errno, with every address and its error in the message.
void PublishAllFailed(const ConnectRequest& request, ConnectState& state);

// Keeps the addresses bind() can use with the request's local address.
// Returns kInvalidArgument when none is left.
absl::StatusOr<std::vector<SocketAddress>> FilterForLocal(
    const ConnectRequest& request, std::vector<SocketAddress> addresses);

// The job Connect() queues (or runs inline). Holds the Socket until it is
// done. REQUIRES: the state was added to env.registry by Connect().
class ConnectTask final : public Task {
 public:
  ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
              ConnectRequest request, ConnectState* state);
  void set_timer_id(uint64_t id) { timer_id_ = id; }

  void Run() override;
  void Abandon() override;
  void Fail(absl::Status status) override;  // no thread could run it

 private:
  void Connect();
  void ConnectSerial(const std::vector<SocketAddress>& addresses);
  // Leaves the registry and cancels the deadline.
  void Unregister();
  // Unregister(), then on_complete unless it ran already.
  void Finish();

  const ConnectEnv env_;
  const std::shared_ptr<Socket> socket_;
  const ConnectRequest request_;
  ConnectState* const state_;  // socket_'s
  uint64_t timer_id_ = 0;
};

// Happy Eyeballs (lib/happy_eyeballs.cc): races `addresses` (or, when
// `resolved` is false, resolves both families concurrently first) until one
// connects, all fail, or the socket is done.
void RunRace(const ConnectEnv& env, const ConnectRequest& request,
             const std::shared_ptr<Socket>& socket, ConnectState& state,
             std::optional<std::vector<SocketAddress>> addresses);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_WORKER_H_
