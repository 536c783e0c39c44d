// lib/connect_worker.cc: the worker's side of a connect.
//
// How this module works. Connector::Connect() validates its arguments,
// creates the Socket and queues a ConnectTask. A worker thread runs it:
//
//   Run -> Connect -> resolve (inline, or concurrently per family for a race)
//       -> ConnectSerial (one address at a time) or RunRace (Happy Eyeballs)
//       -> ConnectOne per address: socket (non-blocking), bind, connect,
//          poll until it is done, back to blocking, getsockname,
//          getpeername, then Publish
//       -> Finish: on_complete, statistics.
//
// Who owns what. The descriptor of an attempt belongs to the thread running
// ConnectOne until it is published inside a ConnectResult (then the Socket
// owns it) or closed. While the connect is in progress, the descriptor is
// attached to the ConnectState so a canceller can shutdown() it; it is
// detached before it is closed or published, so no other thread ever
// touches a released number.
//
// Who publishes. Exactly one of: the ConnectOne that connected, the task
// when every address failed or resolution failed, the deadline timer, or a
// canceller. Publication is one compare-and-swap (lib/connect_state.h); the
// losers' results are destroyed. Queries never advance the connect.

#include "lib/connect_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/fd_stream.h"
#include "lib/posix_error.h"
#include "lib/system_resolver.h"

