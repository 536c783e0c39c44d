// Fault injection: reads and writes on a connected Socket fail or come up
// short.
//
// What is broken: recv(), send() and poll() on a real loopback connection,
// through the OS seam: EINTR (must be retried, invisibly), EAGAIN (blocking
// mode waits for readiness and retries; non-blocking mode returns
// kUnavailable), ECONNRESET and EPIPE (reported with
// absl::ErrnoToStatusCode(errno), naming the operation; no SIGPIPE), and
// short transfers (Write reports the count; WriteAll and ReadToEnd loop so
// the peer gets every byte in order). Live ECONNRESET from a peer that
// aborts is checked too.

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::WaitFor;

constexpr absl::Duration kLong = absl::Seconds(20);

std::atomic<int> g_sigpipes{0};

// The bytes of `s`, without the NUL a string literal's array would add.
absl::Span<const char> Bytes(absl::string_view s) {
  return absl::MakeConstSpan(s.data(), s.size());
}

void CountSigpipe(int) { g_sigpipes++; }

class IoFaultTest : public testing::FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    struct sigaction sa = {};
    sa.sa_handler = CountSigpipe;
    sigaction(SIGPIPE, &sa, &old_sigpipe_);
    g_sigpipes = 0;
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SocketAddress any = *SocketAddress::Parse("127.0.0.1", 0);
    ASSERT_EQ(bind(listen_fd_, any.data(), any.size()), 0);
    ASSERT_EQ(listen(listen_fd_, 16), 0);
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
                ->port();
    Connector& connector = NewConnector();
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("127.0.0.1", port_);
    ASSERT_TRUE(s.ok()) << s.status();
    socket_ = *s;
    peer_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(peer_, 0);
  }

  void TearDown() override {
    if (socket_ != nullptr) {
      EXPECT_TRUE(socket_->Close().ok());
    }
    socket_.reset();
    if (peer_ >= 0) close(peer_);
    close(listen_fd_);
    EXPECT_EQ(g_sigpipes.load(), 0) << "SIGPIPE reached the process";
    sigaction(SIGPIPE, &old_sigpipe_, nullptr);
    FaultTest::TearDown();
  }

  void PeerWrites(absl::string_view data) {
    ASSERT_EQ(send(peer_, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }

  std::string PeerReads(size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      ssize_t r = recv(peer_, buf, sizeof(buf), 0);
      if (r <= 0) break;
      out.append(buf, r);
    }
    return out;
  }

  // The peer aborts the connection: RST, no FIN.
  void PeerResets() {
    linger l = {1, 0};
    setsockopt(peer_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(peer_);
    peer_ = -1;
  }

  void FailFirst(Call call, int n, int err) {
    ops_.SetBefore(call, [n, err](const CallInfo& c) {
      return c.seq < n ? Action::Fail(err) : Action::Pass();
    });
  }

  absl::StatusOr<std::string> Read(size_t max = 64) {
    std::string buf(max, '\0');
    absl::StatusOr<size_t> n = socket_->Read(absl::MakeSpan(buf));
    if (!n.ok()) return n.status();
    buf.resize(*n);
    return buf;
  }

  struct sigaction old_sigpipe_ = {};
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::shared_ptr<Socket> socket_;
  int peer_ = -1;
};

TEST_F(IoFaultTest, RecvEintrIsRetried) {
  PeerWrites("hello");
  FailFirst(Call::kRecv, 3, EINTR);
  absl::StatusOr<std::string> got = Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello");
  EXPECT_EQ(ops_.calls(Call::kRecv), 4);
}

TEST_F(IoFaultTest, RecvEagainInBlockingModeWaitsAndRetries) {
  PeerWrites("hello");
  FailFirst(Call::kRecv, 1, EAGAIN);
  const int64_t polls = ops_.calls(Call::kPoll);  // the connect's
  absl::StatusOr<std::string> got = Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello");
  EXPECT_EQ(ops_.calls(Call::kRecv), 2);
  EXPECT_EQ(ops_.calls(Call::kPoll) - polls, 1);
}

TEST_F(IoFaultTest, RecvEagainInNonBlockingModeIsUnavailable) {
  PeerWrites("hello");
  FailFirst(Call::kRecv, 1, EAGAIN);
  ASSERT_TRUE(socket_->SetBlocking(false).ok());
  absl::StatusOr<std::string> got = Read();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  got = Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello");
}

TEST_F(IoFaultTest, RecvEconnreset) {
  ops_.FailAll(Call::kRecv, ECONNRESET);
  absl::StatusOr<std::string> got = Read();
  EXPECT_EQ(got.status().code(), absl::ErrnoToStatusCode(ECONNRESET));
  EXPECT_NE(got.status().message().find("read"), absl::string_view::npos)
      << got.status();
  EXPECT_NE(got.status().message().find(strerror(ECONNRESET)),
            absl::string_view::npos)
      << got.status();
}

TEST_F(IoFaultTest, RecvEconnresetLive) {
  PeerResets();
  absl::StatusOr<std::string> got = Read();
  EXPECT_EQ(got.status().code(), absl::ErrnoToStatusCode(ECONNRESET))
      << got.status();
}

TEST_F(IoFaultTest, SendEintrIsRetried) {
  FailFirst(Call::kSend, 3, EINTR);
  absl::StatusOr<size_t> n = socket_->Write(Bytes("hello"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(PeerReads(5), "hello");
  EXPECT_EQ(ops_.calls(Call::kSend), 4);
}

TEST_F(IoFaultTest, SendEagainInBlockingModeWaitsAndRetries) {
  FailFirst(Call::kSend, 1, EAGAIN);
  const int64_t polls = ops_.calls(Call::kPoll);  // the connect's
  absl::StatusOr<size_t> n = socket_->Write(Bytes("hello"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(PeerReads(5), "hello");
  EXPECT_EQ(ops_.calls(Call::kPoll) - polls, 1);
}

TEST_F(IoFaultTest, SendEagainInNonBlockingModeIsUnavailable) {
  FailFirst(Call::kSend, 1, EAGAIN);
  ASSERT_TRUE(socket_->SetBlocking(false).ok());
  EXPECT_EQ(socket_->Write(Bytes("hello")).status().code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<size_t> n = socket_->Write(Bytes("hello"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(PeerReads(5), "hello");
}

TEST_F(IoFaultTest, SendEpipe) {
  ops_.FailAll(Call::kSend, EPIPE);
  absl::StatusOr<size_t> n = socket_->Write(Bytes("hello"));
  EXPECT_EQ(n.status().code(), absl::ErrnoToStatusCode(EPIPE));
  EXPECT_NE(n.status().message().find("write"), absl::string_view::npos)
      << n.status();
  EXPECT_EQ(socket_->WriteAll(Bytes("hello")).code(),
            absl::ErrnoToStatusCode(EPIPE));
}

TEST_F(IoFaultTest, SendEconnreset) {
  ops_.FailAll(Call::kSend, ECONNRESET);
  EXPECT_EQ(socket_->Write(Bytes("hello")).status().code(),
            absl::ErrnoToStatusCode(ECONNRESET));
}

TEST_F(IoFaultTest, SendToAResetPeerLive) {
  PeerResets();
  absl::Status last;
  for (int i = 0; i < 100 && last.ok(); ++i) {
    last = socket_->Write(Bytes("data")).status();
    if (last.ok()) absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_TRUE(last.code() == absl::ErrnoToStatusCode(EPIPE) ||
              last.code() == absl::ErrnoToStatusCode(ECONNRESET))
      << last;
}

TEST_F(IoFaultTest, ShortWrites) {
  ops_.SetBefore(Call::kSend, [](const CallInfo&) { return Action::Short(7); });
  absl::StatusOr<size_t> n = socket_->Write(Bytes("hello, world"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 7u);
  EXPECT_EQ(PeerReads(7), "hello, ");
  std::string data(100 * 1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::string received;
  std::thread reader([&] { received = PeerReads(data.size()); });
  EXPECT_TRUE(socket_->WriteAll(data).ok());
  reader.join();
  EXPECT_EQ(received, data);
  EXPECT_GE(ops_.calls(Call::kSend), 1 + static_cast<int64_t>(data.size() / 7));
}

TEST_F(IoFaultTest, ShortReads) {
  ops_.SetBefore(Call::kRecv, [](const CallInfo&) { return Action::Short(3); });
  std::string data(1000, 'x');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('a' + i % 26);
  PeerWrites(data);
  shutdown(peer_, SHUT_WR);
  absl::StatusOr<std::string> got = socket_->ReadToEnd(1 << 20);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  EXPECT_GE(ops_.calls(Call::kRecv), 334);
}

TEST_F(IoFaultTest, PollEintrWhileBlockedIsRetried) {
  const int polls = static_cast<int>(ops_.calls(Call::kPoll));  // the connect's
  FailFirst(Call::kPoll, polls + 3, EINTR);
  absl::StatusOr<std::string> got;
  std::thread reader([&] { got = Read(); });
  ASSERT_TRUE(WaitFor([&] { return ops_.calls(Call::kPoll) >= polls + 4; }));
  PeerWrites("late");
  reader.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "late");
}

TEST_F(IoFaultTest, PollEnomemWhileBlocked) {
  ops_.FailAll(Call::kPoll, ENOMEM);
  absl::StatusOr<std::string> got = Read();
  EXPECT_EQ(got.status().code(), absl::ErrnoToStatusCode(ENOMEM));
  EXPECT_NE(got.status().message().find("poll"), absl::string_view::npos)
      << got.status();
}

}  // namespace
}  // namespace tether
