// sink: the loopback server every peer connects to. Measures nothing itself.
// Listens on 127.0.0.1:0 with a 4096 backlog, prints its port on stdout, and
// accepts and closes on its own accept thread until killed. Usage: sink
//
// The close is a plain FIN, not SO_LINGER {1,0}: an RST from here races the
// client's completion check, which then reads SO_ERROR == ECONNRESET and
// reports a connect that did succeed as failed (the raw epoll loop saw that on
// nearly every connect; Go, Asio, asyncio and Tcl check SO_ERROR the same
// way). The clients close with SO_LINGER {1,0}, whose RST also frees this
// side's FIN_WAIT2 socket, so neither side keeps a TIME_WAIT.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

int main() {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(ls, 4096) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    perror("sink");
    return 1;
  }
  std::thread([ls] {
    for (;;) {
      int fd = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) close(fd);
    }
  }).detach();
  std::printf("%d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  for (;;) pause();
}
