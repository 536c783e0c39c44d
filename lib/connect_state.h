// lib/connect_state.h: how a Socket's connect state is recorded, published
// and waited for.
//
// Thread safety (the invariants the lock-free queries rely on):
//  (1) The final state is a ConnectResult, built by exactly one thread (a
//      worker, the deadline timer, a canceller, or Connect() itself) before
//      it is published.
//  (2) Publication is a single compare-and-swap of Socket::result_ from null
//      to the result (release on success), made under mu_ so that attempt
//      records and waiters change atomically with it. Only the first
//      publisher wins; a loser destroys its result (closing any descriptor
//      in it). Queries never take mu_.
//  (3) A published ConnectResult is immutable; it lives until ~Socket.
//  (4) Every query starts with one acquire load of Socket::result_.
//  (5) Everything else (attempt records, descriptors of attempts in flight,
//      waiters) is guarded by mu_; a descriptor is closed only after it is
//      detached under mu_, so a canceller never shuts down a reused number.
//  (6) A socket with a CompletionQueue is pushed to it exactly once, by the
//      publisher that won (2), inside the same critical section of mu_ and
//      before the waiters wake (api-contract rule 11). RunCallbackOnce()
//      takes mu_ once before on_complete runs, so on_complete (which may run
//      on another thread that merely saw the publication) always comes
//      after the push.
//
// State diagram of Socket::result_ (one transition, done by Publish()):
//
//     null (connecting) --(1) Publish: connected | failed | cancelled--> set
//
// Who runs on_complete: ConnectState::phase_ says whether a thread of the
// connect will still run it.
//
//                 (1) MarkQueued          (2) Claim
//   kNew --------------------------> kQueued ---------> kRunning
//    |  \                           ^    \               ^
//    |   `--(1') MarkResolving --> kResolving --(2)-------'
//    |                              |    \ (3)
//    `--(2) Claim --> kRunning      |     `--(3) failure published--> kOrphaned
//                                   `--(5) Resolved --> kQueued --(3)--'
//
//  (1) Connector::Connect() reserves a max_queued slot for a connect that
//      will wait for a worker (in the pool's queue, or in its destination's
//      line: lib/destination_lines.h); (1') or for one that must first be
//      resolved, on the resolver pool (lib/resolver_pool.h): the slot is
//      held through the resolution. (2) The task (on a worker, or
//      Connect() itself, inline or for a failure) claims the socket, frees
//      the slot, and runs on_complete when done. (3) A canceller (Close(),
//      the deadline timer, ~Connector) that publishes while no worker has
//      the connect (kQueued: waiting for a worker or in a line;
//      kResolving: waiting for the resolver) frees the slot at once and
//      posts on_complete to the CallbackThread; the task, when it runs or
//      its resolution returns, only cleans up (RunCallbackOnce() runs
//      on_complete once, wherever first; a second post is a no-op). (5) A
//      resolution that answers moves the connect on to wait for a worker;
//      it fails when (3) came first. A worker never blocks in a resolver.
//
// Publishers: (a) ConnectTask/AttemptTask on success or failure,
// (b) the deadline timer (kDeadlineExceeded), (c) Cancel() from
// Socket::Close() or ~Connector (kCancelled), (d) Connector::Connect() for
// bad input or a full queue.

#ifndef TETHER_LIB_CONNECT_STATE_H_
#define TETHER_LIB_CONNECT_STATE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/callback_thread.h"
#include "lib/connect_errors.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"
#include "tether/completion_queue.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

// Counters behind ConnectorStats. relaxed everywhere: statistics, not tied
// to any other invariant.
struct Counters {
  std::atomic<uint64_t> submitted{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> cancelled{0};
  std::atomic<uint64_t> attempts{0};
  // Tasks handed to the pool that no worker has claimed yet: the max_queued
  // slots in use (ConnectorImpl::Connect() reserves, ConnectState frees).
  std::atomic<uint64_t> queued{0};
  // Connects in kResolving (waiting for the resolver pool); their max_queued
  // slots are counted in `queued` too.
  std::atomic<uint64_t> resolving{0};

  // Counts one completed socket by its final status.
  void Complete(const absl::Status& status);
};

// What a Connector shares with its Sockets, which may outlive it: the
// counters they update when they complete, and the thread that runs the
// callbacks of sockets completed without a worker.
struct ConnectorCore {
  ConnectorCore(SocketOps* ops, size_t stack_size)
      : callbacks(ops, stack_size) {}
  Counters counters;
  CallbackThread callbacks;
  // on_complete callbacks owed: sockets with one, until it has returned
  // (or the socket is gone). ~Connector waits for them instead of joining
  // the workers (issue 17: the workers of 10,000 cancelled connects exit
  // after it returns).
  std::atomic<int64_t> callbacks_owed{0};
  std::atomic<bool> callbacks_waited{false};  // a WaitForCallbacks() runs
  Mutex callbacks_mu;
  CondVar callbacks_cv{&callbacks_mu};
  void CallbackDone();
  // Keeps a callback the CallbackThread could not take (its thread could
  // not start, or it has stopped): the connect's task runs it when it
  // resumes, or WaitForCallbacks() does, whichever comes first. Never runs
  // it here: the canceller may hold a lock (the Registry's).
  void Strand(ConnectState* state, std::shared_ptr<Socket> socket);
  // Until every owed callback has returned, running the stranded ones on
  // this thread; at once when called from inside one of them (a callback
  // destroying its Connector).
  void WaitForCallbacks();

