// sink: the loopback server every peer connects to. Measures nothing itself.
// Listens on 127.0.0.1:0 with a 4096 backlog, prints its port on stdout, and
// accepts and closes on its own accept thread until killed. Usage: sink
// With --hang it accepts nothing instead: backlog 0, its queue filled by four
// connects of its own, so a connect to it stays pending (its SYNs are
// dropped) until given up; tcl_query.tcl times -connecting on such a socket.
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
#include <string>
#include <thread>

int main(int argc, char** argv) {
  const bool hang = argc > 1 && std::string(argv[1]) == "--hang";
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(ls, hang ? 0 : 4096) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    perror("sink");
    return 1;
  }
  for (int i = 0; hang && i < 4; i++) {  // fill the queue (0 holds one)
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&a), len);
  }
  if (!hang)
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
