// hello_tether: a program outside tether's workspace that depends on it.
//
// Starts a loopback server that answers "pong" once the client half-closes,
// connects to it through tether, sends "ping", half-closes, and reads the
// reply. Needs no network.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "tether/connector.h"

namespace {

// A listening socket on 127.0.0.1; stores its port.
int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(fd, 8) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// Reads the request to end-of-stream, then answers "pong".
void ServeOne(int listener) {
  int c = accept(listener, nullptr, nullptr);
  char buf[256];
  while (read(c, buf, sizeof(buf)) > 0) {
  }
  (void)!write(c, "pong", 4);
  close(c);
}

}  // namespace

int main() {
  uint16_t port = 0;
  int listener = Listen(&port);
  std::thread server(ServeOne, listener);

  tether::Connector connector;
  std::shared_ptr<tether::Socket> s = connector.Connect("127.0.0.1", port);
  while (s->connecting()) std::this_thread::yield();  // lock-free query
  if (!s->error().ok()) {
    std::fprintf(stderr, "connect: %s\n", s->error().ToString().c_str());
    return 1;
  }
  absl::Status st = s->WriteAll("ping");
  if (st.ok()) st = s->Close(tether::Direction::kWrite);  // the server sees EOF
  absl::StatusOr<std::string> reply = s->ReadToEnd(1024);
  server.join();
  close(listener);
  if (!st.ok() || !reply.ok()) {
    std::fprintf(stderr, "exchange failed\n");
    return 1;
  }
  std::printf("connected %s -> %s, sent \"ping\", got \"%s\"\n",
              s->sockname()->ToString().c_str(),
              s->peername()->ToString().c_str(), reply->c_str());
  return *reply == "pong" && s->Close().ok() ? 0 : 1;
}
