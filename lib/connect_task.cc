#include "lib/connect_task.h"

#include <utility>

#include "lib/attempt.h"
#include "lib/connect_errors.h"
#include "lib/happy_eyeballs.h"
#include "lib/registry.h"
#include "lib/timer.h"

namespace tether {
namespace internal {

ConnectTask::ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
                         ConnectState& state,
                         std::shared_ptr<const ConnectRequest> request,
                         uint64_t timer_id)
    : env_(env),
      socket_(std::move(socket)),
      request_(std::move(request)),
      state_(state),
      timer_id_(timer_id) {}

void ConnectTask::Run() {
  // A canceller that took the socket over (kOrphaned) posted on_complete;
  // if that post failed, it runs here, on a worker, now.
  if (state_.Claim() && !state_.done()) Connect();
  Finish();
}

void ConnectTask::Abandon() {
  // ~Connector cancelled every registered socket already, this one
  // included, unless it lost a race with Close().
  Fail(CancelledError(request_->target, "by ~Connector"));
}

void ConnectTask::Fail(absl::Status status) {
  (void)state_.Claim();
  state_.Cancel(std::move(status));
  Unregister();
  // On the CallbackThread (a second post of an orphan's callback is a
  // no-op); on this thread only when that cannot start.
  if (!state_.PostCallback()) state_.RunCallbackOnce();
}

void ConnectTask::Reject(absl::Status status) {
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
  Unregister();
  // Last: on_complete may destroy the Connector (its registry and timer).
  state_.RunCallbackOnce();
}

void ConnectTask::Connect() {
  const ConnectRequest& request = *request_;
  if (request.address.has_value()) {
    ConnectSerial({*request.address});
    return;
  }
  if (request.races()) {
    ResolveAndRace(env_, request_, socket_, state_);
    return;
  }
  state_.SetResolving(true);
  absl::StatusOr<std::vector<SocketAddress>> addresses = env_.resolver->Resolve(
      request.host, request.port, request.options.family);
  state_.SetResolving(false);
  if (addresses.ok())
    addresses = UsableAddresses(request, *std::move(addresses));
  if (!addresses.ok()) {
    state_.PublishFailure(addresses.status());
    return;
  }
  ConnectSerial(*addresses);
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