 private:
  struct Stranded {
    ConnectState* state;
    std::shared_ptr<Socket> socket;  // keeps `state` alive
  };
  std::vector<Stranded> stranded_ ABSL_GUARDED_BY(callbacks_mu);
};

// What Socket::Wait() and WaitAny() sleep on.
class Waiter {
 public:
  Waiter() = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  void Fire();
  // Returns false when `deadline` passes before Fire(). Consumes the
  // firing, so the next call waits for the next Fire().
  bool WaitUntil(absl::Time deadline);

 private:
  Mutex mu_;
  CondVar cv_{&mu_};
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
};

// A Waiter that sockets may keep registered after the wait that registered
// it has returned (ConnectState::RegisterSticky): reference-counted, so it
// lives until the last socket holding it completes or goes. Each thread
// that calls WaitAny() has one (ThreadWaiter()), so a thread that waits on
// the same sockets again finds itself registered already.
class SharedWaiter {
 public:
  SharedWaiter() = default;
  SharedWaiter(const SharedWaiter&) = delete;
  SharedWaiter& operator=(const SharedWaiter&) = delete;

  Waiter waiter;
  void Ref() {
    // relaxed: a new reference is made from an existing one.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref() {
    // acq_rel: the last owner's delete comes after every other owner's use.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  ~SharedWaiter() = default;
  std::atomic<int> refs_{1};  // written by every holder
};

// The calling thread's SharedWaiter (made on first use; the thread's
// reference goes when it exits).
SharedWaiter* ThreadWaiter();

class ConnectState {
 public:
  // `core`'s counters count the publication, before waiters wake: whoever
  // sees the socket complete also sees it in the statistics.
  // `target` names the connect in messages (connect_errors.h). `queue` (may
  // be null) receives the socket once, when it is published.
  ConnectState(const std::shared_ptr<Socket>& socket, SocketOps* ops,
               std::shared_ptr<ConnectorCore> core, std::string target,
               absl::AnyInvocable<void(Socket&)> on_complete,
               std::shared_ptr<CompletionQueue> queue = nullptr);
  ConnectState(const ConnectState&) = delete;
  ConnectState& operator=(const ConnectState&) = delete;
  ~ConnectState();

  Socket& socket() const { return *socket_; }
  bool done() const { return !socket_->connecting(); }
  // Whether RunCallbackOnce() has been entered (acquire: with its claim).
  bool callback_claimed() const {
    return callback_claimed_.load(std::memory_order_acquire);
  }
  const std::string& target() const { return target_; }

  // Transition (1): the socket's task is about to be queued; its
  // max_queued slot is already counted in Counters::queued.
  void MarkQueued();
  // Transition (1'): the connect is about to be handed to the resolver
  // pool; its max_queued slot is already counted in Counters::queued.
  void MarkResolving();
  // Transition (2): true when the caller now runs the connect and its
  // on_complete; false when a canceller took them over (kOrphaned).
  [[nodiscard]] bool Claim();
  // Transition (5), by the resolution that answers: true when the connect
  // now waits for a worker; false when a canceller took it over.
  [[nodiscard]] bool Resolved();
  // Whether the connect waits in its destination's line (for messages).
  void SetInLine(bool in_line) {
    // relaxed: read only to word a deadline message.
    in_line_.store(in_line, std::memory_order_relaxed);
  }
  // What the connect waits for now, for the deadline's message (a snapshot).
  enum class Waiting { kNothing, kResolver, kWorker, kLine };
  [[nodiscard]] Waiting waiting() const;

  // Publishes `result` unless one is published already (invariant 2), then
  // wakes every waiter. Returns whether this call published.
  bool Publish(std::unique_ptr<ConnectResult> result);
  // Publishes a connected `result` and marks `attempt` kConnected in the
  // same critical section, so whoever sees the socket complete also sees
  // the winning attempt's outcome in attempts().
  bool PublishConnected(std::unique_ptr<ConnectResult> result, size_t attempt);
  // Publishes a failure; error_code is ErrnoOf(status), and the status the
  // socket reports no longer carries it (no payload in ToString()).
  bool PublishFailure(absl::Status status);
  // Publishes `status` and interrupts every attempt still in flight
  // (shutdown() of its descriptor wakes a blocked connect()).
  bool Cancel(absl::Status status);

  // Shuts down every attempt descriptor still attached (a blocked connect()
  // returns at once). Used by Cancel() and by the winner of a race.
  void InterruptAttempts();

