#include "testing/servers.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tether {
namespace testing {
namespace {

constexpr int kBacklog = 4096;
constexpr int kPortTries = 50;  // AF_UNSPEC: ports taken on ::1 skipped

absl::Status Errno(absl::string_view what, int err = errno) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(what, ": ", std::strerror(err)));
}

// bind()'s failure (errno) on `family`'s loopback address.
absl::Status BindError(int family) {
  const int err = errno;
  return Errno(family == AF_INET6 ? "bind ::1" : "bind 127.0.0.1", err);
}

// The constructors' way to fail: a fixture that cannot start aborts.
void OrDie(const absl::Status& s) {
  if (s.ok()) return;
  fprintf(stderr, "loopback server: %s\n", s.ToString().c_str());
  abort();
}

// What Start() returns: `server`, or `started` when it failed.
template <typename T>
absl::StatusOr<std::unique_ptr<T>> Started(std::unique_ptr<T> server,
                                           const absl::Status& started) {
  if (!started.ok()) return started;
  return server;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A TCP socket bound to loopback `port` (0: any); -1 with errno on failure.
int BoundSocket(int family, uint16_t port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const SocketAddress a = LoopbackAddress(family, port);
  if (bind(fd, a.data(), a.size()) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  absl::StatusOr<SocketAddress> a =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return a.ok() ? a->port() : 0;
}

absl::Status Listen(int fd, int backlog) {
  if (listen(fd, backlog) != 0) return Errno("listen");
  const int flags = fcntl(fd, F_GETFL);  // accepts until EAGAIN
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Errno("fcntl(O_NONBLOCK)");
  }
  return absl::OkStatus();
}

void SendAll(int fd, absl::string_view data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

SocketAddress LoopbackAddress(int family, uint16_t port) {
  return *SocketAddress::Parse(family == AF_INET6 ? "::1" : "127.0.0.1", port);
}

bool HaveIPv6Loopback() {
  int fd = BoundSocket(AF_INET6, 0);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// ---------------------------------------------------------------------------
// Listener

Listener::Listener(Mode mode, int family) : Listener(nullptr, mode, family) {
  OrDie(Init());
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(Mode mode,
                                                          int family) {
  std::unique_ptr<Listener> l(new Listener(nullptr, mode, family));
  const absl::Status s = l->Init();
  return Started(std::move(l), s);
}

absl::Status Listener::Init() {
  absl::Status s = Bind();
  for (int i = 0; i < 2 && s.ok(); ++i) {
    if (fds_[i] >= 0) s = Listen(fds_[i], kBacklog);
  }
  if (!s.ok()) return s;
  if (pipe2(wake_, O_CLOEXEC) != 0) return Errno("pipe2");
  acceptor_ = std::thread([this] { Serve(); });
  return absl::OkStatus();
}

// One family: its loopback address. AF_UNSPEC: 127.0.0.1 on an ephemeral
// port, then ::1 on the same port, trying another port if that one is taken
// on ::1 (none when ::1 cannot be bound at all).
absl::Status Listener::Bind() {
  if (family_ != AF_UNSPEC) {
    fds_[family_ == AF_INET6 ? 1 : 0] = BoundSocket(family_, 0);
    const int fd = fds_[0] >= 0 ? fds_[0] : fds_[1];
    if (fd < 0) return BindError(family_);
    port_ = LocalPort(fd);
    return absl::OkStatus();
  }
  for (int i = 0; i < kPortTries; ++i) {
    fds_[0] = BoundSocket(AF_INET, 0);
    if (fds_[0] < 0) return BindError(AF_INET);
    port_ = LocalPort(fds_[0]);
    fds_[1] = BoundSocket(AF_INET6, port_);
    if (fds_[1] >= 0 || errno != EADDRINUSE) return absl::OkStatus();
    CloseFd(fds_[0]);
  }
  return absl::UnavailableError("no port free on 127.0.0.1 and ::1");
}

Listener::~Listener() {
  if (wake_[1] >= 0) {
    char c = 0;
    (void)!write(wake_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : connections_) t.join();
  for (int& fd : held_) CloseFd(fd);
  for (int& fd : fds_) CloseFd(fd);
  for (int& fd : wake_) CloseFd(fd);
}

SocketAddress Listener::address() const {
  return LoopbackAddress(fds_[0] >= 0 ? AF_INET : AF_INET6, port_);
}

bool Listener::Woken() const {
  pollfd p = {wake_[0], POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

void Listener::Serve() {
  for (;;) {
    pollfd p[3] = {{wake_[0], POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    nfds_t n = 1;
    for (int fd : fds_) {
      if (fd >= 0) p[n++].fd = fd;
    }
    if (poll(p, n, -1) < 0) continue;
    if (p[0].revents != 0) return;
    for (nfds_t i = 1; i < n; ++i) {
      if (p[i].revents != 0) Accept(p[i].fd);
    }
  }
}

// Accepts every connection queued on `listen_fd` (non-blocking).
void Listener::Accept(int listen_fd) {
  int c;
  while ((c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
    accepted_.fetch_add(1);
    if (mode_ == Mode::kHold) {
      held_.push_back(c);
    } else if (mode_ == Mode::kClose) {
      close(c);  // a plain FIN
    } else {
      connections_.emplace_back([this, c] { Echo(c); });
    }
  }
}

void Listener::Echo(int fd) {
  std::string data;
  char buf[16384];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[0].revents == 0) break;  // shutting down
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // 0: the client half-closed
    data.append(buf, static_cast<size_t>(n));
    if (mode_ == Mode::kStreamEcho) {
      SendAll(fd, data);
      data.clear();
    }
  }
  if (!Woken()) SendAll(fd, data);
  close(fd);
}

// ---------------------------------------------------------------------------
// BoundPort, HangingListener, RefusingPort

BoundPort::~BoundPort() { CloseFd(fd_); }

absl::Status BoundPort::Bind() {
  fd_ = BoundSocket(family_, 0);
  if (fd_ < 0) return BindError(family_);
  port_ = LocalPort(fd_);
  return absl::OkStatus();
}

SocketAddress BoundPort::address() const {
  return LoopbackAddress(family_, port_);
}

HangingListener::HangingListener(int family)
    : HangingListener(nullptr, family) {
  OrDie(Init());
}

absl::StatusOr<std::unique_ptr<HangingListener>> HangingListener::Start(
    int family) {
  std::unique_ptr<HangingListener> h(new HangingListener(nullptr, family));
  const absl::Status s = h->Init();
  return Started(std::move(h), s);
}

absl::Status HangingListener::Init() {
  absl::Status s = Bind();
  if (!s.ok()) return s;
  if (listen(fd_, 0) != 0) return Errno("listen");
  // Fill the accept queue (backlog 0 holds one connection) and wait, with a
  // bound, until the filler's handshake is complete.
  filler_ = socket(family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (filler_ < 0) return Errno("socket");
  const SocketAddress a = address();
  if (connect(filler_, a.data(), a.size()) != 0 && errno != EINPROGRESS) {
    return Errno("connect (filler)");
  }
  pollfd p = {filler_, POLLOUT, 0};
  if (poll(&p, 1, 5000) != 1) {
    return absl::UnavailableError("filler connect hung");
  }
  return absl::OkStatus();
}

HangingListener::~HangingListener() { CloseFd(filler_); }

RefusingPort::RefusingPort(int family) : RefusingPort(nullptr, family) {
  OrDie(Bind());
}

absl::StatusOr<std::unique_ptr<RefusingPort>> RefusingPort::Start(int family) {
  std::unique_ptr<RefusingPort> r(new RefusingPort(nullptr, family));
  const absl::Status s = r->Bind();
  return Started(std::move(r), s);
}

}  // namespace testing
}  // namespace tether
