#include "tools/probe/demo_servers.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tether/address.h"

namespace tether {
namespace probe {
namespace {

constexpr int kPortTries = 50;

absl::Status Errno(absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(errno),
                      absl::StrCat(what, ": ", std::strerror(errno)));
}

SocketAddress Loopback(int family, uint16_t port) {
  return *SocketAddress::Parse(family == AF_INET6 ? "::1" : "127.0.0.1", port);
}

// A TCP socket bound to loopback `port` (0: any); -1 with errno on failure.
int BoundSocket(int family, uint16_t port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const SocketAddress a = Loopback(family, port);
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

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void WriteAll(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start() {
  std::unique_ptr<EchoServer> s(new EchoServer());
  absl::Status st = s->Listen();
  if (!st.ok()) return st;
  if (pipe2(s->wake_, O_CLOEXEC) != 0) return Errno("pipe2");
  EchoServer* raw = s.get();
  s->acceptor_ = std::thread([raw] { raw->Serve(); });
  return s;
}

// Binds 127.0.0.1 on an ephemeral port, then ::1 on the same port, retrying
// with another port if that one is taken on ::1.
absl::Status EchoServer::Listen() {
  for (int i = 0; i < kPortTries; ++i) {
    v4_ = BoundSocket(AF_INET, 0);
    if (v4_ < 0) return Errno("bind 127.0.0.1");
    port_ = LocalPort(v4_);
    v6_ = BoundSocket(AF_INET6, port_);
    if (v6_ >= 0 || errno != EADDRINUSE) break;  // else: no ::1 here
    CloseFd(v4_);
  }
  if (v4_ < 0)
    return absl::UnavailableError("no port free on 127.0.0.1 and ::1");
  if (listen(v4_, 64) != 0) return Errno("listen");
  if (v6_ >= 0 && listen(v6_, 64) != 0) CloseFd(v6_);
  return absl::OkStatus();
}

EchoServer::~EchoServer() {
  if (wake_[1] >= 0) {
    char c = 0;
    (void)!write(wake_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : connections_) t.join();
  CloseFd(v4_);
  CloseFd(v6_);
  CloseFd(wake_[0]);
  CloseFd(wake_[1]);
}

bool EchoServer::Woken() const {
  pollfd p = {wake_[0], POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

void EchoServer::Serve() {
  for (;;) {
    pollfd p[3] = {{wake_[0], POLLIN, 0}, {v4_, POLLIN, 0}, {v6_, POLLIN, 0}};
    if (poll(p, v6_ >= 0 ? 3 : 2, -1) < 0) continue;
    if (p[0].revents != 0) return;
    for (int i = 1; i < 3; ++i) {
      if (p[i].revents == 0) continue;
      int c = accept4(p[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) connections_.emplace_back([this, c] { Echo(c); });
    }
  }
}

void EchoServer::Echo(int fd) {
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
  }
  if (!Woken()) WriteAll(fd, data);
  close(fd);
}

absl::StatusOr<std::unique_ptr<RefusingPort>> RefusingPort::Start() {
  std::unique_ptr<RefusingPort> r(new RefusingPort());
  r->fd_ = BoundSocket(AF_INET, 0);
  if (r->fd_ < 0) return Errno("bind 127.0.0.1");
  r->port_ = LocalPort(r->fd_);
  return r;
}

RefusingPort::~RefusingPort() { CloseFd(fd_); }

absl::StatusOr<std::unique_ptr<HangingPort>> HangingPort::Start() {
  std::unique_ptr<HangingPort> h(new HangingPort());
  h->fd_ = BoundSocket(AF_INET, 0);
  if (h->fd_ < 0) return Errno("bind 127.0.0.1");
  if (listen(h->fd_, 0) != 0) return Errno("listen");
  h->port_ = LocalPort(h->fd_);
  // Fill the accept queue (backlog 0 holds one connection) and wait until
  // the filler's handshake is complete.
  h->filler_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (h->filler_ < 0) return Errno("socket");
  const SocketAddress a = Loopback(AF_INET, h->port_);
  if (connect(h->filler_, a.data(), a.size()) != 0 && errno != EINPROGRESS) {
    return Errno("connect (filler)");
  }
  pollfd p = {h->filler_, POLLOUT, 0};
  if (poll(&p, 1, 5000) != 1)
    return absl::UnavailableError("filler connect hung");
  return h;
}

HangingPort::~HangingPort() {
  CloseFd(filler_);
  CloseFd(fd_);
}

}  // namespace probe
}  // namespace tether
