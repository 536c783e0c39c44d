// testing/servers.h: loopback servers for tests, benchmarks and
// `tether-probe --demo`.
//
//   testing::Listener echo(testing::Listener::Mode::kEcho);
//   connector.Connect("127.0.0.1", echo.port());
//
// Everything here binds to 127.0.0.1 or ::1 only; nothing leaves the
// machine. Each server has two ways to start: the constructor, which aborts
// (with a message on stderr) when the server cannot start, for tests and
// benchmarks where a missing fixture would only measure nothing; and Start(),
// which returns the failure, for tools (the probe's demo).
//
// Not part of tether (//:tether), and not testonly: tether-probe ships it.
//
// Thread safety: each server runs its own threads; port(), address(),
// has_ipv6() and accepted() are safe from any thread. Construction and
// destruction need external synchronization (as for any object).

#ifndef TETHER_TESTING_SERVERS_H_
#define TETHER_TESTING_SERVERS_H_

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tether/address.h"

namespace tether {
namespace testing {

// A listener that accepts on its own thread. kHold keeps each accepted
// connection open until the listener is destroyed; kClose closes it at once
// (a plain FIN); kEcho reads until the peer half-closes, writes everything
// back, then closes (TIP 332's use case); kStreamEcho writes back each chunk
// as it arrives and closes at end-of-stream. Backlog 4096.
//
// `family`: AF_INET (127.0.0.1), AF_INET6 (::1, which must exist), or
// AF_UNSPEC: 127.0.0.1 and, where ::1 can be bound, ::1 at the same port
// (so "localhost" works whichever addresses it resolves to).
class Listener {
 public:
  enum class Mode { kHold, kClose, kEcho, kStreamEcho };
  explicit Listener(Mode mode = Mode::kHold, int family = AF_INET);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Listener>> Start(
      Mode mode = Mode::kHold, int family = AF_INET);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  // Stops accepting, wakes every connection thread and joins it.
  ~Listener();

  uint16_t port() const { return port_; }
  // The first address listened on (127.0.0.1 for AF_UNSPEC).
  SocketAddress address() const;
  // Whether ::1 is listened on too (AF_INET6, or AF_UNSPEC with ::1).
  bool has_ipv6() const { return fds_[1] >= 0; }
  int accepted() const { return accepted_.load(); }

 private:
  Listener(std::nullptr_t, Mode mode, int family)  // not started yet
      : mode_(mode), family_(family) {}
  absl::Status Init();
  absl::Status Bind();
  void Serve();
  void Accept(int listen_fd);
  void Echo(int fd);
  bool Woken() const;

  const Mode mode_;
  const int family_;
  int fds_[2] = {-1, -1};   // listening: [0] the family's (or IPv4), [1] ::1
  int wake_[2] = {-1, -1};  // a pipe written once by the destructor
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};          // written by the accept thread
  std::vector<int> held_;                 // kHold; only the accept thread adds
  std::vector<std::thread> connections_;  // only the accept thread adds
  std::thread acceptor_;
};

// A TCP socket bound to an ephemeral port of a loopback address: what
// HangingListener and RefusingPort share.
class BoundPort {
 public:
  BoundPort(const BoundPort&) = delete;
  BoundPort& operator=(const BoundPort&) = delete;

  uint16_t port() const { return port_; }
  SocketAddress address() const;

 protected:
  explicit BoundPort(int family) : family_(family) {}
  ~BoundPort();
  absl::Status Bind();  // fd_ and port_

  const int family_;
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A listener whose accept queue is full: listen(fd, 0), one connection
// queued and never accepted, so further connects to it hang (the kernel
// drops their SYNs, SYN_SENT) until the client gives up (~2 min).
class HangingListener : public BoundPort {
 public:
  explicit HangingListener(int family = AF_INET);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HangingListener>> Start(
      int family = AF_INET);
  ~HangingListener();

 private:
  HangingListener(std::nullptr_t, int family) : BoundPort(family) {}
  absl::Status Init();

  int filler_ = -1;  // the queued connection
};

// A port nobody listens on (held bound, so nobody else takes it): a connect
// to it is refused at once.
class RefusingPort : public BoundPort {
 public:
  explicit RefusingPort(int family = AF_INET);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RefusingPort>> Start(
      int family = AF_INET);

 private:
  RefusingPort(std::nullptr_t, int family) : BoundPort(family) {}
};

// Whether ::1 can be bound here.
bool HaveIPv6Loopback();

// "127.0.0.1" or "::1" with `port`.
SocketAddress LoopbackAddress(int family, uint16_t port);

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTING_SERVERS_H_
