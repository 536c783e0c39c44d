// lib/attempt.cc: one attempt (see attempt.h).
//
// Who owns what. The descriptor belongs to the thread running the attempt
// until it is published inside a ConnectResult (then the Socket owns it) or
// closed. While the connect is in progress it is attached to the
// ConnectState so a canceller can shutdown() it; it is detached before it
// is closed or published, so no other thread ever touches a released
// number.

#include "lib/attempt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/connect_errors.h"
#include "lib/fd_stream.h"
#include "lib/registry.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {
namespace {

// When the attempt must end: attempt_timeout from now, or the whole
// connect's deadline if that is sooner (Go's partialDeadline, without the
// split). InfiniteFuture when neither is set.
absl::Time AttemptEnd(const ConnectRequest& request) {
  return std::min(absl::Now() + request.options.attempt_timeout,
                  request.deadline);
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

// Seconds for a TCP_KEEP* option, rounded up (validated: at most 32767 s).
int WholeSeconds(absl::Duration d) {
  return static_cast<int>(
      absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
}

// setsockopt() of an int; the failure names `what`.
absl::Status SetInt(SocketOps* ops, int fd, int level, int name, int value,
                    absl::string_view what) {
  if (ops->SetSockOpt(fd, level, name, &value, sizeof(value)) == 0) {
    return absl::OkStatus();
  }
  return AttemptError(errno, what);
}

// The options of ConnectOptions that are socket options. IP only: a Unix
// socket has no TCP options and no device.
absl::Status SetOptions(SocketOps* ops, int fd, const ConnectOptions& options,
                        const SocketAddress& address) {
  if (address.family() == AF_UNIX) return absl::OkStatus();
  absl::Status s;
  if (options.tcp_nodelay) {
    s = SetInt(ops, fd, IPPROTO_TCP, TCP_NODELAY, 1, "tcp_nodelay");
  }
  const KeepAlive& k = options.keepalive;
  if (s.ok() && k.enabled) {
    s = SetInt(ops, fd, SOL_SOCKET, SO_KEEPALIVE, 1, "keepalive");
    if (s.ok()) {
      s = SetInt(ops, fd, IPPROTO_TCP, TCP_KEEPIDLE, WholeSeconds(k.idle),
                 "keepalive.idle");
    }
    if (s.ok()) {
      s = SetInt(ops, fd, IPPROTO_TCP, TCP_KEEPINTVL, WholeSeconds(k.interval),
                 "keepalive.interval");
    }
    if (s.ok()) {
      s = SetInt(ops, fd, IPPROTO_TCP, TCP_KEEPCNT, k.count, "keepalive.count");
    }
  }
  const std::string& device = options.bind_interface;
  if (s.ok() && !device.empty() &&
      ops->SetSockOpt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.data(),
                      static_cast<socklen_t>(device.size())) != 0) {
    // ENODEV: no such interface; EPERM: needs CAP_NET_RAW.
    s = AttemptError(errno, absl::StrCat("bind_interface ", Quote(device)));
  }
  return s;
}

// The control hook, if any. It must not close `fd`.
absl::Status RunControl(const ConnectOptions& options, int fd,
                        const SocketAddress& address) {
  if (!options.control) return absl::OkStatus();
  absl::Status s = options.control(fd, address);
  return s.ok() ? s : ControlError(s);
}

// Binds to the local address and/or port, if any. With an address and port
// 0, IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which may reuse
// one for other destinations: bind() alone would reserve a port per local
// address and exhaust the ephemeral range at scale.
absl::Status Bind(SocketOps* ops, int fd, const ConnectRequest& request,
                  const SocketAddress& target) {
  const uint16_t port = request.options.local_port;
  if (!request.local.has_value() && port == 0) return absl::OkStatus();
  SocketAddress local =
      request.local.has_value()
          ? *request.local
          : *SocketAddress::Parse(
                target.family() == AF_INET6 ? "::" : "0.0.0.0", port);
  if (request.local.has_value() && port == 0) {
    // A kernel without it (before 4.2) binds a port at bind(), as before.
    (void)SetInt(ops, fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1, "");
  }
  if (ops->Bind(fd, local.data(), local.size()) == 0) return absl::OkStatus();
  return AttemptError(errno, absl::StrCat("bind ", local.ToString()));
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

// A Unix socket whose listener's backlog is full fails connect() with
// EAGAIN instead of going on in the background; TCP would retry its SYN. So
// does this: pauses 1 to 64 ms (doubling), then the caller retries, until
// `end` or the socket is done (a canceller published: an unconnected Unix
// socket polls as POLLHUP, so shutdown() cannot wake this; the pause
// bounds the delay). Returns 0 to retry, else the errno that ends the
// attempt: ETIMEDOUT, ECANCELED (~Connector's eventfd, or published).
int AwaitUnixBacklog(SocketOps* ops, const ConnectState& state, int cancel_fd,
                     absl::Time end, absl::Duration* pause) {
  const absl::Duration left = end - absl::Now();
  if (left <= absl::ZeroDuration()) return ETIMEDOUT;
  pollfd p = {cancel_fd, POLLIN, 0};
  const int n =
      ops->Poll(&p, 1, PollTimeout(absl::Now() + std::min(*pause, left)));
  *pause = std::min(*pause * 2, absl::Milliseconds(64));
  if (n < 0 && errno != EINTR) return errno;
  return n > 0 || state.done() ? ECANCELED : 0;
}

// Connects the non-blocking `fd` to `address` by `end`. EINTR (a connect()
// interrupted by a signal) goes on in the background like EINPROGRESS.
absl::Status Connect(SocketOps* ops, const ConnectState& state, int fd,
                     int cancel_fd, const SocketAddress& address,
                     absl::Time end) {
  absl::Duration pause = absl::Milliseconds(1);
  for (;;) {
    if (ops->Connect(fd, address.data(), address.size()) == 0) {
      return absl::OkStatus();
    }
    int err = errno;
    if (err == EAGAIN && address.family() == AF_UNIX) {
      err = AwaitUnixBacklog(ops, state, cancel_fd, end, &pause);
      if (err == 0) continue;
    } else if (err == EINPROGRESS || err == EINTR) {
      err = AwaitConnect(ops, fd, cancel_fd, end);
    }
    return err == 0 ? absl::OkStatus() : AttemptError(err);
  }
}

// The connected socket's names, and its descriptor made blocking again: the
// one the Socket hands out (fd()) is an ordinary blocking one; tether's own
// I/O uses MSG_DONTWAIT and does not care.
absl::Status Describe(SocketOps* ops, int fd, ConnectResult* result) {
  if (ops->SetNonBlocking(fd, false) != 0) return AttemptError(errno, "ioctl");
  sockaddr_storage ss;
  for (auto [get, name, out] :
       {std::tuple{&SocketOps::GetSockName, "getsockname", &result->sockname},
        std::tuple{&SocketOps::GetPeerName, "getpeername",
                   &result->peername}}) {
    socklen_t len = sizeof(ss);
    if ((ops->*get)(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return AttemptError(errno, name);
    }
    absl::StatusOr<SocketAddress> a =
        SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!a.ok()) return AttemptError(EAFNOSUPPORT, name);
    *out = *a;
  }
  return absl::OkStatus();
}

}  // namespace

bool RunAttempt(const ConnectEnv& env, const ConnectRequest& request,
                ConnectState& state, const SocketAddress& address,
                size_t attempt) {
  SocketOps* ops = env.ops;
  env.counters->attempts.fetch_add(1, std::memory_order_relaxed);
  const int fd = ops->Socket(address.family(),
                             SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    state.FinishAttempt(attempt, AttemptError(errno, "socket"));
    return false;
  }
  if (!state.AttachFd(attempt, fd)) {  // Cancelled meanwhile.
    ops->Close(fd);
    state.FinishAttempt(attempt, AttemptError(ECANCELED));
    return false;
  }
  absl::Status s = SetOptions(ops, fd, request.options, address);
  if (s.ok()) s = RunControl(request.options, fd, address);
  if (s.ok()) s = Bind(ops, fd, request, address);
  if (s.ok()) {
    s = Connect(ops, state, fd, env.registry->cancel_fd(), address,
                AttemptEnd(request));
  }
  auto result = std::make_unique<ConnectResult>();
  if (s.ok()) s = Describe(ops, fd, result.get());
  state.DetachFd(attempt);
  if (!s.ok()) {
    // close() is never retried: on Linux the descriptor is released even
    // when close() reports EINTR.
    ops->Close(fd);
    state.FinishAttempt(attempt, std::move(s));
    return false;
  }
  result->stream =
      std::make_unique<FdStream>(FdStream::Kind::kSocket, fd, fd, ops);
  if (!state.PublishConnected(std::move(result), attempt)) {
    // Lost to a cancel or the deadline, which ended the attempt already.
    return false;
  }
  state.InterruptAttempts();  // The losers of a race.
  return true;
}

}  // namespace internal
}  // namespace tether
