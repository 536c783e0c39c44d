// query_cost: the kernel reference for tether's state queries: ns per call of
// getsockopt(SO_ERROR), getsockname and getpeername on a connected loopback
// socket (its own listener, no sink needed).
// Usage: query_cost -> getsockopt_error_ns=<f> getsockname_ns=<f>
//                      getpeername_ns=<f>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

template <typename F>
static double NsPerCall(F f) {
  constexpr int kCalls = 200000;
  for (int i = 0; i < kCalls / 10; ++i) f();  // warm up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) f();
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now() - t0)
             .count() /
         kCalls;
}

int main() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(ls, 1) ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) ||
      connect(fd, reinterpret_cast<sockaddr*>(&a), len)) {
    perror("query_cost");
    return 1;
  }
  sockaddr_in out;
  int err;
  double so_error = NsPerCall([&] {
    socklen_t n = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n);
  });
  double sockname = NsPerCall([&] {
    socklen_t n = sizeof out;
    getsockname(fd, reinterpret_cast<sockaddr*>(&out), &n);
  });
  double peername = NsPerCall([&] {
    socklen_t n = sizeof out;
    getpeername(fd, reinterpret_cast<sockaddr*>(&out), &n);
  });
  std::printf(
      "getsockopt_error_ns=%.1f getsockname_ns=%.1f getpeername_ns=%.1f\n",
      so_error, sockname, peername);
}
