// Unix-domain sockets through Connect(SocketAddress::Unix(...)): the same
// queries, half-close, timeouts, cancellation and attempt records as TCP
// (issue 13). A Unix listener whose backlog is full makes a connect hang
// (Linux fails a non-blocking one with EAGAIN; the attempt waits and
// retries, as TCP retries its SYN).

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tether/connector.h"

namespace tether {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(20);

// A listening Unix socket at `path` ("@name": abstract), never accepting
// unless asked. With `full`, its backlog (0) is filled by one client, so
// the next connect hangs.
class UnixListener {
 public:
  explicit UnixListener(std::string path, bool full = false)
      : path_(std::move(path)), address_(*SocketAddress::Unix(path_)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (path_[0] != '@') unlink(path_.c_str());
    EXPECT_EQ(bind(fd_, address_.data(), address_.size()), 0) << errno;
    EXPECT_EQ(listen(fd_, full ? 0 : 16), 0);
    if (full) {
      filler_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      EXPECT_EQ(connect(filler_, address_.data(), address_.size()), 0);
    }
  }
  ~UnixListener() {
    if (filler_ >= 0) close(filler_);
    close(fd_);
    if (path_[0] != '@') unlink(path_.c_str());
  }
  const SocketAddress& address() const { return address_; }
  int Accept() { return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); }

 private:
  const std::string path_;
  const SocketAddress address_;
  int fd_ = -1;
  int filler_ = -1;
};

// In /tmp: Bazel's TEST_TMPDIR is too long for sockaddr_un.
std::string TempPath(absl::string_view name) {
  return absl::StrCat("/tmp/tether-test-", name, ".", getpid());
}

std::string AbstractName(absl::string_view name) {
  return absl::StrCat("@tether-test-", name, ".", getpid());
}

TEST(UnixAddressTest, PathAndAbstractRoundTrip) {
  SocketAddress p = *SocketAddress::Unix("/run/app.sock");
  EXPECT_EQ(p.family(), AF_UNIX);
  EXPECT_EQ(p.ToString(), "/run/app.sock");
  EXPECT_EQ(p.port(), 0);
  EXPECT_EQ(p.ip(), "");
  EXPECT_EQ(*SocketAddress::FromSockaddr(p.data(), p.size()), p);
  SocketAddress a = *SocketAddress::Unix("@name");
  EXPECT_EQ(a.ToString(), "@name");
  EXPECT_EQ(a.size(), offsetof(sockaddr_un, sun_path) + 5);
  EXPECT_EQ(*SocketAddress::FromSockaddr(a.data(), a.size()), a);
  EXPECT_NE(a, *SocketAddress::Unix("/name"));
  EXPECT_EQ(a.WithPort(80), a);
}

TEST(UnixAddressTest, BadPathsAreInvalidArgumentNamingThem) {
  for (std::string bad :
       {std::string(""), std::string("@"), std::string("/a\0b", 4),
        std::string(108, 'x'), "@" + std::string(108, 'y')}) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Unix(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(a.status().message(), HasSubstr("Unix socket path"));
  }
  EXPECT_TRUE(SocketAddress::Unix(std::string(107, 'x')).ok());
  EXPECT_TRUE(SocketAddress::Unix("@" + std::string(107, 'y')).ok());
}

class UnixSocketTest : public testing::FaultTest {};

