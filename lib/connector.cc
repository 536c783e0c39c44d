#include "tether/connector.h"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/connect_errors.h"
#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "lib/connect_task.h"
#include "lib/destination_lines.h"
#include "lib/mutex.h"
#include "lib/registry.h"
#include "lib/resolver_pool.h"
#include "lib/socket_ops.h"
#include "lib/system_resolver.h"
#include "lib/thread.h"
#include "lib/timer.h"
#include "lib/worker_pool.h"

namespace tether {
namespace internal {
namespace {

// tbb::concurrent_bounded_queue takes a ptrdiff_t capacity; far more than
// any process can hold anyway.
constexpr size_t kMaxQueued = size_t{1} << 30;
constexpr size_t kMinStack = 64 * 1024;
constexpr size_t kTimerStack = 128 * 1024;
// ~Connector joins a pool this small itself; a larger one exits after it
// returns (issue 17).
constexpr int kJoinAtMost = 64;
// Under AddressSanitizer every pool is joined: a process that exits while a
// large pool is still being torn down on a detached thread would show its
// queue's pages as leaked to LeakSanitizer.
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
constexpr bool kSanitizerJoins = true;
#else
constexpr bool kSanitizerJoins = false;
#endif
// getaddrinfo() runs NSS modules (files, dns, mdns, systemd, ...), whose
// stack use is not ours to bound: more than a worker's 256 KiB default.
// Only touched pages cost memory; 64 stuck resolvers reserve 32 MiB.
constexpr size_t kResolverStack = 512 * 1024;

// A resolver thread blocks in getaddrinfo(); far more than any server asks.
constexpr int kMaxResolvers = 4096;

// One destination may hold at most this many workers: 3/4 of them (at least
// one), so a small pool still has workers for the others.
int DestinationShare(int max_workers) {
  return std::max(1, max_workers - max_workers / 4);
}

ConnectorOptions Clamp(ConnectorOptions o) {
  o.max_workers = std::max(o.max_workers, 1);
  o.max_resolvers = std::clamp(o.max_resolvers, 1, kMaxResolvers);
  o.max_pending_per_destination = std::clamp(o.max_pending_per_destination, 1,
                                             DestinationShare(o.max_workers));
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

// Whether a numeric host skips the resolver: with the default resolver,
// which would only echo it back.
bool NumericSkipsResolver(const ConnectorOptions& o) {
  return o.resolver == nullptr || o.resolver == Resolver::Default();
}

}  // namespace

class ConnectorImpl {
 public:
  explicit ConnectorImpl(ConnectorOptions options)
      : numeric_skips_resolver_(NumericSkipsResolver(options)),
        options_(Clamp(std::move(options))),
        core_(std::make_shared<ConnectorCore>(options_.socket_ops,
                                              options_.worker_stack_size)),
        registry_(options_.socket_ops),
        timer_(options_.socket_ops, kTimerStack),
        resolvers_(options_.socket_ops, kResolverStack, options_.max_resolvers),
        lines_(options_.max_pending_per_destination),
        pool_(WorkerPool::Options{options_.max_workers,
                                  options_.worker_stack_size, kMaxQueued,
                                  options_.socket_ops}),
        env_{&pool_,
             &timer_,
             options_.resolver.get(),
             options_.socket_ops,
             &core_->counters,
             &registry_,
             &resolvers_,
             &lines_,
             options_.resolver,
             {},
             options_.max_workers} {}

  // ~Connector, part 1: from now on every Connect() fails with kCancelled;
  // stops the timer, cancels every pending connect (queued, resolving and
  // waiting in a line included), drops the resolutions not started (never
  // waits for one that runs), waits for the workers but the calling thread
  // (or, for a pool of more than kJoinAtMost, only tells them to exit:
  // `self` is kept until they are woken), then for the callbacks posted to
  // the CallbackThread and every on_complete still owed.
  void Shutdown(const std::shared_ptr<ConnectorImpl>& self);
  // Makes a ConnectorImpl owned by the Connector and by every Connect() or
  // ConnectAndWait() call in progress (a call's socket may complete, and
  // its on_complete destroy the Connector, before the call returns).
  static std::shared_ptr<ConnectorImpl> Create(ConnectorOptions options);

