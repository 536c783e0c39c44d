// Happy Eyeballs over a real route: two network namespaces joined by a veth
// pair, dual-stack, where the server side drops its IPv6 replies (a
// blackhole route back to the client), so an IPv6 SYN gets no answer, as on
// a host with a broken IPv6 path. The client must connect over IPv4 one
// Connection Attempt Delay (250 ms) later, not after the kernel's SYN
// timeout. Skips where namespaces cannot be made (not root, no iproute2).
//
// Every address used lives inside the two namespaces this test creates.
// Server and client run in forked children (setns() on a single-threaded
// process); the parent only sets up, collects results and tears down.

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

constexpr uint16_t kPort = 7443;

bool Shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string id = std::to_string(getpid() % 100000);
    client_ = "tthc" + id;
    server_ = "tths" + id;
    if (!Shell("ip netns add " + client_)) {
      GTEST_SKIP() << "cannot create network namespaces here (need root and "
                      "iproute2): skipping the real-route test";
    }
    created_ = true;
    const std::string vc = "tvc" + id, vs = "tvs" + id;
    for (const std::string& cmd : {
             "ip netns add " + server_,
             "ip link add " + vc + " type veth peer name " + vs,
             "ip link set " + vc + " netns " + client_,
             "ip link set " + vs + " netns " + server_,
             "ip -n " + client_ + " addr add 10.77.0.1/24 dev " + vc,
             "ip -n " + server_ + " addr add 10.77.0.2/24 dev " + vs,
             "ip -n " + client_ + " addr add fd77::1/64 dev " + vc + " nodad",
             "ip -n " + server_ + " addr add fd77::2/64 dev " + vs + " nodad",
             "ip -n " + client_ + " link set " + vc + " up",
             "ip -n " + server_ + " link set " + vs + " up",
             "ip -n " + client_ + " link set lo up",
             "ip -n " + server_ + " link set lo up",
             // The server's IPv6 replies vanish: the client's SYN hangs.
             "ip -n " + server_ + " -6 route add blackhole fd77::1/128",
         }) {
      ASSERT_TRUE(Shell(cmd)) << cmd;
    }
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGKILL);
      waitpid(server_pid_, nullptr, 0);
    }
    if (created_) {
      Shell("ip netns del " + client_);  // also removes the veth pair
      Shell("ip netns del " + server_);
    }
  }

  // Moves this (single-threaded, forked) process into namespace `name`.
  static bool Enter(const std::string& name) {
    int fd = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    return fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
  }

  // Starts a dual-stack listener in the server namespace; returns once it
  // listens (the child writes one byte on `ready`).
  void StartServer() {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    server_pid_ = fork();
    if (server_pid_ == 0) {
      close(ready[0]);
      if (!Enter(server_)) _exit(1);
      int fd = socket(AF_INET6, SOCK_STREAM, 0);
      int zero = 0;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
      SocketAddress any = *SocketAddress::Parse("::", kPort);
      if (bind(fd, any.data(), any.size()) != 0 || listen(fd, 128) != 0)
        _exit(2);
      if (write(ready[1], "x", 1) != 1) _exit(3);
      for (;;) close(accept(fd, nullptr, nullptr));
    }
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1) << "server did not start";
    close(ready[0]);
  }

  std::string client_, server_;
  bool created_ = false;
  pid_t server_pid_ = -1;
};

// Runs in the client namespace; exit code: 0 when connected over IPv4
// after the delay and the IPv6 attempt was cancelled, else a failure code.
int ClientMain(int report_fd) {
  auto resolver = std::make_shared<testing::FakeResolver>(
      std::vector<SocketAddress>{*SocketAddress::Parse("fd77::2", kPort),
                                 *SocketAddress::Parse("10.77.0.2", kPort)});
  ConnectorOptions co;
  co.resolver = resolver;
  Connector connector(std::move(co));
  absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("dual.test", kPort);
  double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  std::string report = absl::StrCat(
      s.ok() ? (*s)->peername()->ToString() : s.status().ToString(), " ", ms);
  if (write(report_fd, report.data(), report.size()) < 0) return 9;
  if (!s.ok()) return 4;
  if ((*s)->peername()->ip() != "10.77.0.2") return 5;
  if (!testing::WaitFor([&] {
        return (*s)->attempts()[0].outcome == Attempt::Outcome::kCancelled;
      })) {
    return 6;
  }
  return ms >= 245 && ms < 2000 ? 0 : 7;
}

TEST_F(NetnsTest, BlackHoledIPv6RouteFallsBackToIPv4AfterTheDelay) {
  StartServer();
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    _exit(Enter(client_) ? ClientMain(out[1]) : 8);
  }
  close(out[1]);
  char buf[256] = "";
  ssize_t n = read(out[0], buf, sizeof(buf) - 1);
  close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  std::string report(buf, n > 0 ? n : 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "client reported: " << report;
  std::printf("connected to %s ms after the start\n", report.c_str());
}

}  // namespace
}  // namespace tether
