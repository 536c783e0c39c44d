// refused: a program in another Bazel module that depends on tether.
//
// Starts connects to a few loopback ports nobody listens on, all at once,
// watches them with the lock-free connecting() query, and prints what each
// one ended with. Needs no network.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "tether/connector.h"

// A loopback port that refuses connections: bound, then closed.
static uint16_t RefusingPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

int main() {
  tether::Connector connector;
  std::vector<std::shared_ptr<tether::Socket>> sockets;
  for (int i = 0; i < 4; ++i) {
    sockets.push_back(connector.Connect("127.0.0.1", RefusingPort()));
  }
  int refused = 0;
  for (const auto& s : sockets) {
    while (s->connecting()) std::this_thread::yield();
    std::printf("%s\n", s->error().ToString().c_str());
    refused += !s->error().ok();
  }
  std::printf("%d of %zu connects failed, as they should\n", refused,
              sockets.size());
  return refused == static_cast<int>(sockets.size()) ? 0 : 1;
}