  // Starts a connect on a worker.
  std::shared_ptr<Socket> Connect(const Destination& destination,
                                  ConnectOptions&& options);
  // ConnectAndWait(): when the address is known without resolving, connects
  // on the calling thread, which blocks anyway (a hand-off would only add
  // latency); otherwise like Connect().
  std::shared_ptr<Socket> ConnectHere(const Destination& destination,
                                      ConnectOptions&& options);
  ConnectorStats stats() const;

 private:
  // A new Socket and its request; `request` is null when the socket is
  // complete already (bad input, shutting down).
  struct Begun {
    std::shared_ptr<Socket> socket;
    std::shared_ptr<const ConnectRequest> request;
  };
  Begun Begin(const Destination& destination, ConnectOptions&& options);
  // Completes `socket` (not registered) with `status` and runs its
  // on_complete on this thread, unless a canceller took it over.
  void Fail(const std::shared_ptr<Socket>& socket, absl::Status status);
  // Registers the socket and schedules its deadline: its task, or null
  // when the socket completed instead.
  std::shared_ptr<ConnectTask> NewTask(
      const std::shared_ptr<Socket>& socket,
      std::shared_ptr<const ConnectRequest> request);
  // Hands the connect to the pool.
  void Queue(const std::shared_ptr<Socket>& socket,
             std::shared_ptr<const ConnectRequest> request);
  // Takes one of max_queued slots; false when none is left.
  bool ReserveSlot();
  uint64_t ScheduleDeadline(const std::shared_ptr<Socket>& socket,
                            const ConnectRequest& request);
  // The deadline's error, worded by what the connect waits for.
  absl::Status DeadlineFor(const ConnectState& state) const;
  void ScheduleReaper();
  void Reap();

