// lib/happy_eyeballs.cc: racing a host's addresses (RFC 8305).
//
// How the race works. The ConnectTask (1) starts one resolution per family
// on the resolver pool, never on a worker (issue 14); the first answer with
// usable addresses (or the second answer) hands the coordinator to a
// worker, which absorbs the other family's answer whenever it arrives
// (section 3: an IPv6 answer starts connecting at once; an IPv4 answer
// first waits up to the 50 ms Resolution Delay for IPv6). The coordinator
// (2) orders the
// addresses by alternating families, IPv6 first (section 4), and (3) starts
// the first address at once and each next one when the previous attempt
// failed or the Connection Attempt Delay (happy_eyeballs_delay) passed
// without a result (section 5). Each attempt runs on its own worker
// (RunAttempt, lib/attempt.h: a non-blocking connect() and a poll() that
// blocks that worker). The first to connect publishes the socket and shuts
// down the others' descriptors, which wakes their poll() calls.
//
// The coordinator sleeps on a Waiter that fires when an answer or an
// attempt result arrives, and when the socket is published (connected,
// cancelled, or past its deadline). It only reads the race's shared state
// under Race::mu_. When the pool cannot start a worker at once, the
// coordinator does the work itself (the race degrades to one at a time).

#include "lib/happy_eyeballs.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "lib/attempt.h"
#include "lib/mutex.h"
#include "lib/worker_pool.h"

namespace tether {
namespace internal {
namespace {

constexpr absl::Duration kResolutionDelay = absl::Milliseconds(50);
constexpr int kV6 = 0;
constexpr int kV4 = 1;

}  // namespace

// State shared by the coordinator, its sub-tasks and the resolutions.
struct RaceShared {
  Waiter wake;  // fired by sub-tasks and by publication
  Mutex mu;
  std::optional<absl::StatusOr<std::vector<SocketAddress>>>
      answers[2] ABSL_GUARDED_BY(mu);
  absl::Time answered_at[2] ABSL_GUARDED_BY(mu);
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  bool dispatched ABSL_GUARDED_BY(mu) = false;  // the coordinator is handed on
};

namespace {

// A resolution or an attempt of a race, run on a worker. `fn` gets false
// when the pool stops before running it: it must then only report back to
// the coordinator, never block.
class SubTask final : public Task {
 public:
  explicit SubTask(absl::AnyInvocable<void(bool run)> fn)
      : fn_(std::move(fn)) {}
  void Run() override { fn_(true); }
  void Abandon() override { fn_(false); }

 private:
  absl::AnyInvocable<void(bool run)> fn_;
};

class Race {
 public:
  Race(const ConnectEnv& env, std::shared_ptr<const ConnectRequest> request,
       std::shared_ptr<Socket> socket, ConnectState& state,
       std::shared_ptr<RaceShared> shared)
      : env_(env),
        request_ptr_(std::move(request)),
        request_(*request_ptr_),
        socket_(std::move(socket)),
        state_(state),
        shared_(std::move(shared)) {}

  void Run();

 private:
  // Records the attempt (its start time counts from now, before the
  // hand-off to a worker) and starts it. Returns its start time.
  absl::Time StartAttempt(const SocketAddress& address);
  void Spawn(absl::AnyInvocable<void(bool run)> fn);
  // Moves new answers into the queues; returns when to look again.
  absl::Time Absorb(absl::Time now);
  std::optional<SocketAddress> Next();
  bool ResolutionDone() const;
  void Fail();

  const ConnectEnv& env_;
  const std::shared_ptr<const ConnectRequest> request_ptr_;  // for attempts
  const ConnectRequest& request_;
  const std::shared_ptr<Socket> socket_;
  ConnectState& state_;
  const std::shared_ptr<RaceShared> shared_;

