// Tests for Socket::Release() (lib/socket.cc, FdStream::Detach in
// lib/fd_stream.cc): the descriptor is handed over intact on every path that
// has one, every other path fails cleanly, concurrent Read/Write/Close
// neither block Release() nor touch the released number, and no descriptor
// is leaked. Waits are on conditions with bounded timeouts; loopback only.

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::CountOpenFds;
using testing::FakeResolver;
using testing::HangingListener;
using testing::Listener;
using testing::RefusingPort;
using testing::ThreadIsSleeping;
using testing::WaitFor;

constexpr absl::Duration kLong = absl::Seconds(20);

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }

// Writes `text` on the raw descriptor, half-closes it, and reads the echo
// until end of stream: proves the number is open and was not shut down.
std::string EchoThrough(int fd, const std::string& text) {
  EXPECT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(text.size()));
  EXPECT_EQ(shutdown(fd, SHUT_WR), 0);
  std::string reply;
  char buf[256];
  ssize_t n;
  // The descriptor may be non-blocking underneath (tether's is): poll.
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, n);
  return reply;
}

// Runs socket->Release() on a thread of its own.
class BackgroundRelease {
 public:
  explicit BackgroundRelease(std::shared_ptr<Socket> socket)
      : thread_([this, socket] {
          tid_ = Tid();
          result_ = socket->Release();
        }) {}
  ~BackgroundRelease() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until the thread sleeps inside Release().
  bool Blocked() {
    return WaitFor([&] {
      const pid_t tid = tid_;
      return tid != 0 && ThreadIsSleeping(tid);
    });
  }
  absl::StatusOr<int> Join() {
    thread_.join();
    return result_;
  }

 private:
  std::atomic<pid_t> tid_{0};
  absl::StatusOr<int> result_ = absl::UnknownError("not run");
  std::thread thread_;  // last: starts once the members above exist
};

TEST(SocketReleaseTest, HandsOverTheConnectedDescriptor) {
  Listener listener(Listener::Mode::kEcho);
  Connector connector;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  const int expected = (*s)->fd();
  absl::StatusOr<int> fd = (*s)->Release();
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(*fd, expected);
  EXPECT_EQ((*s)->fd(), -1);
  EXPECT_FALSE((*s)->readable_open());
  EXPECT_FALSE((*s)->writable_open());
  char c;
  EXPECT_EQ((*s)->Read(absl::MakeSpan(&c, 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*s)->Write(absl::MakeConstSpan("x", 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*s)->Close(Direction::kWrite).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*s)->Close().ok());  // nothing left to close
  EXPECT_EQ((*s)->Release().status().code(),
            absl::StatusCode::kFailedPrecondition);
  s->reset();  // ~Socket does not close it either
  ASSERT_TRUE(IsOpen(*fd));
  EXPECT_EQ(EchoThrough(*fd, "hello"), "hello");
  close(*fd);
}

TEST(SocketReleaseTest, BlockingReleaseWaitsForTheConnect) {
  Listener listener(Listener::Mode::kEcho);
  auto resolver = std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{listener.address()});
  ConnectorOptions options;
  options.resolver = resolver;
  Connector connector(options);
  ConnectOptions connect;
  connect.family = Family::kIPv4;
  resolver->Hold(Family::kIPv4);
  auto s =
      connector.Connect("server.test", listener.port(), std::move(connect));
  BackgroundRelease releaser(s);
  ASSERT_TRUE(releaser.Blocked());
  EXPECT_TRUE(s->connecting());
  resolver->Release();
  absl::StatusOr<int> fd = releaser.Join();
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(EchoThrough(*fd, "late"), "late");
  close(*fd);
}

TEST(SocketReleaseTest, NonBlockingReleaseWhileConnectingIsUnavailable) {
  HangingListener hanging;
  Connector connector;
  auto s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(s->SetBlocking(false).ok());
  EXPECT_EQ(s->Release().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s->connecting());  // nothing changed
  ASSERT_TRUE(s->Close().ok());
}

TEST(SocketReleaseTest, CloseInterruptsABlockingReleaseWhileConnecting) {
  HangingListener hanging;
  Connector connector;
  auto s = connector.Connect("127.0.0.1", hanging.port());
  BackgroundRelease releaser(s);
  ASSERT_TRUE(releaser.Blocked());
  ASSERT_TRUE(s->Close().ok());
  absl::StatusOr<int> fd = releaser.Join();
  ASSERT_FALSE(fd.ok());
  // Either the cancelled connect's error or "closed": never a descriptor.
  EXPECT_TRUE(fd.status().code() == absl::StatusCode::kCancelled ||
              fd.status().code() == absl::StatusCode::kFailedPrecondition)
      << fd.status();
}

