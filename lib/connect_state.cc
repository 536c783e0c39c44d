#include "lib/connect_state.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "lib/completion_queue_access.h"
#include "lib/fd_stream.h"
#include "lib/posix_error.h"

namespace tether {
namespace internal {

void Counters::Complete(const absl::Status& status) {
  completed.fetch_add(1, std::memory_order_relaxed);
  if (status.ok()) {
    connected.fetch_add(1, std::memory_order_relaxed);
  } else if (status.code() == absl::StatusCode::kCancelled) {
    cancelled.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed.fetch_add(1, std::memory_order_relaxed);
  }
}

void Waiter::Fire() {
  MutexLock lock(&mu_);
  fired_ = true;
  cv_.SignalAll();
}

bool Waiter::WaitUntil(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (!fired_) {
    if (!cv_.WaitUntil(deadline) && !fired_) return false;
  }
  fired_ = false;  // Consumed: the next wait sleeps until the next Fire().
  return true;
}

namespace {
// sticky_ once the socket is published: never dereferenced.
SharedWaiter* const kStickyDone = reinterpret_cast<SharedWaiter*>(uintptr_t{1});
}  // namespace

SharedWaiter* ThreadWaiter() {
  struct Holder {
    SharedWaiter* const waiter = new SharedWaiter;
    ~Holder() { waiter->Unref(); }
  };
  thread_local Holder holder;
  return holder.waiter;
}

namespace {
// The ConnectorCore whose callbacks this thread is inside, and how deep.
thread_local const ConnectorCore* tls_callback_core = nullptr;
thread_local int64_t tls_callback_depth = 0;
}  // namespace

void ConnectorCore::CallbackDone() {
  // seq_cst with WaitForCallbacks()'s store: either it sees the new count,
  // or this sees it waiting and signals under the mutex it checks under.
  if (callbacks_owed.fetch_sub(1, std::memory_order_seq_cst) >= 1 &&
      callbacks_waited.load(std::memory_order_seq_cst)) {
    MutexLock lock(&callbacks_mu);
    callbacks_cv.SignalAll();
  }
}

void ConnectorCore::Strand(ConnectState* state,
                           std::shared_ptr<Socket> socket) {
  std::vector<Stranded> ran;  // destroyed unlocked: ~Socket takes locks
  MutexLock lock(&callbacks_mu);
  // Those their task has run meanwhile are dropped: the list stays as long
  // as the callbacks still owed, however long threads fail to start.
  auto owed = std::partition(
      stranded_.begin(), stranded_.end(),
      [](const Stranded& s) { return !s.state->callback_claimed(); });
  std::move(owed, stranded_.end(), std::back_inserter(ran));
  stranded_.erase(owed, stranded_.end());
  stranded_.push_back(Stranded{state, std::move(socket)});
  callbacks_cv.SignalAll();
}

void ConnectorCore::WaitForCallbacks() {
  // Inside one of our callbacks (on the CallbackThread, others may be
  // queued behind it): wait for none, as CallbackThread::Stop() does, but
  // run the stranded ones, which nothing else would.
  const bool inside = tls_callback_core == this;
  if (!inside) callbacks_waited.store(true, std::memory_order_seq_cst);
  std::vector<Stranded> stranded;
  MutexLock lock(&callbacks_mu);
  for (;;) {
    stranded.swap(stranded_);
    if (!stranded.empty()) {
      // Unlocked: a callback completes (CallbackDone()), and may cancel.
      callbacks_mu.Unlock();
      for (Stranded& s : stranded) s.state->RunCallbackOnce();
      stranded.clear();  // the Sockets may go here: unlocked too
      callbacks_mu.Lock();
      continue;
    }
    if (inside || callbacks_owed.load(std::memory_order_seq_cst) <= 0) return;
    callbacks_cv.WaitUntil(absl::Now() + absl::Milliseconds(100));
  }
}

ConnectState::~ConnectState() {
  if (on_complete_) core_->CallbackDone();  // never ran: no longer owed
  // acquire: pairs with RegisterSticky()'s CAS; we hold the last reference
  // to this state, so nobody changes it any more.
  SharedWaiter* w = sticky_.load(std::memory_order_acquire);
  if (w != nullptr && w != kStickyDone) w->Unref();
}

ConnectState::Sticky ConnectState::RegisterSticky(SharedWaiter* w) {
  // acquire: pairs with PublishLocked()'s exchange, so kStickyDone comes
  // with the published result (the caller then reads it).
  SharedWaiter* cur = sticky_.load(std::memory_order_acquire);
  if (cur == w) return Sticky::kMine;
  if (cur == nullptr) {
    w->Ref();  // the slot's reference
    // acq_rel: release hands the reference over to whoever takes it out;
    // acquire as above when it fails on kStickyDone.
    if (sticky_.compare_exchange_strong(cur, w, std::memory_order_acq_rel)) {
      return Sticky::kMine;
    }
    w->Unref();
  }
  return cur == kStickyDone ? Sticky::kDone : Sticky::kBusy;
}

ConnectState::ConnectState(const std::shared_ptr<Socket>& socket,
                           SocketOps* ops, std::shared_ptr<ConnectorCore> core,
                           std::string target,
                           absl::AnyInvocable<void(Socket&)> on_complete,
                           std::shared_ptr<CompletionQueue> queue)
    : socket_(socket.get()),
      weak_socket_(socket),
      ops_(ops),
      core_(std::move(core)),
      target_(std::move(target)),
      on_complete_(std::move(on_complete)),
      has_queue_(queue != nullptr),
      queue_(std::move(queue)) {
  if (on_complete_) {
    core_->callbacks_owed.fetch_add(1, std::memory_order_relaxed);
  }
}

void ConnectState::MarkQueued() {
  // relaxed: the state reaches other threads only through a mutex (the
  // Registry's) or the pool's queue, both of which order this store.
  phase_.store(kQueued, std::memory_order_relaxed);
}

void ConnectState::MarkResolving() {
  // relaxed: as MarkQueued().
  phase_.store(kResolving, std::memory_order_relaxed);
  core_->counters.resolving.fetch_add(1, std::memory_order_relaxed);
}

bool ConnectState::Claim() {
  int phase = phase_.load(std::memory_order_relaxed);
  // acq_rel: a CAS against a canceller's; whoever wins owns on_complete.
  while (phase == kNew || phase == kQueued || phase == kResolving) {
    if (phase_.compare_exchange_weak(phase, kRunning,
                                     std::memory_order_acq_rel)) {
      LeftWaiting(phase);
      return true;
    }
  }
  return false;  // kOrphaned
}

bool ConnectState::Resolved() {
  int phase = kResolving;
  // acq_rel: a CAS against a canceller's, as in Claim().
  if (!phase_.compare_exchange_strong(phase, kQueued,
                                      std::memory_order_acq_rel)) {
    return false;  // kOrphaned
  }
  core_->counters.resolving.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void ConnectState::LeftWaiting(int phase) {
  // relaxed: statistics and a memory bound, not ordering anything.
  if (phase == kQueued || phase == kResolving) {
    core_->counters.queued.fetch_sub(1, std::memory_order_relaxed);
  }
  if (phase == kResolving) {
    core_->counters.resolving.fetch_sub(1, std::memory_order_relaxed);
  }
}

ConnectState::Waiting ConnectState::waiting() const {
  // relaxed: a snapshot for a message; a stale answer only words it.
  switch (phase_.load(std::memory_order_relaxed)) {
    case kResolving:
      return Waiting::kResolver;
    case kQueued:
      return in_line_.load(std::memory_order_relaxed) ? Waiting::kLine
                                                      : Waiting::kWorker;
    default:
      return Waiting::kNothing;
  }
}

void ConnectState::HandOverCallback() {
  int phase = phase_.load(std::memory_order_acquire);
  if (phase != kQueued && phase != kResolving) return;
  // The task that holds the Socket may drop it once it sees kOrphaned:
  // take a reference first (null only if the Socket is being destroyed,
  // which nobody can while a task or a caller of ours holds it).
  std::shared_ptr<Socket> keep = weak_socket_.lock();
  if (keep == nullptr) return;
  // acq_rel: a CAS against Claim()'s and Resolved()'s; a failure reloads
  // `phase` (kResolving may have become kQueued: try again).
  while (!phase_.compare_exchange_weak(phase, kOrphaned,
                                       std::memory_order_acq_rel)) {
    if (phase != kQueued && phase != kResolving) return;  // claimed
  }
  LeftWaiting(phase);
  // If the post fails, the task runs it when it resumes (Claim() fails,
  // then RunCallbackOnce()), or ~Connector does (WaitForCallbacks()).
  if (!core_->callbacks.Post(this, keep)) core_->Strand(this, std::move(keep));
}

bool ConnectState::PostCallback() {
  std::shared_ptr<Socket> keep = weak_socket_.lock();
  return keep != nullptr && core_->callbacks.Post(this, std::move(keep));
}

bool ConnectState::Publish(std::unique_ptr<ConnectResult> result) {
  std::shared_ptr<CompletionQueue> pushed_to;  // dropped after mu_
  {
    MutexLock lock(&mu_);
    if (!PublishLocked(result, &pushed_to)) return false;
  }
  HandOverCallback();
  return true;
}

bool ConnectState::PublishConnected(std::unique_ptr<ConnectResult> result,
                                    size_t attempt) {
  std::shared_ptr<CompletionQueue> pushed_to;  // dropped after mu_
  MutexLock lock(&mu_);
  if (!PublishLocked(result, &pushed_to)) return false;
  // Still under mu_: a consumer that drains the socket and asks attempts()
  // (which takes mu_) sees this outcome too.
  Attempt& a = slots_[attempt].attempt;
  a.outcome = Attempt::Outcome::kConnected;
  a.error_code = 0;
  a.duration = absl::Now() - a.start;
  return true;
}

bool ConnectState::PublishLocked(std::unique_ptr<ConnectResult>& result,
                                 std::shared_ptr<CompletionQueue>* pushed_to) {
  const ConnectResult* expected = nullptr;
  // release on success: makes the filled-in result visible to the acquire
  // loads in Socket's queries. The failure order is relaxed: nothing of the
  // winner's result is read here. (mu_ orders attempts() and the waiters,
  // not the queries: those never take it.)
  if (!socket_->result_.compare_exchange_strong(expected, result.get(),
                                                std::memory_order_release,
                                                std::memory_order_relaxed)) {
    return false;  // Lost: the caller's `result` (and its fd) is destroyed.
  }
  core_->counters.Complete(result->status);
  result.release();  // Now owned by the Socket (invariant 3).
  // Every attempt still in flight ends now, in the same critical section:
  // whoever sees the socket complete sees no attempt kInProgress (its
  // thread's later FinishAttempt() changes nothing).
  const absl::Time now = absl::Now();
  for (Slot& slot : slots_) {
    if (slot.attempt.outcome == Attempt::Outcome::kInProgress) {
      EndAttemptLocked(slot.attempt, now);
    }
  }
  PushLocked(pushed_to);
  WakeWaitersLocked();
  return true;
}

void ConnectState::FireStickyLocked() {
  // acq_rel: acquire takes over the reference RegisterSticky() released
  // into the slot; release makes the published result (stored before this
  // RMW) visible to a RegisterSticky() that sees kStickyDone.
  SharedWaiter* w = sticky_.exchange(kStickyDone, std::memory_order_acq_rel);
  if (w == nullptr || w == kStickyDone) return;
  w->waiter.Fire();
  w->Unref();
}

void ConnectState::PushLocked(std::shared_ptr<CompletionQueue>* pushed_to) {
  if (queue_ == nullptr) return;
  // Never null here: every publisher holds a reference to the Socket (or,
  // for ~Connector's CancelAll(), keeps it registered, which its task's
  // reference outlives).
  node_.socket = weak_socket_.lock();
  if (node_.socket != nullptr) {
    CompletionQueueAccess::Push(*queue_, &node_);
  }
  *pushed_to = std::move(queue_);
}

bool ConnectState::PublishFailure(absl::Status status) {
  auto result = std::make_unique<ConnectResult>();
  result->error_code = ErrnoOf(status);
  DropErrno(status);
  result->status = std::move(status);
  return Publish(std::move(result));
}

bool ConnectState::Cancel(absl::Status status) {
  if (!PublishFailure(std::move(status))) return false;
  InterruptAttempts();
  return true;
}

void ConnectState::InterruptAttempts() {
  MutexLock lock(&mu_);
  for (const Slot& slot : slots_) {
    // Wakes a blocked connect() at once (close() would not). Safe: the fd
    // stays open while it is attached (invariant 5).
    if (slot.fd >= 0) ops_->Shutdown(slot.fd, SHUT_RDWR);
  }
}

void ConnectState::RunCallbackOnce() {
  // acq_rel: the winner's later reads of on_complete_ are ordered after any
  // other thread's earlier exchange; only one thread ever sees `false`.
  if (callback_claimed_.exchange(true, std::memory_order_acq_rel)) return;
  if (has_queue_) {
    // Invariant (6): the publisher pushes under mu_; a thread that only saw
    // the publication waits here until the push is done.
    MutexLock lock(&mu_);
  }
  if (on_complete_) {
    const ConnectorCore* outer = tls_callback_core;
    const int64_t outer_depth = tls_callback_depth;
    tls_callback_depth = outer == core_.get() ? outer_depth + 1 : 1;
    tls_callback_core = core_.get();
    on_complete_(*socket_);
    on_complete_ = nullptr;  // Release captured resources now.
    tls_callback_core = outer;
    tls_callback_depth = outer_depth;
    core_->CallbackDone();
  }
}

size_t ConnectState::StartAttempt(const SocketAddress& address,
                                  absl::Time start) {
  MutexLock lock(&mu_);
  Slot slot;
  slot.attempt.address = address;
  slot.attempt.start = start;
  // Started after the socket completed (a race's last look came first): it
  // ends as it begins, like every attempt in flight at publication.
  if (done()) EndAttemptLocked(slot.attempt, start);
  slots_.push_back(slot);
  return slots_.size() - 1;
}

void ConnectState::EndAttemptLocked(Attempt& a, absl::Time now) {
  // What the published result did to it: a deadline times it out; a
  // cancel, or another attempt connecting, cancels it.
  const bool deadline =
      socket_->error().code() == absl::StatusCode::kDeadlineExceeded;
  a.outcome =
      deadline ? Attempt::Outcome::kTimedOut : Attempt::Outcome::kCancelled;
  a.error_code = deadline ? ETIMEDOUT : ECANCELED;
  a.duration = now - a.start;
}

bool ConnectState::AttachFd(size_t attempt, int fd) {
  MutexLock lock(&mu_);
  // Checked under mu_: Cancel() publishes before it takes mu_, so either it
  // sees this fd, or this check sees its result.
  if (done()) return false;
  slots_[attempt].fd = fd;
  return true;
}

void ConnectState::DetachFd(size_t attempt) {
  MutexLock lock(&mu_);
  slots_[attempt].fd = -1;
}

void ConnectState::FinishAttempt(size_t attempt, absl::Status cause) {
  const int err = ErrnoOf(cause);
  MutexLock lock(&mu_);
  Slot& slot = slots_[attempt];
  Attempt& a = slot.attempt;
  // Ended at publication already: that outcome stands.
  if (a.outcome != Attempt::Outcome::kInProgress) return;
  a.outcome = err == ETIMEDOUT ? Attempt::Outcome::kTimedOut
                               : Attempt::Outcome::kFailed;
  a.error_code = err;
  a.duration = absl::Now() - a.start;
  slot.cause = std::move(cause);
}

std::vector<FailedAttempt> ConnectState::failures() const {
  MutexLock lock(&mu_);
  std::vector<FailedAttempt> out;
  out.reserve(slots_.size());
  for (const Slot& slot : slots_) {
    // An attempt that publication ended has no cause of its own: its
    // errno (ECANCELED, ETIMEDOUT) is it.
    out.push_back(
        {slot.attempt.address, slot.cause.ok() && slot.attempt.error_code != 0
                                   ? AttemptError(slot.attempt.error_code)
                                   : slot.cause});
  }
  return out;
}

std::vector<Attempt> ConnectState::attempts() const {
  absl::Time now = absl::Now();
  MutexLock lock(&mu_);
  std::vector<Attempt> out;
  out.reserve(slots_.size());
  for (const Slot& slot : slots_) {
    out.push_back(slot.attempt);
    if (slot.attempt.outcome == Attempt::Outcome::kInProgress) {
      out.back().duration = now - slot.attempt.start;
    }
  }
  return out;
}

bool ConnectState::AddWaiter(Waiter* waiter) {
  MutexLock lock(&mu_);
  if (done()) return false;
  waiters_.push_back(waiter);
  return true;
}

void ConnectState::RemoveWaiter(Waiter* waiter) {
  MutexLock lock(&mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter),
                 waiters_.end());
}

void ConnectState::WakeWaitersLocked() {
  // Fired under mu_: a waiter removes itself under mu_ before it is
  // destroyed, so none is fired after it is gone.
  for (Waiter* w : waiters_) w->Fire();
  waiters_.clear();
  FireStickyLocked();
}

}  // namespace internal
}  // namespace tether
