// Regressions found by issue 8 (fault injection, fuzzing, soak). Each test
// here failed against lib/ when it was written; see the issue's report.

#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include <functional>
#include <memory>

#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;

constexpr absl::Duration kLong = absl::Seconds(20);

class Issue8Test : public testing::FaultTest {};

TEST_F(Issue8Test, ZeroPortIsInvalidArgument) {
  // connector.h: "Bad arguments (... a zero port) give a Socket already
  // complete with kInvalidArgument naming the bad value."
  Connector& connector = NewConnector();
  bool inline_callback = false;
  ConnectOptions o;
  o.on_complete = [&](Socket&) { inline_callback = true; };
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", 0, std::move(o));
  EXPECT_TRUE(inline_callback);
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument)
      << s->error();
  EXPECT_EQ(ops_.sockets_opened(), 0);
}

// Runs `body` in a forked child (killed after 10 s); returns its wait
// status. For regressions that crash or hang the process.
int InChild(const std::function<int()>& body) {
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    _exit(body());
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

// A loopback listening socket without an accept thread (the kernel
// completes connects into its backlog): no thread exists when we fork.
int ListenOnLoopback(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SocketAddress any = *SocketAddress::Parse("127.0.0.1", 0);
  bind(fd, any.data(), any.size());
  listen(fd, 64);
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *port = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
              ->port();
  return fd;
}

TEST(Issue8ForkTest, EaiSystemWithoutErrnoIsStillAnError) {
  // getaddrinfo() reports EAI_SYSTEM but errno is 0. GaiError() turns it
  // into PosixError(context, 0), whose code is ErrnoToStatusCode(0) == kOk;
  // the OK status then goes into a StatusOr, which Debian's abseil (built
  // without NDEBUG) treats as fatal: the process aborts.
  const int status = InChild([] {
    testing::FaultInjectingSocketOps ops;
    ops.SetBefore(Call::kGetAddrInfo, [](const CallInfo&) {
      return Action::FailGai(EAI_SYSTEM, 0);
    });
    ConnectorOptions o;
    o.socket_ops = &ops;
    Connector connector(std::move(o));
    std::shared_ptr<Socket> s =
        connector.Connect("fault.test", 80, testing::Serial());
    if (!s->Wait(kLong)) return 1;
    if (s->error().ok()) return 2;  // a failed resolution published as OK
    char c;
    if (s->Read(absl::MakeSpan(&c, 1)).ok()) return 3;
    return s->Close().ok() ? 0 : 4;
  });
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Issue8ForkTest, HugeMaxQueuedNeitherRejectsEverythingNorHangs) {
  // ConnectorOptions::max_queued above PTRDIFF_MAX becomes a negative
  // capacity for tbb::concurrent_bounded_queue, which this oneTBB turns into
  // capacity 0 (its infinite_capacity is ~ptrdiff_t(0) / 2 == 0): every
  // Connect() fails "too many queued connects", and ~Connector blocks for
  // ever in Shutdown()'s queue_.push(nullptr). Runs in a child with an
  // alarm so a hang fails the test instead of the whole run.
  uint16_t port;
  const int listen_fd = ListenOnLoopback(&port);
  const int status = InChild([port] {
    int rc = 0;
    {
      ConnectorOptions o;
      o.max_queued = SIZE_MAX;
      Connector connector(std::move(o));
      std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", port);
      if (!s->Wait(kLong) || !s->error().ok()) {
        fprintf(stderr, "connect: %s\n", s->error().ToString().c_str());
        rc = 1;
      }
      (void)s->Close();
    }  // ~Connector
    return rc;
  });
  close(listen_fd);
  EXPECT_FALSE(WIFSIGNALED(status))
      << "~Connector hung (killed by signal " << WTERMSIG(status) << ")";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "every Connect() was rejected";
}

}  // namespace
}  // namespace tether