namespace tether {
namespace internal {
namespace {

using Outcome = Attempt::Outcome;

constexpr auto kRelaxed = std::memory_order_relaxed;

// When one attempt must end: attempt_timeout from now, or the whole
// connect's deadline if that is sooner (Go's partialDeadline, without the
// split). InfiniteFuture when neither is set.
absl::Time AttemptEnd(const ConnectRequest& request) {
  return std::min(absl::Now() + request.attempt_timeout, request.deadline);
}

// poll()'s timeout for the time left until `end`, rounded up to whole
// milliseconds (never early); -1 for no end.
int PollTimeout(absl::Time end) {
  if (end == absl::InfiniteFuture()) return -1;
  const absl::Duration left = end - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  // Compared as Durations: no integer arithmetic that a huge (but finite)
  // timeout could overflow (issue 12, item 8).
  if (left >= absl::Milliseconds(INT32_MAX)) return INT32_MAX;
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

// Waits until the connect() in progress on `fd` finishes or `end` passes
// (poll for writability, then SO_ERROR); never calls connect() again.
// Returns its errno: 0 when connected, ETIMEDOUT when `end` passed.
//
// A canceller's shutdown(SHUT_RDWR) wakes this at once wherever it lands:
// during the handshake it aborts the connect (ECONNRESET); before connect()
// it finds the socket unconnected (ENOTCONN) but leaves it shut down both
// ways, which poll() reports as POLLHUP as soon as connect() has started.
// That second case is why the connect is not a blocking connect(): one
// that starts after the shutdown() would run to the kernel's timeout.
//
// `cancel_fd` (the Registry's; -1: none) becoming readable means the
// Connector is being destroyed: returns ECANCELED.
int AwaitConnect(SocketOps* ops, int fd, int cancel_fd, absl::Time end) {
  for (;;) {
    pollfd p[2] = {{fd, POLLOUT, 0}, {cancel_fd, POLLIN, 0}};
    const int n = ops->Poll(p, 2, PollTimeout(end));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ETIMEDOUT;
    if (p[1].revents != 0) return ECANCELED;
    int err = 0;
    socklen_t len = sizeof(err);
    if (ops->GetSockOpt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      return errno;
    if (err == 0 && (p[0].revents & POLLHUP) != 0)
      err = ECONNABORTED;                                     // shut down
    if (err == 0 && (p[0].revents & POLLOUT) == 0) continue;  // Spurious.
    return err;
  }
}

// Binds `fd` to the request's local address/port, if any. Returns errno.
int BindLocal(SocketOps* ops, int fd, const ConnectRequest& request,
              const SocketAddress& target) {
  if (!request.local_address.has_value() && request.local_port == 0) return 0;
  SocketAddress local =
      request.local_address.has_value()
          ? request.local_address->WithPort(request.local_port)
          : *SocketAddress::Parse(
                target.family() == AF_INET6 ? "::" : "0.0.0.0",
                request.local_port);
  return ops->Bind(fd, local.data(), local.size()) == 0 ? 0 : errno;
}

// Connects the non-blocking `fd` to `address` by `end`, blocking the
// calling worker. Returns errno: 0 when connected, ETIMEDOUT when `end`
// passed. EINTR (a connect() interrupted by a signal) goes on in the
// background like EINPROGRESS.
int ConnectBy(SocketOps* ops, int fd, int cancel_fd,
              const SocketAddress& address, absl::Time end) {
  if (ops->Connect(fd, address.data(), address.size()) == 0) return 0;
  const int err = errno;
  if (err != EINPROGRESS && err != EINTR) return err;
  return AwaitConnect(ops, fd, cancel_fd, end);
}

// Fills in a connected result for `fd`. Returns errno on failure.
int Describe(SocketOps* ops, int fd, const ConnectRequest& request,
             ConnectResult* result) {
  // The descriptor the Socket hands out (fd()) is an ordinary blocking
  // one; tether's own I/O uses MSG_DONTWAIT and does not care.
  if (ops->SetNonBlocking(fd, false) != 0) return errno;
  int one = 1;
  if (request.tcp_nodelay &&
      ops->SetSockOpt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return errno;
  }
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (ops->GetSockName(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return errno;
  absl::StatusOr<SocketAddress> local =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  len = sizeof(ss);
  if (ops->GetPeerName(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return errno;
  absl::StatusOr<SocketAddress> peer =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!local.ok() || !peer.ok()) return EAFNOSUPPORT;
  result->sockname = *local;
  result->peername = *peer;
  return 0;
}

// Records an attempt that failed with `err`. If the socket was published
// meanwhile (cancelled, past its deadline, or won by another attempt), the
// publication ended the attempt already and this changes nothing.
void RecordFailure(ConnectState& state, size_t attempt, int err) {
  state.FinishAttempt(
      attempt, err == ETIMEDOUT ? Outcome::kTimedOut : Outcome::kFailed, err);
}

// Closes an attempt's descriptor; close() is never retried (on Linux the
// descriptor is released even when close() reports EINTR).
void CloseFd(SocketOps* ops, int fd) { ops->Close(fd); }

}  // namespace

Registry::Registry() : cancel_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Registry::~Registry() {
  if (cancel_fd_ >= 0) close(cancel_fd_);
}

bool Registry::Add(ConnectState* state) {
  MutexLock lock(&mu_);
  if (closed_) return false;
  state->registry_index_ = states_.size();
  states_.push_back(state);
  return true;
}

void Registry::Remove(ConnectState* state) {
  MutexLock lock(&mu_);
  // After CancelAll() the list is never used again.
  if (closed_ || state->registry_index_ == ConnectState::kNotRegistered) {
    return;
  }
  ConnectState* last = states_.back();
  states_[state->registry_index_] = last;
  last->registry_index_ = state->registry_index_;
  states_.pop_back();
  state->registry_index_ = ConnectState::kNotRegistered;
}

void Registry::CancelAll(bool wake) {
  MutexLock lock(&mu_);
  closed_ = true;
  // Made once: copies share its representation (a reference count).
  const absl::Status status =
      CancelledStatus("connect cancelled: Connector destroyed");
  // Under mu_: a registered state's Socket is alive until Remove().
  for (ConnectState* s : states_) {
    if (cancel_fd_ >= 0) {
      s->PublishFailure(status);  // cancel_fd_ interrupts them all below.
    } else {
      s->Cancel(status);  // shutdown() of each descriptor
    }
  }
  if (wake) Wake();
}

void Registry::Wake() {
  if (cancel_fd_ >= 0) {
    const uint64_t one = 1;
    while (write(cancel_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
}

absl::Status CancelledStatus(absl::string_view why) {
  return ErrnoStatus(ECANCELED, why);
}

absl::Status DeadlineStatus(const ConnectRequest& request) {
  return ErrnoStatus(ETIMEDOUT, absl::StrCat("connect to ", request.host, ":",
                                             request.port, ": timed out"));
}

bool PublishIfPastDeadline(const ConnectRequest& request, ConnectState& state) {
  if (state.done()) return true;
  if (absl::Now() < request.deadline) return false;
  // The timer publishes this on time, unless it is late: then whoever
  // notices first does, rather than looping until it catches up.
  state.Cancel(DeadlineStatus(request));
  return true;
}

bool ConnectOne(const ConnectEnv& env, const ConnectRequest& request,
                ConnectState& state, const SocketAddress& address) {
  return ConnectAttempt(env, request, state, address,
                        state.StartAttempt(address));
}

bool ConnectAttempt(const ConnectEnv& env, const ConnectRequest& request,
                    ConnectState& state, const SocketAddress& address,
                    size_t attempt) {
  SocketOps* ops = env.ops;
  env.counters->attempts.fetch_add(1, kRelaxed);
  int fd = ops->Socket(address.family(),
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    RecordFailure(state, attempt, errno);
    return false;
  }
  if (!state.AttachFd(attempt, fd)) {  // Cancelled meanwhile.
    CloseFd(ops, fd);
    RecordFailure(state, attempt, ECANCELED);
    return false;
  }
  int err = BindLocal(ops, fd, request, address);
  if (err == 0) {
    err = ConnectBy(ops, fd, env.registry->cancel_fd(), address,
                    AttemptEnd(request));
  }
  auto result = std::make_unique<ConnectResult>();
  if (err == 0) err = Describe(ops, fd, request, result.get());
  state.DetachFd(attempt);
  if (err != 0) {
    CloseFd(ops, fd);
    RecordFailure(state, attempt, err);
    return false;
  }
  result->stream =
      std::make_unique<FdStream>(FdStream::Kind::kSocket, fd, fd, ops);
  if (!state.PublishConnected(std::move(result), attempt)) {
    RecordFailure(state, attempt, ECANCELED);  // Lost to a cancel or deadline.
    return false;
  }
  state.InterruptAttempts();  // The losers of a race.
  return true;
}

void PublishAllFailed(const ConnectRequest& request, ConnectState& state) {
  std::vector<Attempt> attempts = state.attempts();
  int first = 0;
  std::string list;
  for (const Attempt& a : attempts) {
    if (first == 0) first = a.error_code;
    char buf[128];
    absl::StrAppend(&list, list.empty() ? "" : "; ", a.address.ToString(), ": ",
                    strerror_r(a.error_code, buf, sizeof(buf)));
  }
  if (first == 0) first = ECONNREFUSED;  // Unreachable: every attempt failed.
  state.PublishFailure(
      ErrnoStatus(first, absl::StrCat("connect to ", request.host, ":",
                                      request.port, " failed: ", list)));
}

absl::StatusOr<std::vector<SocketAddress>> FilterForLocal(
    const ConnectRequest& request, std::vector<SocketAddress> addresses) {
  if (!request.local_address.has_value()) return addresses;
  const int family = request.local_address->family();
  addresses.erase(std::remove_if(addresses.begin(), addresses.end(),
                                 [family](const SocketAddress& a) {
                                   return a.family() != family;
                                 }),
                  addresses.end());
  if (addresses.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("local_address ", request.local_address->ip(), " is ",
                     family == AF_INET ? "IPv4" : "IPv6", " but \"",
                     request.host, "\" has no address of that family"));
  }
  return addresses;
}

ConnectTask::ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
                         ConnectRequest request, ConnectState* state)
    : env_(env),
      socket_(std::move(socket)),
      request_(std::move(request)),
      state_(state) {}

void ConnectTask::Run() {
  // A canceller that took the socket over (kOrphaned) posted on_complete;
  // if that post failed, it runs here, on a worker, now.
  if (state_->Claim() && !state_->done()) Connect();
  Finish();
}

void ConnectTask::Abandon() {
  // The pool stops: ~Connector cancelled every registered socket already,
  // this one included, unless it lost a race with Close().
  Fail(CancelledStatus("connect cancelled: Connector destroyed"));
}

void ConnectTask::Fail(absl::Status status) {
  (void)state_->Claim();
  state_->Cancel(std::move(status));
  Unregister();
  // On the CallbackThread (a second post of an orphan's callback is a
  // no-op); on this thread only when that cannot start.
  if (!state_->PostCallback()) state_->RunCallbackOnce();
}

void ConnectTask::Unregister() {
  env_.registry->Remove(state_);
  if (timer_id_ != 0) env_.timer->Cancel(timer_id_);
}

void ConnectTask::Finish() {
  Unregister();
  // Last: on_complete may destroy the Connector (its registry and timer).
  state_->RunCallbackOnce();
}

void ConnectTask::Connect() {
  const bool race = request_.happy_eyeballs_delay > absl::ZeroDuration() &&
                    request_.family == Family::kAny;
  if (race && !ResolvesInstantly(*env_.resolver, request_.host)) {
    RunRace(env_, request_, socket_, *state_, std::nullopt);
    return;
  }
  const bool may_block = !ResolvesInstantly(*env_.resolver, request_.host);
  if (may_block) state_->SetResolving(true);
  absl::StatusOr<std::vector<SocketAddress>> addresses =
      env_.resolver->Resolve(request_.host, request_.port, request_.family);
  if (may_block) state_->SetResolving(false);
  if (addresses.ok())
    addresses = FilterForLocal(request_, *std::move(addresses));
  if (addresses.ok() && addresses->empty()) {
    addresses = absl::NotFoundError(
        absl::StrCat("resolve \"", request_.host, "\": no addresses"));
  }
  if (!addresses.ok()) {
    state_->PublishFailure(addresses.status());
  } else if (race && addresses->size() > 1) {
    RunRace(env_, request_, socket_, *state_, *std::move(addresses));
  } else {
    ConnectSerial(*addresses);
  }
}

void ConnectTask::ConnectSerial(const std::vector<SocketAddress>& addresses) {
  for (const SocketAddress& address : addresses) {
    if (PublishIfPastDeadline(request_, *state_)) return;
    if (ConnectOne(env_, request_, *state_, address)) return;
  }
  // The last attempt may have ended at the deadline: then that is the
  // error (the timer's words), whoever publishes it.
  if (!PublishIfPastDeadline(request_, *state_)) {
    PublishAllFailed(request_, *state_);  // A no-op if cancelled meanwhile.
  }
}

}  // namespace internal
}  // namespace tether