  // Runs on_complete unless it ran already. REQUIRES: done().
  void RunCallbackOnce();
  // Has the CallbackThread run it; false when it cannot (the caller must).
  [[nodiscard]] bool PostCallback();

  // Records a new attempt at `address` (kInProgress), started at `start`,
  // and returns its index.
  size_t StartAttempt(const SocketAddress& address,
                      absl::Time start = absl::Now());
  // Registers the attempt's descriptor so Cancel() can interrupt it.
  // Returns false, registering nothing, when the socket is already done:
  // the caller must then close `fd` itself.
  bool AttachFd(size_t attempt, int fd);
  // Unregisters it; after this the caller may close it.
  void DetachFd(size_t attempt);
  // Records why the attempt failed (AttemptError() or ControlError();
  // kTimedOut when its errno is ETIMEDOUT, else kFailed), unless
  // publication ended it already (every attempt in flight ends when the
  // socket is published).
  void FinishAttempt(size_t attempt, absl::Status cause);
  std::vector<Attempt> attempts() const;
  // Every attempt with why it failed (OK for one that did not).
  std::vector<FailedAttempt> failures() const;

  // Adds a waiter to fire on publication. Returns false (adding nothing)
  // when the socket is already done.
  bool AddWaiter(Waiter* waiter);
  void RemoveWaiter(Waiter* waiter);

  // Lock-free registration of a waiter that stays registered until
  // publication fires it (one per socket; WaitAny's fast path). kMine: `w`
  // is registered (now or by an earlier call); kBusy: another waiter holds
  // the slot (use AddWaiter()); kDone: the socket is complete.
  enum class Sticky { kMine, kBusy, kDone };
  [[nodiscard]] Sticky RegisterSticky(SharedWaiter* w);

 private:
  struct Slot {
    Attempt attempt;
    absl::Status cause;  // set by FinishAttempt()
    int fd = -1;         // registered while the connect() is in flight
  };

  // The compare-and-swap of invariant (2), then the push of invariant (6);
  // the queue pushed to is moved to `*pushed_to`, for the caller to drop
  // after unlocking mu_. REQUIRES: mu_ held.
  bool PublishLocked(std::unique_ptr<ConnectResult>& result,
                     std::shared_ptr<CompletionQueue>* pushed_to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeWaitersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends `a` (kInProgress) as the published result decides.
  void EndAttemptLocked(Attempt& a, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fires and drops the sticky waiter; from now on sticky_ is kStickyDone.
  void FireStickyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Invariant (6): pushes the socket to queue_, if any, and moves queue_
  // to `*pushed_to`.
  void PushLocked(std::shared_ptr<CompletionQueue>* pushed_to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a failure is published: transition (3).
  // Frees what a connect leaving `phase` (kQueued, kResolving) held: its
  // max_queued slot, and its count in Counters::resolving.
  void LeftWaiting(int phase);
  void HandOverCallback();

  enum Phase : int { kNew, kQueued, kRunning, kResolving, kOrphaned };

  friend class Registry;
  // This state's links in the Registry's list, guarded by the Registry's
  // mutex; `registered_` is whether it is in the list.
  ConnectState* registry_prev_ = nullptr;
  ConnectState* registry_next_ = nullptr;
  bool registered_ = false;

  Socket* const socket_;                     // owns this
  const std::weak_ptr<Socket> weak_socket_;  // for posting the callback
  SocketOps* const ops_;
  const std::shared_ptr<ConnectorCore> core_;
  const std::string target_;
  // See the diagram above. Written by Connect() (1, 1'), the claiming
  // thread (2), a resolution (5, by CAS) and a canceller (3, by CAS); read
  // by publishers.
  std::atomic<int> phase_{kNew};
  std::atomic<bool> in_line_{false};  // written by the task; see SetInLine()
  absl::AnyInvocable<void(Socket&)> on_complete_;  // run once, then cleared
  // Set by the thread that claims on_complete_; exchange, so exactly one wins.
  std::atomic<bool> callback_claimed_{false};

  // Whether the socket has a completion queue (invariant 6); fixed.
  const bool has_queue_;

  // Null, the sticky waiter (holding a reference), or kStickyDone once
  // published. Every change is an RMW, so the registration's CAS and the
  // publisher's exchange are totally ordered: either the publisher takes
  // (and fires) the waiter, or the registration sees kStickyDone.
  // Written by RegisterSticky() (CAS) and PublishLocked() (exchange).
  std::atomic<SharedWaiter*> sticky_{nullptr};

  mutable Mutex mu_;
  // Until the socket is pushed to it (then null: a queued socket must not
  // keep its queue alive, or an undrained queue would never be freed).
  std::shared_ptr<CompletionQueue> queue_ ABSL_GUARDED_BY(mu_);
  // The socket's link in queue_; node_.socket is set by the push, under mu_,
  // and moved out by the queue's consumer.
  CompletionNode node_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_STATE_H_
