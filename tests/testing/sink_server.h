// tests/testing/sink_server.h: a loopback server for soak and stress tests.
//
// Accepts on its own thread (epoll, large backlog), reads and discards
// whatever each connection sends, never writes, and closes a connection
// once its peer closes or resets it. So a client's blocking Read waits until
// the client closes, and closing client sockets with SO_LINGER {1, 0} (a
// reset) leaves no TIME_WAIT on either side.

#ifndef TETHER_TESTS_TESTING_SINK_SERVER_H_
#define TETHER_TESTS_TESTING_SINK_SERVER_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "tether/address.h"

namespace tether {
namespace testing {

class SinkServer {
 public:
  // Listens on 127.0.0.1 (or ::1 for AF_INET6), an ephemeral port.
  explicit SinkServer(int family = AF_INET);
  ~SinkServer();
  SinkServer(const SinkServer&) = delete;
  SinkServer& operator=(const SinkServer&) = delete;

  uint16_t port() const { return port_; }
  SocketAddress address() const;
  int64_t accepted() const { return accepted_.load(); }
  // Accepted connections not yet closed.
  int64_t open() const { return open_.load(); }

 private:
  void Serve();

  const int family_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> open_{0};
  std::thread thread_;
};

// Sets SO_LINGER {1, 0} on `fd` (>= 0), so close() resets the connection
// instead of leaving it in TIME_WAIT.
void LingerZero(int fd);

// This process's resident set size in KiB (VmRSS), or -1.
long RssKib();

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_SINK_SERVER_H_
