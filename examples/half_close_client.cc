// half_close_client: send a request, half-close, read the whole reply
// (Tcl TIP 332's use case).
//
//   half_close_client [host:port [request]]
//
// Writes the request, then Close(Direction::kWrite): a shutdown(SHUT_WR)
// that tells the server "that is all" while the socket stays readable, and
// reads the reply to end-of-stream. Servers that answer only once they have
// seen the whole request need exactly this. With no host:port it talks to a
// server it starts itself on loopback, which replies with the request's
// size and the request in upper case once the client half-closes.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tether/connector.h"

namespace {

// A loopback server for one connection: reads to end-of-stream, replies.
class UpperCaseServer {
 public:
  UpperCaseServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("half_close_client: loopback server");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { ServeOne(); });
  }
  ~UpperCaseServer() {
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void ServeOne() {
    int c = accept(fd_, nullptr, nullptr);
    std::string request;
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0) request.append(buf, n);
    // n == 0: the client half-closed, so the request is complete.
    for (char& ch : request) ch = std::toupper(static_cast<unsigned char>(ch));
    std::string reply = absl::StrCat(request.size(), " bytes: ", request);
    (void)!write(c, reply.data(), reply.size());
    close(c);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string request = argc > 2 ? argv[2] : "hello, half-closed world\n";
  std::unique_ptr<UpperCaseServer> server;
  if (argc > 1) {
    const std::string target = argv[1];
    const size_t colon = target.rfind(':');
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(target.substr(colon + 1), &port)) {
      std::fprintf(stderr, "usage: half_close_client [host:port [request]]\n");
      return 2;
    }
    host = target.substr(0, colon);
  } else {
    server = std::make_unique<UpperCaseServer>();
    port = server->port();
  }

  tether::Connector connector;
  absl::StatusOr<std::shared_ptr<tether::Socket>> s =
      connector.ConnectAndWait(host, static_cast<uint16_t>(port));
  if (!s.ok()) {
    std::fprintf(stderr, "connect: %s\n", s.status().ToString().c_str());
    return 1;
  }
  tether::Socket& socket = **s;
  absl::Status st = socket.WriteAll(request);
  if (st.ok()) st = socket.Close(tether::Direction::kWrite);  // "that is all"
  std::printf(
      "sent %zu bytes to %s and half-closed; writable_open=%d "
      "readable_open=%d\n",
      request.size(), socket.peername()->ToString().c_str(),
      socket.writable_open(), socket.readable_open());
  absl::StatusOr<std::string> reply = socket.ReadToEnd(1 << 20);
  if (!st.ok() || !reply.ok()) {
    std::fprintf(stderr, "exchange: %s\n",
                 (st.ok() ? reply.status() : st).ToString().c_str());
    return 1;
  }
  std::printf("reply (%zu bytes): %s", reply->size(), reply->c_str());
  return socket.Close().ok() ? 0 : 1;  // closes the read side: fd released
}
