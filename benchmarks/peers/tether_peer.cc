// tether_peer: tether's connects per second to host:port, for compare.sh.
// K=1: Connector::ConnectAndWait in a loop. K>1: K Connect()s kept in flight;
// the caller sweeps connecting() over them and blocks in WaitAny() only when
// none is complete. Every connected socket is closed with SO_LINGER {1,0}.
// --query: ns per call of connecting(), error(), sockname() and peername() on
// a connected socket (its own listener, no sink needed).
// Usage: tether_peer host port K duration_seconds -> connects_per_sec=<float>
//        tether_peer --query -> connecting_ns=<f> error_ns=<f> ...
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tether/connector.h"
#include "tether/socket.h"

namespace {

using Clock = std::chrono::steady_clock;

// Keeps `value` alive as if it were read, and forces a fresh load next time.
template <typename T>
void Consume(const T& value) {
  asm volatile("" : : "r"(&value) : "memory");
}

void CloseLinger(tether::Socket& s) {
  const linger lg{1, 0};
  setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  s.Close().IgnoreError();
}

// Counts one finished socket: a connect or an error.
void Finish(tether::Socket& s, long* connects, long* errors) {
  if (s.error().ok()) {
    ++*connects;
    CloseLinger(s);
  } else {
    ++*errors;
  }
}

int Throughput(const char* host, uint16_t port, int k, double secs) {
  tether::Connector connector;
  long connects = 0, errors = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(secs));
  if (k <= 1) {
    while (Clock::now() < end) {
      auto s = connector.ConnectAndWait(host, port);
      if (s.ok()) {
        ++connects;
        CloseLinger(**s);
      } else {
        ++errors;
      }
    }
  } else {
    std::vector<std::shared_ptr<tether::Socket>> slots(k);
    for (auto& s : slots) s = connector.Connect(host, port);
    while (Clock::now() < end) {
      bool any = false;
      for (auto& s : slots) {
        if (s->connecting()) continue;
        any = true;
        Finish(*s, &connects, &errors);
        s = connector.Connect(host, port);
      }
      if (!any) (void)tether::WaitAny(slots, absl::Milliseconds(100));
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (errors) std::fprintf(stderr, "tether_peer: %ld errors\n", errors);
  std::printf("connects_per_sec=%.1f\n", connects / elapsed);
  return 0;
}

template <typename F>
double NsPerCall(F f) {
  constexpr int kCalls = 10000000;
  for (int i = 0; i < kCalls / 10; ++i) f();  // warm up
  auto t0 = Clock::now();
  for (int i = 0; i < kCalls; ++i) f();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         kCalls;
}

int Query() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(ls, 1) ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len)) {
    std::perror("tether_peer: listener");
    return 1;
  }
  tether::Connector connector;
  auto s = connector.ConnectAndWait("127.0.0.1", ntohs(a.sin_port));
  if (!s.ok()) {
    std::fprintf(stderr, "tether_peer: %s\n", s.status().ToString().c_str());
    return 1;
  }
  const tether::Socket& sock = **s;
  double connecting = NsPerCall([&] { Consume(sock.connecting()); });
  double error = NsPerCall([&] { Consume(sock.error()); });
  double sockname = NsPerCall([&] { Consume(sock.sockname()); });
  double peername = NsPerCall([&] { Consume(sock.peername()); });
  std::printf(
      "connecting_ns=%.2f error_ns=%.2f sockname_ns=%.2f "
      "peername_ns=%.2f\n",
      connecting, error, sockname, peername);
  close(ls);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--query") == 0) return Query();
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s host port K duration_seconds | --query\n",
                 argv[0]);
    return 2;
  }
  return Throughput(argv[1], std::atoi(argv[2]), std::atoi(argv[3]),
                    std::atof(argv[4]));
}
