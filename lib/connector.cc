#include "tether/connector.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/connect_state.h"
#include "lib/connect_worker.h"
#include "lib/socket_ops.h"
#include "lib/system_resolver.h"
#include "lib/timer.h"
#include "lib/worker_pool.h"

namespace tether {
namespace internal {
namespace {

constexpr size_t kMaxHostLength = 255;
// tbb::concurrent_bounded_queue takes a ptrdiff_t capacity; far more than
// any process can hold anyway.
constexpr size_t kMaxQueued = size_t{1} << 30;
constexpr size_t kMinStack = 64 * 1024;
constexpr size_t kTimerStack = 128 * 1024;

// `value`, quoted and escaped, cut to 64 bytes: safe to put in a message.
std::string Quote(absl::string_view value) {
  std::string q = absl::CEscape(value.substr(0, 64));
  return absl::StrCat("\"", q, value.size() > 64 ? "...\"" : "\"");
}

absl::Status CheckHost(absl::string_view host) {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  if (host.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("host contains a NUL byte: ", Quote(host)));
  }
  if (host.size() > kMaxHostLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("host is too long (", host.size(), " bytes, at most ",
                     kMaxHostLength, "): ", Quote(host)));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view name, absl::Duration d,
                           bool zero_ok) {
  if (d > absl::ZeroDuration() || (zero_ok && d == absl::ZeroDuration())) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      name, " must be ", zero_ok ? "non-negative" : "positive", ", got ",
      absl::FormatDuration(d)));
}

// Validates `options` and fills `request`'s local and timing fields.
absl::Status CheckOptions(const ConnectOptions& options,
                          ConnectRequest* request) {
  absl::Status s = CheckDuration("attempt_timeout", options.attempt_timeout, false);
  if (s.ok()) s = CheckDuration("timeout", options.timeout, false);
  if (s.ok()) {
    s = CheckDuration("happy_eyeballs_delay", options.happy_eyeballs_delay, true);
  }
  if (!s.ok() || options.local_address.empty()) return s;
  absl::StatusOr<SocketAddress> local =
      SocketAddress::Parse(options.local_address, options.local_port);
  if (!local.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad local_address ", Quote(options.local_address),
                     ": not a numeric IP address"));
  }
  if ((options.family == Family::kIPv4 && local->family() != AF_INET) ||
      (options.family == Family::kIPv6 && local->family() != AF_INET6)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "local_address ", Quote(options.local_address),
        " does not match the requested family"));
  }
  request->local_address = *local;
  return absl::OkStatus();
}

ConnectorOptions Clamp(ConnectorOptions o) {
  o.max_workers = std::max(o.max_workers, 1);
  o.worker_stack_size = std::max(o.worker_stack_size, kMinStack);
  o.max_queued = std::clamp<size_t>(o.max_queued, 1, kMaxQueued);
  if (o.worker_idle_timeout <= absl::ZeroDuration()) {
    o.worker_idle_timeout = absl::Milliseconds(1);
  }
  if (o.socket_ops == nullptr) o.socket_ops = SocketOps::Default();
  if (o.resolver == nullptr) {
    o.resolver = o.socket_ops == SocketOps::Default()
                     ? Resolver::Default()
                     : NewSystemResolver(o.socket_ops);
  }
  return o;
}

}  // namespace

class ConnectorImpl {
 public:
  explicit ConnectorImpl(ConnectorOptions options)
      : options_(Clamp(std::move(options))),
        pool_(WorkerPool::Options{options_.max_workers,
                                  options_.worker_stack_size,
                                  options_.max_queued, options_.socket_ops}),
        timer_(options_.socket_ops, kTimerStack),
        env_{&pool_,
             &timer_,
             options_.resolver.get(),
             options_.socket_ops,
             &counters_,
             &registry_} {}

  ~ConnectorImpl() {
    registry_.CancelAll();  // Running connects; queued ones abandon.
    timer_.Stop();          // No reaping from now on.
    pool_.Shutdown();       // Drains the queue, joins every worker.
  }

  // Starts a connect on a worker. With `run_here`, runs it on the calling
  // thread instead when the host resolves without blocking (ConnectAndWait:
  // the caller blocks anyway, so a hand-off would only add latency).
  std::shared_ptr<Socket> Connect(absl::string_view host, uint16_t port,
                                  ConnectOptions options, bool run_here);
  ConnectorStats stats() const;

 private:
  std::shared_ptr<Socket> NewSocket(ConnectOptions& options);
  void CompleteNow(Socket& socket, absl::Status status);
  uint64_t ScheduleDeadline(const std::shared_ptr<Socket>& socket,
                            const ConnectRequest& request);
  void ScheduleReaper();
  void Reap();

  const ConnectorOptions options_;
  WorkerPool pool_;
  Timer timer_;
  Counters counters_;
  Registry registry_;
  const ConnectEnv env_;
  // Whether Reap() is scheduled; exchange so only one schedule is live.
  std::atomic<bool> reaper_scheduled_{false};
  int idle_at_last_reap_ = 0;  // only Reap() (the timer thread) uses it
};

std::shared_ptr<Socket> ConnectorImpl::NewSocket(ConnectOptions& options) {
  auto socket = std::make_shared<Socket>(SocketKey{});
  socket->state_ = std::make_unique<ConnectState>(
      socket.get(), options_.socket_ops, &counters_,
      std::move(options.on_complete));
  return socket;
}

