#include "tests/testing/sink_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <unordered_set>

namespace tether {
namespace testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    perror(what);
    abort();
  }
}

}  // namespace

SinkServer::SinkServer(int family) : family_(family) {
  listen_fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  Check(listen_fd_ >= 0, "socket");
  SocketAddress any = address();
  Check(bind(listen_fd_, any.data(), any.size()) == 0, "bind");
  Check(listen(listen_fd_, 65535) == 0, "listen");  // capped by somaxconn
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  Check(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0,
        "getsockname");
  port_ = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
              ->port();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  Check(epoll_fd_ >= 0, "epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  Check(wake_fd_ >= 0, "eventfd");
  for (int fd : {listen_fd_, wake_fd_}) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    Check(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
  }
  thread_ = std::thread([this] { Serve(); });
}

SinkServer::~SinkServer() {
  const uint64_t one = 1;
  Check(write(wake_fd_, &one, sizeof(one)) == sizeof(one), "write");
  thread_.join();
  close(listen_fd_);
  close(epoll_fd_);
  close(wake_fd_);
}

SocketAddress SinkServer::address() const {
  return *SocketAddress::Parse(family_ == AF_INET6 ? "::1" : "127.0.0.1",
                               port_);
}

void SinkServer::Serve() {
  std::unordered_set<int> conns;
  epoll_event events[256];
  char buf[16384];
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events, 256, -1);
    if (n < 0) {
      Check(errno == EINTR, "epoll_wait");
      continue;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        for (int c : conns) close(c);
        open_.fetch_sub(static_cast<int64_t>(conns.size()));
        return;
      }
      if (fd == listen_fd_) {
        for (;;) {
          const int c = accept4(listen_fd_, nullptr, nullptr,
                                SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c < 0) break;  // EAGAIN, or a connection already reset
          accepted_.fetch_add(1);
          open_.fetch_add(1);
          epoll_event ev = {};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data.fd = c;
          Check(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c, &ev) == 0, "epoll_ctl");
          conns.insert(c);
        }
        continue;
      }
      ssize_t r;
      while ((r = read(fd, buf, sizeof(buf))) > 0) {
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        close(fd);  // also leaves the epoll set
        conns.erase(fd);
        open_.fetch_sub(1);
      }
    }
  }
}

void LingerZero(int fd) {
  linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

long RssKib() {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtol(line + 6, nullptr, 10);
      break;
    }
  }
  fclose(f);
  return kib;
}

}  // namespace testing
}  // namespace tether