TEST(SocketReleaseTest, AfterAFailedConnectReturnsItsError) {
  RefusingPort refusing;
  Connector connector;
  auto s = connector.Connect("127.0.0.1", refusing.port());
  ASSERT_TRUE(s->Wait(kLong));
  absl::StatusOr<int> fd = s->Release();
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status(), s->error());
  EXPECT_EQ(s->error_code(), ECONNREFUSED);
  auto bad = connector.Connect("", 80);
  EXPECT_EQ(bad->Release().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SocketReleaseTest, AfterCloseFailsWithFailedPrecondition) {
  Listener listener;
  HangingListener hanging;
  Connector connector;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->Close().ok());
  EXPECT_EQ((*s)->Release().status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Closed while connecting (cancelled).
  auto c = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(c->Close().ok());
  EXPECT_EQ(c->Release().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SocketReleaseTest, AfterHalfCloseHandsOverTheOpenSide) {
  Listener listener(Listener::Mode::kEcho);
  Connector connector;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->WriteAll("half").ok());
  ASSERT_TRUE((*s)->Close(Direction::kWrite).ok());
  absl::StatusOr<int> fd = (*s)->Release();
  ASSERT_TRUE(fd.ok()) << fd.status();
  std::string reply;
  char buf[64];
  fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
  ssize_t n;
  while ((n = recv(*fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, n);
  EXPECT_EQ(reply, "half");
  close(*fd);
}

TEST(SocketReleaseTest, WakesABlockedReadInAnotherThread) {
  Listener listener(Listener::Mode::kStreamEcho);
  Connector connector;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  std::shared_ptr<Socket> socket = *s;
  std::atomic<pid_t> tid{0};
  absl::StatusOr<size_t> read = absl::UnknownError("not yet");
  std::thread reader([&] {
    tid = Tid();
    char buf[16];
    read = socket->Read(absl::MakeSpan(buf));  // nothing comes: blocks
  });
  ASSERT_TRUE(WaitFor([&] { return tid != 0 && ThreadIsSleeping(tid); }));
  const absl::Time start = absl::Now();
  absl::StatusOr<int> fd = socket->Release();
  ASSERT_TRUE(fd.ok()) << fd.status();
  reader.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kCancelled)
      << read.status();
  // The reader consumed nothing and the number was neither shut down nor
  // closed: the stream still works end to end.
  EXPECT_EQ(EchoThrough(*fd, "still"), "still");
  close(*fd);
}

TEST(SocketReleaseTest, RacesWithIoAndCloseLeaveOneOwner) {
  Listener listener(Listener::Mode::kStreamEcho);
  Connector connector;
  const int before = CountOpenFds();
  for (int round = 0; round < 50; ++round) {
    auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
    ASSERT_TRUE(s.ok()) << s.status();
    std::shared_ptr<Socket> socket = *s;
    std::atomic<bool> go{false};
    absl::StatusOr<int> fd = absl::UnknownError("not run");
    absl::Status closed;
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      while (!go) {
      }
      fd = socket->Release();
    });
    threads.emplace_back([&] {
      while (!go) {
      }
      if (round % 2 == 0) closed = socket->Close();
    });
    threads.emplace_back([&] {
      char buf[8];
      while (!go) {
      }
      for (int i = 0; i < 20; ++i) {
        (void)socket->Write(absl::MakeConstSpan("ab", 2));
        if (!socket->SetBlocking(false).ok()) break;
        (void)socket->Read(absl::MakeSpan(buf));
      }
    });
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_TRUE(closed.ok()) << closed;
    if (fd.ok()) {
      EXPECT_TRUE(IsOpen(*fd));
      close(*fd);
    } else {
      EXPECT_EQ(fd.status().code(), absl::StatusCode::kFailedPrecondition)
          << fd.status();
      EXPECT_EQ(round % 2, 0) << "only a Close can beat Release";
    }
    EXPECT_EQ(socket->fd(), -1);
  }
  EXPECT_TRUE(WaitFor([&] { return CountOpenFds() == before; }))
      << CountOpenFds() << " open, " << before << " before";
}

TEST(SocketReleaseTest, LeaksNoDescriptor) {
  const int before = CountOpenFds();
  {
    Listener listener(Listener::Mode::kEcho);
    RefusingPort refusing;
    Connector connector;
    std::vector<int> released;
    for (int i = 0; i < 10; ++i) {
      auto s = connector.Connect("127.0.0.1", listener.port());
      absl::StatusOr<int> fd = s->Release();  // blocking: waits
      ASSERT_TRUE(fd.ok()) << fd.status();
      released.push_back(*fd);
    }
    auto failed = connector.Connect("127.0.0.1", refusing.port());
    EXPECT_FALSE(failed->Release().ok());
    for (int fd : released) close(fd);
  }
  EXPECT_TRUE(WaitFor([&] { return CountOpenFds() == before; }))
      << CountOpenFds() << " open, " << before << " before";
}

}  // namespace
}  // namespace tether
