#include "lib/connect_task.h"

#include <cerrno>
#include <utility>

#include "absl/time/clock.h"
#include "lib/attempt.h"
#include "lib/connect_errors.h"
#include "lib/destination_lines.h"
#include "lib/happy_eyeballs.h"
#include "lib/registry.h"
#include "lib/resolver_pool.h"
#include "lib/timer.h"

namespace tether {
namespace internal {
namespace {

// A pool's refusal (of a lookup or of a job) as the connect's failure:
// kCancelled means the Connector is shutting down; anything else is
// kResourceExhausted with the pool's reason.
absl::Status Refused(const ConnectRequest& request, const absl::Status& s) {
  return s.code() == absl::StatusCode::kCancelled
             ? ShuttingDownError(request.target)
             : ResourceError(request.target, s.message());
}

}  // namespace

ConnectTask::ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
                         ConnectState& state,
                         std::shared_ptr<const ConnectRequest> request,
                         uint64_t timer_id)
    : env_(env),
      socket_(std::move(socket)),
      request_(std::move(request)),
      state_(state),
      timer_id_(timer_id) {
  if (request_->address.has_value()) addresses_ = {*request_->address};
}

void ConnectTask::Start() {
  const ConnectRequest& request = *request_;
  if (request.address.has_value()) {
    Dispatch(*request.address, /*on_caller=*/true);
    return;
  }
  if (request.races()) race_ = NewRace();
  absl::Status s =
      SubmitResolution(race_ ? std::optional<bool>(true) : std::nullopt);
  if (!s.ok()) {  // On this thread, like a full queue.
    Fail(Refused(request, s));
    return;
  }
  if (race_ != nullptr) {
    s = SubmitResolution(false);
    if (!s.ok()) OnRaceAnswer(false, std::move(s));  // IPv6 may still do
  }
}

absl::Status ConnectTask::SubmitResolution(std::optional<bool> ipv6) {
  std::shared_ptr<ConnectTask> self = shared_from_this();
  std::shared_ptr<Resolver> resolver = env_.resolver_ref;
  absl::AnyInvocable<void()> job = [self, resolver, ipv6] {
    const ConnectRequest& r = *self->request_;
    const Family family = !ipv6.has_value() ? r.options.family
                          : *ipv6           ? Family::kIPv6
                                            : Family::kIPv4;
    // Waited its turn past the connect's end: nothing left to ask.
    absl::StatusOr<std::vector<SocketAddress>> answer =
        self->state_.done() ? CancelledError(r.target, "before resolving")
                            : resolver->Resolve(r.host, r.port, family);
    if (ipv6.has_value()) {
      self->OnRaceAnswer(*ipv6, std::move(answer));
    } else {
      self->OnAnswer(std::move(answer));
    }
  };
  return env_.resolvers->Submit(&job);
}

void ConnectTask::OnAnswer(absl::StatusOr<std::vector<SocketAddress>> answer) {
  // The Connector's parts (env_) stay valid while this is held; without
  // it, ~Connector has cancelled the socket and run its on_complete.
  std::shared_ptr<void> alive = env_.owner.lock();
  if (alive == nullptr) return;
  if (answer.ok()) answer = UsableAddresses(*request_, *std::move(answer));
  if (answer.ok()) {
    addresses_ = *std::move(answer);
  } else {
    resolve_error_ = answer.status();
  }
  if (!state_.Resolved()) {  // Orphaned: a worker only cleans up.
    Submit();
    return;
  }
  Dispatch(addresses_.empty() ? std::nullopt
                              : std::optional<SocketAddress>(addresses_[0]));
}

void ConnectTask::OnRaceAnswer(
    bool ipv6, absl::StatusOr<std::vector<SocketAddress>> answer) {
  RaceDispatch d = RecordAnswer(*race_, *request_, ipv6, std::move(answer));
  if (!d.now) return;  // The coordinator takes it from the race's state.
  std::shared_ptr<void> alive = env_.owner.lock();  // as in OnAnswer()
  if (alive == nullptr) return;
  if (!state_.Resolved()) {
    Submit();
    return;
  }
  Dispatch(d.first);
}

void ConnectTask::Dispatch(const std::optional<SocketAddress>& destination,
                           bool on_caller) {
  if (destination.has_value()) {
    line_ = *destination;
    state_.SetInLine(true);
    // Waits in line: the connect that frees a slot submits it (LeaveLine()).
    if (!env_.lines->Enter(line_, shared_from_this())) return;
    state_.SetInLine(false);
    holds_slot_ = true;
  }
  Submit(on_caller);
}

void ConnectTask::Submit(bool on_caller) {
  pooled_ = true;
  std::unique_ptr<Task> task = std::make_unique<JobTask>(shared_from_this());
  absl::Status s = env_.pool->Submit(&task);
  if (s.ok()) return;
  DropWaiting(Refused(*request_, s), on_caller);
}

void ConnectTask::DropWaiting(absl::Status status, bool on_caller) {
  if (state_.Claim()) state_.PublishFailure(std::move(status));
  LeaveLine();
  Unregister();
  if (on_caller) {  // Connect()'s thread, as documented for a full queue.
    state_.RunCallbackOnce();
    return;
  }
  // Never user code on a resolver thread or under a lock: posted (a second
  // post of an orphan's callback is a no-op); here only when that fails.
  if (!state_.PostCallback()) state_.RunCallbackOnce();
}

void ConnectTask::LeaveLine() {
  if (!holds_slot_) return;
  holds_slot_ = false;
  // A loop, not recursion: when the pool stops, every job of a long line
  // is dropped here in turn.
  for (;;) {
    std::shared_ptr<ConnectTask> next = env_.lines->Leave(line_);
    if (next == nullptr) return;
    next->state_.SetInLine(false);
    if (!next->state_.done()) {
      next->holds_slot_ = true;  // handed on by Leave()
      next->pooled_ = true;
      std::unique_ptr<Task> task = std::make_unique<JobTask>(next);
      absl::Status s = env_.pool->Submit(&task);
      if (s.ok()) return;
      next->holds_slot_ = false;  // freed by this loop instead
      next->DropWaiting(Refused(*next->request_, s));
      continue;
    }
    // Cancelled while it waited: its canceller posted on_complete.
    next->DropWaiting(absl::OkStatus());
  }
}

void ConnectTask::Run() {
  // A canceller that took the socket over (kOrphaned) posted on_complete;
  // if that post failed, it runs here, on a worker, now.
  if (state_.Claim() && !state_.done()) {
    if (pooled_ && absl::Now() >= request_->deadline) {
      // Past its deadline before it got a worker (the timer was late).
      state_.PublishFailure(WorkerDeadlineError(
          request_->target, env_.pool->workers(), env_.max_workers, false));
    } else {
      Connect();
    }
  }
  Finish();
}

void ConnectTask::Abandon() {
  // ~Connector cancelled every registered socket already, this one
  // included, unless it lost a race with Close().
  (void)state_.Claim();
  state_.Cancel(CancelledError(request_->target, "by ~Connector"));
  LeaveLine();
  Unregister();
  // On the CallbackThread (a second post of an orphan's callback is a
  // no-op); on this thread only when that cannot start.
  if (!state_.PostCallback()) state_.RunCallbackOnce();
}

void ConnectTask::Fail(absl::Status status) {
  if (!state_.Claim()) {  // kOrphaned: the canceller posted on_complete.
    Unregister();
    return;
  }
  state_.PublishFailure(std::move(status));
  Finish();
}

void ConnectTask::Unregister() {
  env_.registry->Remove(&state_);
  if (timer_id_ != 0) env_.timer->Cancel(timer_id_);
}

void ConnectTask::Finish() {
  LeaveLine();
  Unregister();
  // Last: on_complete may destroy the Connector (its registry and timer).
  state_.RunCallbackOnce();
}

void ConnectTask::Connect() {
  if (race_ != nullptr) {
    RunRace(env_, request_, socket_, state_, race_);
  } else if (!resolve_error_.ok()) {
    state_.PublishFailure(resolve_error_);
  } else {
    ConnectSerial(addresses_);
  }
}

void ConnectTask::ConnectSerial(const std::vector<SocketAddress>& addresses) {
  for (const SocketAddress& address : addresses) {
    if (PublishIfPastDeadline(*request_, state_)) return;
    if (RunAttempt(env_, *request_, state_, address,
                   state_.StartAttempt(address))) {
      return;
    }
  }
  PublishFailed(*request_, state_);  // A no-op if cancelled meanwhile.
}

}  // namespace internal
}  // namespace tether