  // Coordinator-only state.
  std::deque<SocketAddress> queue_[2];
  bool absorbed_[2] = {false, false};
  std::optional<absl::Status> resolve_error_[2];
  int last_family_ = kV4;  // so that IPv6 goes first
  int in_flight_ = 0;      // copy of shared_->in_flight
};

void Race::Run() {
  if (!state_.AddWaiter(&shared_->wake)) return;
  absl::Time next_start = absl::InfinitePast();
  while (!PublishIfPastDeadline(request_, state_)) {
    const absl::Time now = absl::Now();
    absl::Time wake = std::min(Absorb(now), request_.deadline);
    if (in_flight_ == 0 || now >= next_start) {
      if (std::optional<SocketAddress> a = Next()) {
        next_start = StartAttempt(*a) + request_.options.happy_eyeballs_delay;
        continue;
      }
      if (in_flight_ == 0 && ResolutionDone()) {
        Fail();
        break;
      }
    }
    if (in_flight_ > 0 && (!queue_[kV6].empty() || !queue_[kV4].empty())) {
      wake = std::min(wake, next_start);
    }
    shared_->wake.WaitUntil(wake);
  }
  state_.RemoveWaiter(&shared_->wake);
}

absl::Time Race::StartAttempt(const SocketAddress& address) {
  const absl::Time start = absl::Now();
  const size_t attempt = state_.StartAttempt(address, start);
  {
    MutexLock lock(&shared_->mu);
    in_flight_ = ++shared_->in_flight;
  }
  std::shared_ptr<RaceShared> shared = shared_;
  std::shared_ptr<Socket> socket = socket_;
  ConnectEnv env = env_;
  std::shared_ptr<const ConnectRequest> request = request_ptr_;
  ConnectState* state = &state_;
  Spawn([shared, socket, env, request, state, address, attempt](bool run) {
    // Never started (the pool stops): ~Connector published kCancelled
    // before, which ended this attempt as kCancelled (issue 12, item 12).
    if (run) RunAttempt(env, *request, *state, address, attempt);
    {
      MutexLock lock(&shared->mu);
      --shared->in_flight;
    }
    shared->wake.Fire();
  });
  return start;
}

void Race::Spawn(absl::AnyInvocable<void(bool run)> fn) {
  std::unique_ptr<Task> task = std::make_unique<SubTask>(std::move(fn));
  const absl::Status s = env_.pool->Submit(&task, /*only_if_idle=*/true);
  if (s.ok()) return;
  // No idle worker: the coordinator does it itself; the pool stops: it
  // never will.
  if (s.code() == absl::StatusCode::kCancelled) {
    task->Abandon();
  } else {
    task->Run();
  }
}

absl::Time Race::Absorb(absl::Time now) {
  MutexLock lock(&shared_->mu);
  in_flight_ = shared_->in_flight;
  for (int f : {kV6, kV4}) {
    if (absorbed_[f] || !shared_->answers[f].has_value()) continue;
    // RFC 8305 section 3: an IPv4 answer waits for IPv6 a little.
    if (f == kV4 && !absorbed_[kV6] &&
        now < shared_->answered_at[kV4] + kResolutionDelay &&
        shared_->answered_at[kV4] != absl::Time()) {
      return shared_->answered_at[kV4] + kResolutionDelay;
    }
    absorbed_[f] = true;
    auto& answer = *shared_->answers[f];
    if (!answer.ok()) {
      resolve_error_[f] = answer.status();
      continue;
    }
    absl::StatusOr<std::vector<SocketAddress>> usable =
        UsableAddresses(request_, *answer);
    if (!usable.ok()) continue;
    for (const SocketAddress& a : *usable) {
      queue_[a.family() == AF_INET6 ? kV6 : kV4].push_back(a);
    }
  }
  return absl::InfiniteFuture();
}

std::optional<SocketAddress> Race::Next() {
  int f = 1 - last_family_;  // RFC 8305 section 4: alternate families.
  if (queue_[f].empty()) f = 1 - f;
  if (queue_[f].empty()) return std::nullopt;
  SocketAddress a = queue_[f].front();
  queue_[f].pop_front();
  last_family_ = f;
  return a;
}

bool Race::ResolutionDone() const { return absorbed_[kV6] && absorbed_[kV4]; }

void Race::Fail() {
  if (!state_.attempts().empty()) {
    PublishFailed(request_, state_);
    return;
  }
  if (PublishIfPastDeadline(request_, state_)) return;
  // Nothing to try: report the resolution failure (IPv4's first).
  for (int f : {kV4, kV6}) {
    if (resolve_error_[f].has_value()) {
      state_.PublishFailure(*resolve_error_[f]);
      return;
    }
  }
  // Both families answered, with nothing usable.
  state_.PublishFailure(UsableAddresses(request_, {}).status());
}

}  // namespace

std::shared_ptr<RaceShared> NewRace() { return std::make_shared<RaceShared>(); }

RaceDispatch RecordAnswer(RaceShared& race, const ConnectRequest& request,
                          bool ipv6,
                          absl::StatusOr<std::vector<SocketAddress>> answer) {
  const int family = ipv6 ? kV6 : kV4;
  RaceDispatch d;
  std::optional<SocketAddress> first;
  if (answer.ok()) {
    absl::StatusOr<std::vector<SocketAddress>> usable =
        UsableAddresses(request, *answer);
    if (usable.ok() && !usable->empty()) first = usable->front();
  }
  {
    MutexLock lock(&race.mu);
    race.answers[family] = std::move(answer);
    race.answered_at[family] = absl::Now();
    const bool both =
        race.answers[kV6].has_value() && race.answers[kV4].has_value();
    if (!race.dispatched && (first.has_value() || both)) {
      race.dispatched = true;
      d.now = true;
      d.first = std::move(first);
    }
  }
  race.wake.Fire();
  return d;
}

void RunRace(const ConnectEnv& env,
             const std::shared_ptr<const ConnectRequest>& request,
             const std::shared_ptr<Socket>& socket, ConnectState& state,
             const std::shared_ptr<RaceShared>& race) {
  Race coordinator(env, request, socket, state, race);
  coordinator.Run();
}

}  // namespace internal
}  // namespace tether
