// Regressions found by issue 8 (fault injection, fuzzing, soak). Each test
// here failed against lib/ when it was written (hang, abort, use-after-free
// or a wrong status); each is fixed now.

#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
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

TEST(Issue8ForkTest, DestroyingAConnectorDuringAHappyEyeballsRaceNeverHangs) {
  // Found by fuzz/scripted_connect_fuzzer (a timeout in ~Connector).
  //
  // A Happy Eyeballs race (family kAny, delay > 0, a non-numeric host)
  // starts its per-family resolutions and attempts with
  // WorkerPool::Submit(only_if_idle) from the coordinator's worker thread.
  // ~ConnectorImpl cancels, stops the timer and calls WorkerPool::Shutdown()
  // while that coordinator may still be running, so Submit() races
  // Shutdown() (worker_pool.h: "Shutdown() must not race with Submit()").
  // Shutdown() snapshots running_ and pushes one null task per worker in the
  // snapshot; a worker that StartWorker() adds after the snapshot takes one
  // of those signals and exits, and a worker from the snapshot is left
  // parked in Park() with no signal, while Shutdown() joins it: hang. Or
  // the late worker is never joined at all and touches the freed pool
  // (WorkerLoop's balance_.fetch_add): heap-use-after-free under ASan, as
  // NoWorkerOutlivesTheConnector shows.
  //
  // Fixed in 6656d00: StartWorker() starts threads under mu_ and refuses
  // once stopping_ is set; Shutdown() sets stopping_ under mu_ in the
  // critical section that takes the snapshot.
  const int status = InChild([] {
    std::mt19937 rng(8);
    auto resolver = std::make_shared<testing::FakeResolver>(
        std::vector<SocketAddress>{*SocketAddress::Parse("127.0.0.1", 9)});
    for (int i = 0; i < 1000; ++i) {
      ConnectorOptions co;
      co.resolver = resolver;
      auto connector = std::make_unique<Connector>(std::move(co));
      ConnectOptions o;
      o.happy_eyeballs_delay = absl::Milliseconds(1);
      o.timeout = absl::Milliseconds(50);
      std::shared_ptr<Socket> s =
          connector->Connect("race.test", 1, std::move(o));
      absl::SleepFor(absl::Microseconds(rng() % 40));
      connector.reset();  // hangs here when the race is lost
      if (s->connecting()) return 1;
    }
    return 0;
  });
  ASSERT_FALSE(WIFSIGNALED(status))
      << "~Connector hung (killed by signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Issue8ForkTest, NoWorkerOutlivesTheConnector) {
  // The same race, made deterministic: the worker thread a Happy Eyeballs
  // coordinator starts for its IPv6 resolution takes 30 ms to start (a
  // delay injected into pthread_create). Meanwhile the socket completes by
  // its 1 ms deadline and the Connector is destroyed: Shutdown() snapshots
  // the workers without the one being started, which then runs after the
  // pool is freed. Found by fuzz/scripted_connect_fuzzer as a
  // heap-use-after-free in WorkerLoop() (balance_.fetch_add). Checked here
  // without ASan too: once ~Connector returns, no thread of it may be left.
  const int status = InChild([] {
    const int idle = testing::IdleThreadCount();
    testing::FaultInjectingSocketOps ops;
    ops.SetBefore(testing::Call::kStartThread, [](const testing::CallInfo& c) {
      // 0: the timer, 1: the first worker, 2: the race's first sub-worker.
      return c.seq == 2 ? testing::Action::Delay(absl::Milliseconds(30))
                        : testing::Action::Pass();
    });
    auto resolver = std::make_shared<testing::FakeResolver>(
        std::vector<SocketAddress>{*SocketAddress::Parse("127.0.0.1", 9)});
    {
      ConnectorOptions co;
      co.resolver = resolver;
      co.socket_ops = &ops;
      Connector connector(std::move(co));
      ConnectOptions o;
      o.happy_eyeballs_delay = absl::Milliseconds(1);
      o.timeout = absl::Milliseconds(1);
      std::shared_ptr<Socket> s =
          connector.Connect("race.test", 1, std::move(o));
      if (!s->Wait(absl::Seconds(10))) return 1;
    }  // ~Connector while pthread_create is still delayed
    absl::SleepFor(absl::Milliseconds(100));  // the late worker has started
    if (testing::CountThreads() != idle) {
      fprintf(stderr, "%d threads left after ~Connector (%d before)\n",
              testing::CountThreads(), idle);
      return 2;
    }
    return 0;
  });
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace tether
