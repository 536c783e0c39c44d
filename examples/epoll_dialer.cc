// epoll_dialer: tether's connects inside an event loop.
//
//   epoll_dialer [connects]
//
// One thread runs an epoll loop. It starts the connects (1,000 by default,
// at most 128 in flight) to loopback servers the example starts itself, and
// waits on a CompletionQueue's fd() together with the connected sockets.
// When the queue is readable it drains the completed sockets, Release()s
// each connected descriptor into the loop (tether no longer touches it),
// writes a request, half-closes (shutdown(SHUT_WR): "that is all"), reads
// the reply to end of stream and closes. No thread but tether's waits for
// the network; the loop never blocks on anything but epoll_wait().

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tether/completion_queue.h"
#include "tether/connector.h"

namespace {

// A loopback server that answers each connection, one at a time, with
// "echo: " and the request once the client has half-closed.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(fd_, 1024) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("epoll_dialer: loopback server");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Serve() {
    for (;;) {
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      std::string request;
      char buf[4096];
      ssize_t n;
      while ((n = read(c, buf, sizeof(buf))) > 0) request.append(buf, n);
      const std::string reply = "echo: " + request;
      (void)!write(c, reply.data(), reply.size());
      close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// One released connection, owned by the loop.
struct Conn {
  std::string request;
  size_t written = 0;
  std::string reply;
};

class Dialer {
 public:
  Dialer(int total, std::vector<uint16_t> ports,
         std::shared_ptr<tether::CompletionQueue> queue)
      : total_(total), ports_(std::move(ports)), queue_(std::move(queue)) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    Watch(queue_->fd(), EPOLLIN, EPOLL_CTL_ADD);  // level-triggered
  }
  ~Dialer() { close(epfd_); }

  // Runs the loop until every connect is answered or failed; false when
  // `limit` passes first.
  bool Run(absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    StartMore();
    while (finished() < total_) {
      if (absl::Now() > deadline) return false;
      epoll_event events[64];
      const int n = epoll_wait(epfd_, events, 64, 1000);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == queue_->fd()) {
          Harvest();
        } else {
          Serve(fd, events[i].events);
        }
      }
    }
    return true;
  }

  void PrintSummary(absl::Duration elapsed) const {
    std::printf(
        "epoll_dialer: %d connects to %zu loopback servers in %s: "
        "%d connected, %d failed, %d replies verified, %d bad replies; "
        "at most %d connects in flight, %d released descriptors at once\n",
        total_, ports_.size(), absl::FormatDuration(elapsed).c_str(),
        connected_, failed_, verified_, bad_, kInFlight, max_open_);
  }
  bool ok() const { return verified_ == total_; }

 private:
  static constexpr int kInFlight = 128;

  int finished() const { return verified_ + bad_ + failed_; }

  void Watch(int fd, uint32_t events, int op) {
    epoll_event ev = {};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, op, fd, &ev) != 0) {
      std::perror("epoll_dialer: epoll_ctl");
      std::exit(1);
    }
  }

  // Starts connects until kInFlight are pending or all are started.
  void StartMore() {
    while (started_ < total_ && started_ - completed_ < kInFlight) {
      tether::ConnectOptions options;
      options.completion_queue = queue_;
      const uint16_t port = ports_[started_ % ports_.size()];
      // The Socket is also in the queue once complete: no need to keep it.
      (void)connector_.Connect("127.0.0.1", port, std::move(options));
      ++started_;
    }
  }

  // The queue is readable: take every completed socket.
  void Harvest() {
    for (const std::shared_ptr<tether::Socket>& s : queue_->Drain()) {
      ++completed_;
      if (!s->error().ok()) {
        std::fprintf(stderr, "epoll_dialer: %s\n",
                     s->error().ToString().c_str());
        ++failed_;
        continue;
      }
      absl::StatusOr<int> fd = s->Release();  // now the loop's
      if (!fd.ok()) {
        ++failed_;
        continue;
      }
      ++connected_;
      fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
      conns_[*fd].request = absl::StrCat("request ", completed_, "\n");
      Watch(*fd, EPOLLOUT, EPOLL_CTL_ADD);
      max_open_ = std::max(max_open_, static_cast<int>(conns_.size()));
    }
    StartMore();
  }

  void Serve(int fd, uint32_t events) {
    Conn& c = conns_[fd];
    if (c.written < c.request.size()) {
      const ssize_t n = send(fd, c.request.data() + c.written,
                             c.request.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) c.written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Finish(fd, false);
      if (c.written == c.request.size()) {
        shutdown(fd, SHUT_WR);  // the half-close: the server may answer
        Watch(fd, EPOLLIN, EPOLL_CTL_MOD);
      }
      return;
    }
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.reply.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return Finish(fd, c.reply == "echo: " + c.request);
      if (errno == EAGAIN || errno == EINTR) return;
      return Finish(fd, false);
    }
  }

  void Finish(int fd, bool good) {
    (good ? verified_ : bad_) += 1;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);  // ours since Release()
    conns_.erase(fd);
  }

  const int total_;
  const std::vector<uint16_t> ports_;
  const std::shared_ptr<tether::CompletionQueue> queue_;
  tether::Connector connector_;
  int epfd_ = -1;
  std::map<int, Conn> conns_;
  int started_ = 0, completed_ = 0, connected_ = 0, failed_ = 0;
  int verified_ = 0, bad_ = 0, max_open_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int total = 1000;
  if (argc > 1 && (!absl::SimpleAtoi(argv[1], &total) || total < 1)) {
    std::fprintf(stderr, "usage: epoll_dialer [connects]\n");
    return 2;
  }
  absl::StatusOr<std::shared_ptr<tether::CompletionQueue>> queue =
      tether::CompletionQueue::Create();
  if (!queue.ok()) {
    std::fprintf(stderr, "epoll_dialer: %s\n",
                 queue.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<EchoServer>> servers;
  std::vector<uint16_t> ports;
  for (int i = 0; i < 4; ++i) {
    servers.push_back(std::make_unique<EchoServer>());
    ports.push_back(servers.back()->port());
  }
  const absl::Time start = absl::Now();
  Dialer dialer(total, ports, *queue);
  const bool finished = dialer.Run(absl::Seconds(120));
  dialer.PrintSummary(absl::Now() - start);
  if (!finished) std::fprintf(stderr, "epoll_dialer: timed out\n");
  return finished && dialer.ok() ? 0 : 1;
}
