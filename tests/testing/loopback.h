// tests/testing/loopback.h: loopback servers and process probes for tests.
//
// Everything here listens on 127.0.0.1 or ::1 only.

#ifndef TETHER_TESTS_TESTING_LOOPBACK_H_
#define TETHER_TESTS_TESTING_LOOPBACK_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "tether/address.h"

namespace tether {
namespace testing {

// A listener that accepts on its own thread. kHold keeps each accepted
// connection open until the listener is destroyed; kClose closes it at once;
// kEcho reads until the peer half-closes, writes everything back, then
// closes (TIP 332's use case); kStreamEcho writes back each chunk as it
// arrives and closes at end-of-stream.
class Listener {
 public:
  enum class Mode { kHold, kClose, kEcho, kStreamEcho };
  // REQUIRES: the family's loopback address exists (::1 for AF_INET6).
  explicit Listener(Mode mode = Mode::kHold, int family = AF_INET);
  ~Listener();
  uint16_t port() const { return port_; }
  SocketAddress address() const;
  int accepted() const { return accepted_.load(); }

 private:
  void Serve();
  void Echo(int fd);

  const Mode mode_;
  const int family_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<int> held_;
  std::vector<std::thread> echoers_;
  std::thread thread_;
};

// A listener whose accept queue is full: listen(fd, 0), never accepts, and
// one connection already queued, so further connects to it hang.
class HangingListener {
 public:
  explicit HangingListener(int family = AF_INET);
  ~HangingListener();
  uint16_t port() const { return port_; }
  SocketAddress address() const;

 private:
  const int family_;
  int fd_ = -1;
  std::vector<int> fillers_;
  uint16_t port_ = 0;
};

// A port with no listener (kept bound, so nobody else takes it): a connect
// to it is refused at once.
class RefusingPort {
 public:
  explicit RefusingPort(int family = AF_INET);
  ~RefusingPort();
  uint16_t port() const { return port_; }
  SocketAddress address() const;

 private:
  const int family_;
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Whether ::1 can be bound here.
bool HaveIPv6Loopback();

// Open descriptors (/proc/self/fd) and threads (/proc/self/task) now.
int CountOpenFds();
int CountThreads();

// Whether thread `tid` of this process is asleep (state S in its stat): a
// test thread that has nothing else to block on is then inside a blocking
// call.
bool ThreadIsSleeping(pid_t tid);

// Polls `condition` until it holds or `timeout` passes; returns its value.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10));

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_LOOPBACK_H_