TEST_F(UnixSocketTest, ConnectsWithQueriesAndHalfClose) {
  for (const std::string& path : {TempPath("half"), AbstractName("half")}) {
    UnixListener listener(path);
    Connector& connector = NewConnector();
    std::shared_ptr<Socket> s = connector.Connect(listener.address());
    ASSERT_TRUE(s->Wait(kLong));
    ASSERT_TRUE(s->error().ok()) << s->error();
    EXPECT_EQ(s->peername()->ToString(), path);
    EXPECT_EQ(s->sockname()->family(), AF_UNIX);
    EXPECT_EQ(s->sockname()->ToString(), "");  // unbound client
    ASSERT_EQ(s->attempts().size(), 1u);
    EXPECT_EQ(s->attempts()[0].address, listener.address());
    EXPECT_EQ(s->attempts()[0].outcome, Attempt::Outcome::kConnected);

    const int peer = listener.Accept();
    ASSERT_GE(peer, 0);
    ASSERT_TRUE(s->Write(absl::MakeConstSpan("ping", 4)).ok());
    ASSERT_TRUE(s->Close(Direction::kWrite).ok());  // shutdown(SHUT_WR)
    char buf[8];
    EXPECT_EQ(read(peer, buf, sizeof(buf)), 4);
    EXPECT_EQ(read(peer, buf, sizeof(buf)), 0);  // end of stream
    ASSERT_EQ(write(peer, "pong", 4), 4);
    absl::StatusOr<size_t> n = s->Read(absl::MakeSpan(buf, sizeof(buf)));
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(std::string(buf, *n), "pong");
    EXPECT_TRUE(s->Close(Direction::kRead).ok());  // the last: released
    EXPECT_EQ(s->fd(), -1);
    close(peer);
  }
}

TEST_F(UnixSocketTest, MissingPathFailsNamingIt) {
  const std::string path = TempPath("missing");
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect(*SocketAddress::Unix(path));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error_code(), ENOENT);
  EXPECT_EQ(s->error().message(),
            absl::StrCat("connect ", path, ": No such file or directory"));
}

TEST_F(UnixSocketTest, FullBacklogHangsUntilTheTimeout) {
  UnixListener listener(AbstractName("timeout"), /*full=*/true);
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.timeout = absl::Milliseconds(100);
  std::shared_ptr<Socket> s =
      connector.Connect(listener.address(), std::move(o));
  EXPECT_TRUE(s->connecting());
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_EQ(s->attempts().size(), 1u);
  EXPECT_EQ(s->attempts()[0].outcome, Attempt::Outcome::kTimedOut);
}

TEST_F(UnixSocketTest, FullBacklogConnectsOnceThereIsRoom) {
  UnixListener listener(AbstractName("room"), /*full=*/true);
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect(listener.address());
  ASSERT_TRUE(testing::WaitFor([&] { return !s->attempts().empty(); }, kLong));
  const int first = listener.Accept();  // the filler: room for one more
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_TRUE(s->error().ok()) << s->error();
  close(first);
  EXPECT_TRUE(s->Close().ok());
}

TEST_F(UnixSocketTest, CloseAndDestructionCancelAHangingConnect) {
  UnixListener listener(AbstractName("cancel"), /*full=*/true);
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> closed = connector.Connect(listener.address());
  std::shared_ptr<Socket> dropped = connector.Connect(listener.address());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return !closed->attempts().empty() && !dropped->attempts().empty();
      },
      kLong));
  EXPECT_TRUE(closed->Close().ok());
  EXPECT_EQ(closed->error().code(), absl::StatusCode::kCancelled);
  connector_.reset();
  ASSERT_FALSE(dropped->connecting());
  EXPECT_EQ(dropped->error().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(dropped->error().message(),
              HasSubstr(listener.address().ToString()));
  for (const auto& s : {closed, dropped}) {
    ASSERT_EQ(s->attempts().size(), 1u);
    EXPECT_EQ(s->attempts()[0].outcome, Attempt::Outcome::kCancelled);
  }
}

TEST_F(UnixSocketTest, IpOnlyOptionsAreIgnoredAndLocalAddressIsInvalid) {
  UnixListener listener(AbstractName("opts"));
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.tcp_nodelay = true;
  o.keepalive.enabled = true;
  std::shared_ptr<Socket> s =
      connector.Connect(listener.address(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_TRUE(s->error().ok()) << s->error();
  EXPECT_TRUE(s->Close().ok());

  ConnectOptions bad;
  bad.local_address = "127.0.0.1";
  s = connector.Connect(listener.address(), std::move(bad));
  ASSERT_FALSE(s->connecting());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tether