void ConnectorImpl::CompleteNow(Socket& socket, absl::Status status) {
  socket.state_->PublishFailure(std::move(status));  // Counted there.
  socket.state_->RunCallbackOnce();  // On the caller's thread, as documented.
}

std::shared_ptr<Socket> ConnectorImpl::Connect(absl::string_view host,
                                               uint16_t port,
                                               ConnectOptions options,
                                               bool run_here) {
  counters_.submitted.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Socket> socket = NewSocket(options);
  ConnectRequest request;
  absl::Status valid = CheckHost(host);
  if (valid.ok() && port == 0) {
    valid = absl::InvalidArgumentError(
        "port 0 is not a valid destination port");
  }
  if (valid.ok()) valid = CheckOptions(options, &request);
  if (!valid.ok()) {
    CompleteNow(*socket, std::move(valid));
    return socket;
  }
  request.host = std::string(host);
  request.port = port;
  request.family = options.family;
  request.local_port = options.local_port;
  request.attempt_timeout = options.attempt_timeout;
  request.deadline = absl::Now() + options.timeout;
  request.happy_eyeballs_delay = options.happy_eyeballs_delay;
  request.tcp_nodelay = options.tcp_nodelay;
  uint64_t timer_id = ScheduleDeadline(socket, request);
  if (timer_id == 0 && request.deadline != absl::InfiniteFuture()) {
    CompleteNow(*socket, absl::ResourceExhaustedError(
                             "cannot start the timer thread for the timeout"));
    return socket;
  }
  auto task = std::make_unique<ConnectTask>(env_, socket, std::move(request),
                                            socket->state_.get());
  task->set_timer_id(timer_id);
  if (run_here && ResolvesInstantly(*options_.resolver, host)) {
    task->Run();  // Interruptible by Close(), the deadline and ~Connector.
    return socket;
  }
  std::unique_ptr<Task> base = std::move(task);
  absl::Status queued = pool_.Submit(&base);
  if (!queued.ok()) {
    if (timer_id != 0) timer_.Cancel(timer_id);
    CompleteNow(*socket, std::move(queued));
    return socket;
  }
  ScheduleReaper();
  return socket;
}

uint64_t ConnectorImpl::ScheduleDeadline(const std::shared_ptr<Socket>& socket,
                                         const ConnectRequest& request) {
  if (request.deadline == absl::InfiniteFuture()) return 0;
  std::weak_ptr<Socket> weak = socket;
  absl::Status status = DeadlineStatus(request);
  return timer_.Schedule(request.deadline, [weak, status] {
    std::shared_ptr<Socket> s = weak.lock();
    // Publishes on time even if the worker is stuck; the worker cleans up
    // when it returns.
    if (s != nullptr && s->state_->Cancel(status)) s->state_->RunCallbackOnce();
  });
}

void ConnectorImpl::ScheduleReaper() {
  // relaxed pre-check keeps the common path to one load.
  if (reaper_scheduled_.load(std::memory_order_relaxed) ||
      reaper_scheduled_.exchange(true, std::memory_order_relaxed)) {
    return;
  }
  if (timer_.Schedule(absl::Now() + options_.worker_idle_timeout,
                      [this] { Reap(); }) == 0) {
    reaper_scheduled_.store(false, std::memory_order_relaxed);
  }
}

void ConnectorImpl::Reap() {
  // Workers idle now and at the last look have been idle for about one
  // period: retire that many.
  int idle = pool_.idle();
  pool_.RetireIdle(std::min(idle, idle_at_last_reap_));
  idle_at_last_reap_ = pool_.idle();
  if (pool_.workers() == 0) {
    reaper_scheduled_.store(false, std::memory_order_relaxed);
    return;
  }
  timer_.Schedule(absl::Now() + options_.worker_idle_timeout,
                  [this] { Reap(); });
}

ConnectorStats ConnectorImpl::stats() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  ConnectorStats s;
  s.submitted = counters_.submitted.load(kRelaxed);
  s.connected = counters_.connected.load(kRelaxed);
  s.failed = counters_.failed.load(kRelaxed);
  s.cancelled = counters_.cancelled.load(kRelaxed);
  s.attempts = counters_.attempts.load(kRelaxed);
  uint64_t completed = counters_.completed.load(kRelaxed);
  s.in_flight = s.submitted > completed ? s.submitted - completed : 0;
  s.workers = static_cast<uint64_t>(pool_.workers());
  return s;
}

}  // namespace internal

Connector::Connector(ConnectorOptions options)
    : impl_(std::make_unique<internal::ConnectorImpl>(std::move(options))) {}

Connector::~Connector() = default;

std::shared_ptr<Socket> Connector::Connect(absl::string_view host,
                                           uint16_t port,
                                           ConnectOptions options) {
  return impl_->Connect(host, port, std::move(options), /*run_here=*/false);
}

absl::StatusOr<std::shared_ptr<Socket>> Connector::ConnectAndWait(
    absl::string_view host, uint16_t port, ConnectOptions options) {
  std::shared_ptr<Socket> socket =
      impl_->Connect(host, port, std::move(options), /*run_here=*/true);
  while (!socket->Wait(absl::InfiniteDuration())) {
  }
  if (!socket->error().ok()) return socket->error();
  return socket;
}

ConnectorStats Connector::stats() const { return impl_->stats(); }

}  // namespace tether