  // Before options_, which is initialized from the moved-from options.
  const bool numeric_skips_resolver_;
  const ConnectorOptions options_;
  const std::shared_ptr<ConnectorCore> core_;  // shared with every Socket
  Registry registry_;
  Timer timer_;
  // Detached threads: destroying it only drops the queued resolutions.
  ResolverPool resolvers_;
  // After the pool: a worker that finishes leaves its line.
  DestinationLines lines_;
  // Destroyed before the timer, registry and core: ~WorkerPool may still
  // have to join the worker that called Shutdown(), which uses only it.
  WorkerPool pool_;
  // Set once by Create() (env_.owner) before any Connect().
  ConnectEnv env_;
  // Set once by Shutdown(); relaxed: a fast path only, the Registry's
  // mutex is what orders a Connect() against CancelAll().
  std::atomic<bool> closing_{false};
  // Whether Reap() is scheduled; exchange so only one schedule is live.
  std::atomic<bool> reaper_scheduled_{false};
  int idle_at_last_reap_ = 0;  // only Reap() (the timer thread) uses it
  // Set by Shutdown() (~Connector): the workers were told to exit but not
  // joined. Read by the last owner, after ~Connector has let go.
  bool workers_left_ = false;
};

void ConnectorImpl::Shutdown(const std::shared_ptr<ConnectorImpl>& self) {
  closing_.store(true, std::memory_order_relaxed);
  timer_.Stop();  // No deadline or reaping from now on.
  // Issue 17: ~Connector publishes kCancelled for every pending socket and
  // returns; the workers wake and exit afterwards, and ~WorkerPool joins
  // them when the last reference to this ConnectorImpl goes (Create()).
  // Not with caller-owned SocketOps, which the workers still call on their
  // way out, nor on a worker (it joins the others, as before), nor for a
  // small pool (joined at once, as before: a few hundred µs at most).
  const bool join = kSanitizerJoins ||
                    options_.socket_ops != SocketOps::Default() ||
                    pool_.OnWorkerThread() || pool_.workers() <= kJoinAtMost;
  // Waking the connects in flight is one eventfd write, but the kernel
  // wakes each poller inside it (about 14 µs each here: 135 ms for 10,000),
  // so a thread of its own makes it.
  registry_.PublishCancelAll();  // Queued ones orphan.
  resolvers_.Shutdown();  // Never waits: stuck resolutions are abandoned.
  workers_left_ = !join;
  if (join) {
    registry_.Wake();
    pool_.Shutdown();         // Joins every worker but this thread.
    core_->callbacks.Stop();  // Runs what was posted; joins (or detaches).
    // What the CallbackThread could not take (ConnectorCore::Strand()).
    core_->WaitForCallbacks();
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
  // Callbacks of cancelled sockets run on their woken workers; those the
  // CallbackThread could not take, here.
  core_->WaitForCallbacks();
}

std::shared_ptr<ConnectorImpl> ConnectorImpl::Create(ConnectorOptions options) {
  // The last reference may drop on a worker of the pool (an on_complete
  // that destroys the Connector): ~WorkerPool then has to join that very
  // thread and free its stack, so another thread deletes it.
  std::shared_ptr<ConnectorImpl> impl(
      new ConnectorImpl(std::move(options)), [](ConnectorImpl* impl) {
        // Workers still exiting (~Connector did not wait for them): joined
        // on a thread of their own, so the last owner does not wait either.
        const bool on_worker = impl->pool_.OnWorkerThread();
        if (!on_worker && !impl->workers_left_) {
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
  // Resolver threads lock this to use the Connector's parts; it expires
  // when ~Connector and every call in progress have let go.
  impl->env_.owner = impl;
  return impl;
}

ConnectorImpl::Begun ConnectorImpl::Begin(const Destination& destination,
                                          ConnectOptions&& options) {
  core_->counters.submitted.fetch_add(1, std::memory_order_relaxed);
  absl::AnyInvocable<void(Socket&)> on_complete =
      std::move(options.on_complete);
  std::shared_ptr<CompletionQueue> queue = std::move(options.completion_queue);
  absl::StatusOr<std::shared_ptr<const ConnectRequest>> request =
      MakeRequest(destination, std::move(options), numeric_skips_resolver_);
  auto socket = std::make_shared<Socket>(SocketKey{});
  socket->state_ = std::make_unique<ConnectState>(
      socket, options_.socket_ops, core_,
      request.ok() ? (*request)->target : std::string(), std::move(on_complete),
      std::move(queue));
  if (!request.ok()) {
    Fail(socket, request.status());
  } else if (closing_.load(std::memory_order_relaxed)) {
    Fail(socket, ShuttingDownError(socket->state_->target()));
  } else {
    return {std::move(socket), *std::move(request)};
  }
  return {std::move(socket), nullptr};
}

void ConnectorImpl::Fail(const std::shared_ptr<Socket>& socket,
                         absl::Status status) {
  ConnectState& state = *socket->state_;
  if (state.Claim()) {
    state.PublishFailure(std::move(status));  // Counted there.
    // On the caller's thread, as documented. Last: it may destroy the
    // Connector.
    state.RunCallbackOnce();
  }
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

std::shared_ptr<ConnectTask> ConnectorImpl::NewTask(
    const std::shared_ptr<Socket>& socket,
    std::shared_ptr<const ConnectRequest> request) {
  ConnectState& state = *socket->state_;
  // From here ~Connector cancels it (and Close() or the deadline may).
  if (!registry_.Add(&state)) {
    Fail(socket, ShuttingDownError(state.target()));
    return nullptr;
  }
  const uint64_t timer_id = ScheduleDeadline(socket, *request);
  const bool no_timer =
      timer_id == 0 && request->deadline != absl::InfiniteFuture();
  auto task = std::make_shared<ConnectTask>(env_, socket, state,
                                            std::move(request), timer_id);
  if (no_timer) {
    task->Fail(closing_.load(std::memory_order_relaxed)
                   ? ShuttingDownError(state.target())
                   : ResourceError(state.target(),
                                   "cannot start the timer thread for the "
                                   "timeout"));
    return nullptr;
  }
  return task;
}

void ConnectorImpl::Queue(const std::shared_ptr<Socket>& socket,
                          std::shared_ptr<const ConnectRequest> request) {
  if (!ReserveSlot()) {
    Fail(socket, ResourceError(socket->state_->target(),
                               absl::StrCat("too many queued connects "
                                            "(max_queued ",
                                            options_.max_queued, ")")));
    return;
  }
  // Before it is registered: a canceller reads the phase.
  if (request->address.has_value()) {
    socket->state_->MarkQueued();
  } else {
    socket->state_->MarkResolving();
  }
  std::shared_ptr<ConnectTask> task = NewTask(socket, std::move(request));
  if (task == nullptr) return;
  task->Start();  // The resolver pool, or a line and the worker pool.
  ScheduleReaper();
}

std::shared_ptr<Socket> ConnectorImpl::Connect(const Destination& destination,
                                               ConnectOptions&& options) {
  Begun begun = Begin(destination, std::move(options));
  if (begun.request != nullptr) Queue(begun.socket, std::move(begun.request));
  return std::move(begun.socket);
}

std::shared_ptr<Socket> ConnectorImpl::ConnectHere(
    const Destination& destination, ConnectOptions&& options) {
  Begun begun = Begin(destination, std::move(options));
  if (begun.request == nullptr) return std::move(begun.socket);
  if (!begun.request->address.has_value()) {  // A resolver may block.
    Queue(begun.socket, std::move(begun.request));
  } else if (std::shared_ptr<ConnectTask> task =
                 NewTask(begun.socket, std::move(begun.request))) {
    task->Run();  // Interruptible by Close(), the deadline and ~Connector.
  }
  return std::move(begun.socket);
}

uint64_t ConnectorImpl::ScheduleDeadline(const std::shared_ptr<Socket>& socket,
                                         const ConnectRequest& request) {
  if (request.deadline == absl::InfiniteFuture()) return 0;
  std::weak_ptr<Socket> weak = socket;
  // `this` outlives the callback: Shutdown() stops the timer.
  return timer_.Schedule(request.deadline, [this, weak] {
    // Publishes on time even if the worker is stuck, and nothing more:
    // on_complete runs on the socket's worker, or on the CallbackThread
    // when no worker has it (ConnectState::HandOverCallback()), never here.
    if (std::shared_ptr<Socket> s = weak.lock()) {
      s->state_->Cancel(DeadlineFor(*s->state_));
    }
  });
}

absl::Status ConnectorImpl::DeadlineFor(const ConnectState& state) const {
  switch (state.waiting()) {
    case ConnectState::Waiting::kResolver:
      return ResolverDeadlineError(state.target());
    case ConnectState::Waiting::kWorker:
      return WorkerDeadlineError(state.target(), pool_.workers() - pool_.idle(),
                                 options_.max_workers, false);
    case ConnectState::Waiting::kLine:
      return WorkerDeadlineError(state.target(), lines_.cap(), lines_.cap(),
                                 true);
    case ConnectState::Waiting::kNothing:
      break;
  }
  return DeadlineError(state.target());
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
  // A resolution still running may yet hand its connect to a worker.
  if (pool_.workers() == 0 && resolvers_.threads() == 0) {
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
  s.resolving = c.resolving.load(kRelaxed);
  // The max_queued slots held by connects that wait for a worker (in the
  // pool's queue or a line), the resolving ones' taken out.
  const uint64_t slots = c.queued.load(kRelaxed);
  s.queued = slots > s.resolving ? slots - s.resolving : 0;
  return s;
}

}  // namespace internal

Connector::Connector(ConnectorOptions options)
    : impl_(internal::ConnectorImpl::Create(std::move(options))) {}

Connector::~Connector() {
  // impl_ stays valid while callbacks run: one may call Connect().
  impl_->Shutdown(impl_);
}

std::shared_ptr<Socket> Connector::Connect(absl::string_view host, int port,
                                           ConnectOptions options) {
  // A reference for the call: see ConnectorImpl::Create().
  std::shared_ptr<internal::ConnectorImpl> impl = impl_;
  return impl->Connect({host, port}, std::move(options));
}

std::shared_ptr<Socket> Connector::Connect(const SocketAddress& address,
                                           ConnectOptions options) {
  std::shared_ptr<internal::ConnectorImpl> impl = impl_;  // for the call
  return impl->Connect({{}, 0, &address}, std::move(options));
}

absl::StatusOr<std::shared_ptr<Socket>> Connector::ConnectAndWait(
    absl::string_view host, int port, ConnectOptions options) {
  std::shared_ptr<Socket> socket;
  {
    std::shared_ptr<internal::ConnectorImpl> impl = impl_;  // for the call
    socket = impl->ConnectHere({host, port}, std::move(options));
  }
  while (!socket->Wait(absl::InfiniteDuration())) {
  }
  if (!socket->error().ok()) return socket->error();
  return socket;
}

ConnectorStats Connector::stats() const { return impl_->stats(); }

}  // namespace tether
