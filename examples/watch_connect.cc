// watch_connect: TIP 427 in one screen, on loopback only.
//
// Starts a listener whose accept queue is full, so a connect to it hangs;
// connects through tether and prints the lock-free queries every 50 ms; then
// frees the queue (accepts the queued connection) so the connect completes,
// and prints the queries once more. No event loop anywhere.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "tether/connector.h"

namespace {

std::string Show(const std::optional<tether::SocketAddress>& a) {
  return a.has_value() ? a->ToString() : "{}";
}

void Print(absl::Time start, const tether::Socket& s) {
  std::printf(
      "%6.0f ms  connecting=%d  error=%-12s  sockname=%-17s peername=%s\n",
      absl::ToDoubleMilliseconds(absl::Now() - start), s.connecting(),
      s.error().ok() ? "\"\"" : std::string(s.error().message()).c_str(),
      Show(s.sockname()).c_str(), Show(s.peername()).c_str());
}

}  // namespace

int main() {
  // A listener with backlog 0, its queue filled by one connection.
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(lfd, 0) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listener");
    return 1;
  }
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  connect(filler, reinterpret_cast<sockaddr*>(&addr), len);
  pollfd p = {filler, POLLOUT, 0};
  poll(&p, 1, 5000);
  const uint16_t port = ntohs(addr.sin_port);

  tether::Connector connector;
  std::printf("connecting to 127.0.0.1:%u (accept queue full: it hangs)\n",
              port);
  absl::Time start = absl::Now();
  std::shared_ptr<tether::Socket> s = connector.Connect("127.0.0.1", port);
  for (int i = 0; i < 5; ++i) {
    Print(start, *s);
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::printf("accepting the queued connection: the connect can finish\n");
  close(accept(lfd, nullptr, nullptr));
  while (s->connecting()) absl::SleepFor(absl::Milliseconds(1));
  Print(start, *s);

  std::printf("a refused connect, for comparison:\n");
  std::shared_ptr<tether::Socket> refused = connector.Connect("127.0.0.1", 1);
  (void)refused->Wait(absl::Seconds(5));
  Print(start, *refused);
  (void)s->Close();
  close(filler);
  close(lfd);
  return s->error().ok() ? 0 : 1;
}
