// Fault injection, live: the process runs out of descriptors.
//
// What is broken: RLIMIT_NOFILE, lowered for real (no seam) in a forked
// child process, so the test binary itself is never short of descriptors.
// Expected: once the limit is reached, a connect fails cleanly: kResource
// Exhausted with EMFILE from socket(), recorded as an attempt at the
// address, the message naming it; no crash, no hang, no descriptor leaked;
// and connects work again as soon as descriptors are freed. The child
// reports through its exit code (0: all good; otherwise the number of the
// first failed check, printed on stderr).

#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/fault_injecting_socket_ops.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

constexpr absl::Duration kLong = absl::Seconds(20);

#define CHILD_CHECK(n, cond)                                    \
  do {                                                          \
    if (!(cond)) {                                              \
      fprintf(stderr, "child check %d failed: %s\n", n, #cond); \
      return n;                                                 \
    }                                                           \
  } while (0)

// Runs in the child. Returns its exit code.
int ExhaustDescriptors(uint16_t port) {
  const SocketAddress address = *SocketAddress::Parse("127.0.0.1", port);
  Connector connector;
  // Warm up: worker and timer threads exist before the limit is lowered.
  {
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("127.0.0.1", port);
    CHILD_CHECK(1, s.ok());
    CHILD_CHECK(2, (*s)->Close().ok());
  }
  const int fds = testing::CountOpenFds();
  CHILD_CHECK(3, fds > 0);
  rlimit lim = {static_cast<rlim_t>(fds + 8), static_cast<rlim_t>(fds + 8)};
  CHILD_CHECK(4, setrlimit(RLIMIT_NOFILE, &lim) == 0);

  std::vector<std::shared_ptr<Socket>> held;
  std::shared_ptr<Socket> failed;
  for (int i = 0; i < 64 && failed == nullptr; ++i) {
    std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", port);
    if (!s->Wait(kLong)) return 5;
    if (s->error().ok()) {
      held.push_back(s);
    } else {
      failed = s;
    }
  }
  CHILD_CHECK(6, failed != nullptr);
  const size_t at_limit = held.size();
  CHILD_CHECK(7, held.size() >= 4);
  CHILD_CHECK(8, failed->error_code() == EMFILE);
  CHILD_CHECK(9,
              failed->error().code() == absl::StatusCode::kResourceExhausted);
  CHILD_CHECK(10, failed->error().message().find(address.ToString()) !=
                      std::string::npos);
  std::vector<Attempt> a = failed->attempts();
  CHILD_CHECK(11, a.size() == 1 && a[0].error_code == EMFILE &&
                      a[0].outcome == Attempt::Outcome::kFailed);
  CHILD_CHECK(12, failed->fd() == -1);
  // Still out of descriptors: fails again, the same way, at once.
  std::shared_ptr<Socket> again = connector.Connect("127.0.0.1", port);
  CHILD_CHECK(13, again->Wait(kLong) && again->error_code() == EMFILE);

  // Free one descriptor: connects work again.
  CHILD_CHECK(14, held.back()->Close().ok());
  held.pop_back();
  absl::StatusOr<std::shared_ptr<Socket>> healed =
      connector.ConnectAndWait("127.0.0.1", port);
  CHILD_CHECK(15, healed.ok());
  held.push_back(*healed);

  for (auto& s : held) CHILD_CHECK(16, s->Close().ok());
  held.clear();
  failed.reset();
  again.reset();
  CHILD_CHECK(17, testing::CountOpenFds() == fds);  // nothing leaked
  fprintf(stderr,
          "child: limit %d descriptors; %zu connects held, then EMFILE; "
          "healed after one close; no leak\n",
          fds + 8, at_limit);
  return 0;
}

TEST(RlimitFaultTest, EmfileWhenOutOfDescriptorsThenHeals) {
  // A listener without an accept thread (the kernel completes connections
  // into its backlog), so this process has one thread when it forks: TSan
  // does not support starting threads after a multi-threaded fork.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  SocketAddress any = *SocketAddress::Parse("127.0.0.1", 0);
  ASSERT_EQ(bind(fd, any.data(), any.size()), 0);
  ASSERT_EQ(listen(fd, 256), 0);
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  const uint16_t port =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
          ->port();
  ASSERT_EQ(testing::CountThreads(), testing::IdleThreadCount());
  fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(ExhaustDescriptors(port));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  close(fd);
  ASSERT_TRUE(WIFEXITED(status))
      << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's message on stderr";
}

}  // namespace
}  // namespace tether
