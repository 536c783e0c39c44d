#include "tether/connector.h"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/connect_state.h"
#include "lib/connect_worker.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"
#include "lib/system_resolver.h"
#include "lib/thread.h"
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
// ~Connector joins a pool this small itself; a larger one exits after it
// returns (issue 17).
constexpr int kJoinAtMost = 64;

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
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be ", zero_ok ? "non-negative" : "positive",
                   ", got ", absl::FormatDuration(d)));
}

// Validates `options` and fills `request`'s local and timing fields.
absl::Status CheckOptions(const ConnectOptions& options,
                          ConnectRequest* request) {
  absl::Status s =
      CheckDuration("attempt_timeout", options.attempt_timeout, false);
  if (s.ok()) s = CheckDuration("timeout", options.timeout, false);
  if (s.ok()) {
    s = CheckDuration("happy_eyeballs_delay", options.happy_eyeballs_delay,
                      true);
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
    return absl::InvalidArgumentError(
        absl::StrCat("local_address ", Quote(options.local_address),
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
        core_(std::make_shared<ConnectorCore>(options_.socket_ops,
                                              options_.worker_stack_size)),
        timer_(options_.socket_ops, kTimerStack),
        pool_(WorkerPool::Options{options_.max_workers,
                                  options_.worker_stack_size, kMaxQueued,
                                  options_.socket_ops}),
        env_{&pool_,
             &timer_,
             options_.resolver.get(),
             options_.socket_ops,
             &core_->counters,
             &registry_} {}

  // ~Connector, part 1: from now on every Connect() fails with kCancelled;
  // stops the timer, cancels every pending connect (queued ones included),
  // waits for the workers but the calling thread (or, for a pool of more
  // than kJoinAtMost, only tells them to exit: `self` is kept until they
  // are woken), then for the callbacks posted to the CallbackThread and
  // every on_complete still owed.
  void Shutdown(const std::shared_ptr<ConnectorImpl>& self);
  // Makes a ConnectorImpl owned by the Connector and by every Connect() or
  // ConnectAndWait() call in progress (a call's socket may complete, and
  // its on_complete destroy the Connector, before the call returns).
  static std::shared_ptr<ConnectorImpl> Create(ConnectorOptions options);

  // Starts a connect on a worker. With `inline_ok`, runs it on the calling
  // thread instead when the host resolves without blocking (ConnectAndWait:
  // the caller blocks anyway, so a hand-off would only add latency).
  std::shared_ptr<Socket> Connect(absl::string_view host, uint16_t port,
                                  ConnectOptions options, bool inline_ok);
  ConnectorStats stats() const;

 private:
  std::shared_ptr<Socket> NewSocket(ConnectOptions& options);
  // Completes `socket` with `status` and runs its on_complete on this
  // thread, unless a canceller took it over. Returns `socket`.
  std::shared_ptr<Socket> Fail(std::shared_ptr<Socket> socket,
                               absl::Status status);
  // Takes one of max_queued slots; false when none is left.
  bool ReserveSlot();
  uint64_t ScheduleDeadline(const std::shared_ptr<Socket>& socket,
                            const ConnectRequest& request);
  void ScheduleReaper();
  void Reap();

  const ConnectorOptions options_;
  const std::shared_ptr<ConnectorCore> core_;  // shared with every Socket
  Registry registry_;
  Timer timer_;
  // Destroyed before the timer, registry and core: ~WorkerPool may still
  // have to join the worker that called Shutdown(), which uses only it.
  WorkerPool pool_;
  const ConnectEnv env_;
  // Set once by Shutdown(); relaxed: a fast path only, the Registry's
  // mutex is what orders a Connect() against CancelAll().
  std::atomic<bool> closing_{false};
  // Whether Reap() is scheduled; exchange so only one schedule is live.
  std::atomic<bool> reaper_scheduled_{false};
  int idle_at_last_reap_ = 0;  // only Reap() (the timer thread) uses it
};

namespace {
absl::Status ShuttingDown() {
  return CancelledStatus("connector is shutting down");
}
}  // namespace

void ConnectorImpl::Shutdown(const std::shared_ptr<ConnectorImpl>& self) {
  closing_.store(true, std::memory_order_relaxed);
  timer_.Stop();  // No deadline or reaping from now on.
  // Issue 17: ~Connector publishes kCancelled for every pending socket and
  // returns; the workers wake and exit afterwards, and ~WorkerPool joins
  // them when the last reference to this ConnectorImpl goes (Create()).
  // Not with caller-owned SocketOps, which the workers still call on their
  // way out, nor on a worker (it joins the others, as before), nor for a
  // small pool (joined at once, as before: a few hundred µs at most).
  const bool join = options_.socket_ops != SocketOps::Default() ||
                    pool_.OnWorkerThread() || pool_.workers() <= kJoinAtMost;
  // Waking the connects in flight is one eventfd write, but the kernel
  // wakes each poller inside it (about 14 µs each here: 135 ms for 10,000),
  // so a thread of its own makes it.
  registry_.CancelAll(/*wake=*/join);  // Queued ones orphan.
  if (join) {
    pool_.Shutdown();         // Joins every worker but this thread.
    core_->callbacks.Stop();  // Runs what was posted; joins (or detaches).
    return;
  }
  pool_.Stop();
  core_->callbacks.Stop();
  // The waker waits until this thread is done: 10,000 runnable workers on
  // 2 CPUs would otherwise hold it up for 100 - 200 ms (measured).
  struct Go {
    Mutex mu;
    CondVar cv{&mu};
    bool go ABSL_GUARDED_BY(mu) = false;
  };
  auto go = std::make_shared<Go>();
  absl::StatusOr<pthread_t> waker =
      StartThread(options_.socket_ops, kMinStack, [self, go] {
        // Lowest priority (this thread only): waking it must not preempt
        // the thread leaving ~Connector.
        setpriority(PRIO_PROCESS, 0, 19);
        {
          MutexLock lock(&go->mu);
          while (!go->go) go->cv.Wait();
        }
        self->registry_.Wake();
      });
  if (waker.ok()) {
    pthread_detach(*waker);
    {
      MutexLock lock(&go->mu);
      go->go = true;
    }
    go->cv.Signal();
  } else {
    registry_.Wake();
  }
  // Callbacks of cancelled sockets run on their woken workers.
  core_->WaitForCallbacks();
}

std::shared_ptr<ConnectorImpl> ConnectorImpl::Create(ConnectorOptions options) {
  // The last reference may drop on a worker of the pool (an on_complete
  // that destroys the Connector): ~WorkerPool then has to join that very
  // thread and free its stack, so another thread deletes it.
  return std::shared_ptr<ConnectorImpl>(
      new ConnectorImpl(std::move(options)), [](ConnectorImpl* impl) {
        // Workers still exiting (~Connector did not wait for them): joined
        // on a thread of their own, so the last owner does not wait either.
        const bool on_worker = impl->pool_.OnWorkerThread();
        if (!on_worker && impl->pool_.workers() == 0) {
          delete impl;
          return;
        }
        absl::StatusOr<pthread_t> t = StartThread(
            impl->options_.socket_ops, impl->options_.worker_stack_size,
            [impl] { delete impl; });
        if (t.ok()) {
          pthread_detach(*t);
          return;
        }
        if (!on_worker) {  // out of threads: join here instead
          delete impl;
          return;
        }
        // The system is out of threads: never free the pool under this
        // thread; its memory stays allocated instead.
        std::fputs(
            "tether: ~Connector inside on_complete could not start a thread "
            "to finish; the Connector's memory is not freed\n",
            stderr);
      });
}

std::shared_ptr<Socket> ConnectorImpl::NewSocket(ConnectOptions& options) {
  auto socket = std::make_shared<Socket>(SocketKey{});
  socket->state_ = std::make_unique<ConnectState>(
      socket, options_.socket_ops, core_, std::move(options.on_complete),
      std::move(options.completion_queue));
  return socket;
}

std::shared_ptr<Socket> ConnectorImpl::Fail(std::shared_ptr<Socket> socket,
                                            absl::Status status) {
  ConnectState& state = *socket->state_;
  if (state.Claim()) {
    state.PublishFailure(std::move(status));  // Counted there.
    registry_.Remove(&state);
    // On the caller's thread, as documented. Last: it may destroy the
    // Connector.
    state.RunCallbackOnce();
  }
  return socket;
}

bool ConnectorImpl::ReserveSlot() {
  // relaxed: a bound on memory, not ordering anything else.
  std::atomic<uint64_t>& queued = core_->counters.queued;
  if (queued.fetch_add(1, std::memory_order_relaxed) < options_.max_queued) {
    return true;
  }
  queued.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

std::shared_ptr<Socket> ConnectorImpl::Connect(absl::string_view host,
                                               uint16_t port,
                                               ConnectOptions options,
                                               bool inline_ok) {
  core_->counters.submitted.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Socket> socket = NewSocket(options);
  if (closing_.load(std::memory_order_relaxed)) {
    return Fail(std::move(socket), ShuttingDown());
  }
  ConnectRequest request;
  absl::Status valid = CheckHost(host);
  if (valid.ok() && port == 0) {
    valid =
        absl::InvalidArgumentError("port 0 is not a valid destination port");
  }
  if (valid.ok()) valid = CheckOptions(options, &request);
  if (!valid.ok()) return Fail(std::move(socket), std::move(valid));
  request.host = std::string(host);
  request.port = port;
  request.family = options.family;
  request.local_port = options.local_port;
  request.attempt_timeout = options.attempt_timeout;
  request.deadline = absl::Now() + options.timeout;
  request.happy_eyeballs_delay = options.happy_eyeballs_delay;
  request.tcp_nodelay = options.tcp_nodelay;
  ConnectState& state = *socket->state_;
  const bool here = inline_ok && ResolvesInstantly(*options_.resolver, host);
  if (!here) {
    if (!ReserveSlot()) {
      return Fail(std::move(socket),
                  absl::ResourceExhaustedError(
                      absl::StrCat("too many queued connects (max_queued ",
                                   options_.max_queued, ")")));
    }
    state.MarkQueued();
  }
  // From here ~Connector cancels it (and Close() or the deadline may).
  if (!registry_.Add(&state)) return Fail(std::move(socket), ShuttingDown());
  uint64_t timer_id = ScheduleDeadline(socket, request);
  if (timer_id == 0 && request.deadline != absl::InfiniteFuture()) {
    return Fail(std::move(socket),
                closing_.load(std::memory_order_relaxed)
                    ? ShuttingDown()
                    : absl::ResourceExhaustedError(
                          "cannot start the timer thread for the timeout"));
  }
  auto task =
      std::make_unique<ConnectTask>(env_, socket, std::move(request), &state);
  task->set_timer_id(timer_id);
  if (here) {
    task->Run();  // Interruptible by Close(), the deadline and ~Connector.
    return socket;
  }
  std::unique_ptr<Task> base = std::move(task);
  absl::Status queued = pool_.Submit(&base);
  if (!queued.ok()) {
    if (timer_id != 0) timer_.Cancel(timer_id);
    return Fail(std::move(socket), queued.code() == absl::StatusCode::kCancelled
                                       ? ShuttingDown()
                                       : std::move(queued));
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
    // Publishes on time even if the worker is stuck, and nothing more:
    // on_complete runs on the socket's worker, or on the CallbackThread
    // when no worker has it (ConnectState::HandOverCallback()), never here.
    if (std::shared_ptr<Socket> s = weak.lock()) s->state_->Cancel(status);
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
  const Counters& c = core_->counters;
  ConnectorStats s;
  s.submitted = c.submitted.load(kRelaxed);
  s.connected = c.connected.load(kRelaxed);
  s.failed = c.failed.load(kRelaxed);
  s.cancelled = c.cancelled.load(kRelaxed);
  s.attempts = c.attempts.load(kRelaxed);
  uint64_t completed = c.completed.load(kRelaxed);
  s.in_flight = s.submitted > completed ? s.submitted - completed : 0;
  s.workers = static_cast<uint64_t>(pool_.workers());
  return s;
}

}  // namespace internal

Connector::Connector(ConnectorOptions options)
    : impl_(internal::ConnectorImpl::Create(std::move(options))) {}

Connector::~Connector() {
  // impl_ stays valid while callbacks run: one may call Connect().
  impl_->Shutdown(impl_);
}

std::shared_ptr<Socket> Connector::Connect(absl::string_view host,
                                           uint16_t port,
                                           ConnectOptions options) {
  // A reference for the call: see ConnectorImpl::Create().
  std::shared_ptr<internal::ConnectorImpl> impl = impl_;
  return impl->Connect(host, port, std::move(options), /*inline_ok=*/false);
}

absl::StatusOr<std::shared_ptr<Socket>> Connector::ConnectAndWait(
    absl::string_view host, uint16_t port, ConnectOptions options) {
  std::shared_ptr<Socket> socket;
  {
    std::shared_ptr<internal::ConnectorImpl> impl = impl_;  // for the call
    socket = impl->Connect(host, port, std::move(options), /*inline_ok=*/true);
  }
  while (!socket->Wait(absl::InfiniteDuration())) {
  }
  if (!socket->error().ok()) return socket->error();
  return socket;
}

ConnectorStats Connector::stats() const { return impl_->stats(); }

}  // namespace tether
