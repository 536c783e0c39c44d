// tools/probe/demo_servers.h: the loopback servers tether-probe --demo
// probes. Everything binds to 127.0.0.1 or ::1 only; nothing leaves the
// machine.

#ifndef TETHER_TOOLS_PROBE_DEMO_SERVERS_H_
#define TETHER_TOOLS_PROBE_DEMO_SERVERS_H_

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace tether {
namespace probe {

// Reads each connection until the client half-closes, then writes back
// everything it read and closes (TIP 332's use case). Listens on 127.0.0.1
// and, when ::1 can be bound, on ::1 at the same port, so "localhost" works
// whichever addresses it resolves to.
class EchoServer {
 public:
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  // Stops accepting, wakes every connection thread and joins it.
  ~EchoServer();

  uint16_t port() const { return port_; }
  bool has_ipv6() const { return v6_ >= 0; }

 private:
  EchoServer() = default;
  absl::Status Listen();
  void Serve();
  void Echo(int fd);
  bool Woken() const;

  int v4_ = -1;
  int v6_ = -1;
  int wake_[2] = {-1, -1};  // written once by the destructor
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor touches it
};

// A port nobody listens on (held bound, so nobody else takes it): a
// connect to it is refused at once.
class RefusingPort {
 public:
  static absl::StatusOr<std::unique_ptr<RefusingPort>> Start();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  ~RefusingPort();
  uint16_t port() const { return port_; }

 private:
  RefusingPort() = default;
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A listener whose accept queue is full: listen(fd, 0), one connection
// queued and never accepted, so further connects to it hang (the kernel
// drops their SYNs) until the client gives up.
class HangingPort {
 public:
  static absl::StatusOr<std::unique_ptr<HangingPort>> Start();
  HangingPort(const HangingPort&) = delete;
  HangingPort& operator=(const HangingPort&) = delete;
  ~HangingPort();
  uint16_t port() const { return port_; }

 private:
  HangingPort() = default;
  int fd_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_DEMO_SERVERS_H_
