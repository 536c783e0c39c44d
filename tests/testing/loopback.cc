#include "tests/testing/loopback.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/time/clock.h"

namespace tether {
namespace testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    perror(what);
    abort();
  }
}

SocketAddress Loopback(int family, uint16_t port) {
  return *SocketAddress::Parse(family == AF_INET6 ? "::1" : "127.0.0.1", port);
}

// A socket bound to an ephemeral loopback port.
int BoundSocket(int family, uint16_t* port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(fd >= 0, "socket");
  SocketAddress a = Loopback(family, 0);
  Check(bind(fd, a.data(), a.size()) == 0, "bind");
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  Check(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0,
        "getsockname");
  *port = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
              ->port();
  return fd;
}

int CountDir(const char* path) {
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - (std::string(path) == "/proc/self/fd" ? 1 : 0);  // the DIR's fd
}

}  // namespace

Listener::Listener(Mode mode, int family) : mode_(mode), family_(family) {
  fd_ = BoundSocket(family, &port_);
  Check(listen(fd_, 4096) == 0, "listen");
  Check(pipe2(wake_, O_CLOEXEC) == 0, "pipe2");
  thread_ = std::thread([this] { Serve(); });
}

Listener::~Listener() {
  char c = 0;
  Check(write(wake_[1], &c, 1) == 1, "write");
  thread_.join();
  for (std::thread& t : echoers_) t.join();
  for (int fd : held_) close(fd);
  close(fd_);
  close(wake_[0]);
  close(wake_[1]);
}

SocketAddress Listener::address() const { return Loopback(family_, port_); }

void Listener::Serve() {
  for (;;) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents != 0) return;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    accepted_.fetch_add(1);
    if (mode_ == Mode::kHold) {
      held_.push_back(c);
    } else if (mode_ == Mode::kClose) {
      close(c);
    } else {
      echoers_.emplace_back([this, c] { Echo(c); });
    }
  }
}

void Listener::Echo(int fd) {
  std::string data;
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents != 0 && p[0].revents == 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    data.append(buf, n);
    if (mode_ == Mode::kStreamEcho) {
      for (size_t off = 0; off < data.size();) {
        ssize_t w =
            send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += w;
      }
      data.clear();
    }
  }
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += n;
  }
  close(fd);
}

HangingListener::HangingListener(int family) : family_(family) {
  fd_ = BoundSocket(family, &port_);
  Check(listen(fd_, 0) == 0, "listen");
  // Fill the accept queue (backlog 0 holds one connection) and wait, with a
  // bound, until the filler's handshake has completed.
  SocketAddress a = address();
  int c = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  Check(c >= 0, "socket");
  connect(c, a.data(), a.size());
  fillers_.push_back(c);
  pollfd p = {c, POLLOUT, 0};
  Check(poll(&p, 1, 5000) == 1, "poll (filler connect)");
}

HangingListener::~HangingListener() {
  for (int fd : fillers_) close(fd);
  close(fd_);
}

SocketAddress HangingListener::address() const {
  return Loopback(family_, port_);
}

RefusingPort::RefusingPort(int family) : family_(family) {
  fd_ = BoundSocket(family, &port_);
}

RefusingPort::~RefusingPort() { close(fd_); }

SocketAddress RefusingPort::address() const { return Loopback(family_, port_); }

bool HaveIPv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  SocketAddress a = Loopback(AF_INET6, 0);
  bool ok = bind(fd, a.data(), a.size()) == 0;
  close(fd);
  return ok;
}

int CountOpenFds() { return CountDir("/proc/self/fd"); }
int CountThreads() { return CountDir("/proc/self/task"); }

bool ThreadIsSleeping(pid_t tid) {
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* paren = strrchr(buf, ')');  // the name may contain spaces
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'S';
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= end) return condition();
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace testing
}  // namespace tether
