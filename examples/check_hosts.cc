// check_hosts: many connects at once, no event loop (Tcl TIP 427's use case).
//
//   check_hosts [host:port ...]
//
// Starts a connect to every target through one tether::Connector, then keeps
// doing its own work, asking each socket between two pieces of work whether
// it is still connecting(): one lock-free load, which never blocks and never
// advances the connect. When none is left, prints what each one reached.
// With no arguments it checks servers it starts itself on loopback (a
// listener, and a port nobody listens on), so it needs no network.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tether/connector.h"

namespace {

struct Target {
  std::string text;  // as given: "localhost:80", "[::1]:80"
  std::string host;
  uint16_t port = 0;
};

// "host:port" or "[v6]:port"; exits on anything else.
Target ParseTarget(const std::string& text) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    std::fprintf(stderr, "check_hosts: bad target \"%s\" (want host:port)\n",
                 text.c_str());
    std::exit(2);
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {text, host, static_cast<uint16_t>(port)};
}

// A socket bound to 127.0.0.1 on a free port; listening if `listening`.
// The kernel completes handshakes into the accept queue on its own, so a
// listener needs no accept() for connects to succeed.
int LoopbackPort(bool listening, uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      (listening && listen(fd, 128) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("check_hosts: loopback server");
    std::exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// A listener whose accept queue is full (backlog 0, one connection queued
// and never accepted): connects to it hang until their timeout.
// Appends both descriptors to `fds`.
void HangingPort(uint16_t* port, std::vector<int>* fds) {
  int fd = LoopbackPort(false, port);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(*port);
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen(fd, 0) != 0 ||
      connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    std::perror("check_hosts: hanging port");
    std::exit(1);
  }
  fds->push_back(fd);
  fds->push_back(filler);  // closing it would free the queue
}

// The program's own work; here, a millisecond of arithmetic.
uint64_t DoOtherWork(uint64_t state) {
  const absl::Time until = absl::Now() + absl::Milliseconds(1);
  while (absl::Now() < until) state = state * 6364136223846793005u + 1;
  return state;
}

std::string Describe(const tether::Socket& s) {
  if (!s.error().ok()) return std::string(s.error().message());
  return absl::StrCat("connected ", s.sockname()->ToString(), " -> ",
                      s.peername()->ToString());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Target> targets;
  std::vector<int> servers;
  for (int i = 1; i < argc; ++i) targets.push_back(ParseTarget(argv[i]));
  absl::Duration timeout = absl::Seconds(5);
  if (targets.empty()) {
    // Loopback only: 6 connects that succeed, 2 refused, 2 that hang.
    uint16_t open = 0, closed = 0, hanging = 0;
    servers = {LoopbackPort(true, &open), LoopbackPort(false, &closed)};
    HangingPort(&hanging, &servers);
    for (uint16_t port : {open, open, open, closed, hanging, open, open, closed,
                          hanging, open}) {
      targets.push_back({absl::StrCat("127.0.0.1:", port), "127.0.0.1", port});
    }
    timeout = absl::Milliseconds(500);
  }

  tether::Connector connector;
  std::vector<std::shared_ptr<tether::Socket>> sockets;
  for (const Target& t : targets) {
    tether::ConnectOptions options;  // move-only (it may hold on_complete)
    options.timeout = timeout;
    sockets.push_back(connector.Connect(t.host, t.port, std::move(options)));
  }  // Each Connect() returned at once.

  const absl::Time start = absl::Now();
  uint64_t state = 1;
  int units = 0;
  auto connecting = [](const auto& s) { return s->connecting(); };
  while (std::any_of(sockets.begin(), sockets.end(), connecting)) {
    state = DoOtherWork(state);
    ++units;
  }
  std::printf(
      "%zu connects finished in %s; meanwhile %d units of other work "
      "(checksum %llu)\n",
      sockets.size(), absl::FormatDuration(absl::Now() - start).c_str(), units,
      static_cast<unsigned long long>(state % 1000));

  int connected = 0;
  for (size_t i = 0; i < sockets.size(); ++i) {
    connected += sockets[i]->error().ok() ? 1 : 0;
    std::printf("  %-16s  %s\n", targets[i].text.c_str(),
                Describe(*sockets[i]).c_str());
  }
  std::printf("%d of %zu connected\n", connected, sockets.size());
  for (const auto& s : sockets) (void)s->Close();
  for (int fd : servers) close(fd);
  return 0;
}
