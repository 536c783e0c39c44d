// Tests of Socket's Channel side (TIP 332 on a connected socket), and of
// I/O issued while the connect is still running (TIP 427).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::FakeResolver;
using testing::HangingListener;
using ::testing::HasSubstr;
using testing::Listener;
using testing::RefusingPort;

std::shared_ptr<Socket> ConnectTo(Connector& connector, uint16_t port) {
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", port);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}

TEST(SocketIoTest, HalfCloseRoundTripWithAnEchoServer) {
  Listener echo(Listener::Mode::kEcho);
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, echo.port());
  ASSERT_TRUE(s->WriteAll("hello, half-close").ok());
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());  // The server sees EOF...
  EXPECT_FALSE(s->writable_open());
  EXPECT_TRUE(s->readable_open());
  absl::StatusOr<std::string> reply = s->ReadToEnd(1 << 20);  // ...and answers.
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "hello, half-close");
  EXPECT_GE(s->fd(), 0);
  EXPECT_TRUE(s->Close().ok());
  EXPECT_EQ(s->fd(), -1);
  EXPECT_FALSE(s->readable_open());
}

TEST(SocketIoTest, PeerReadsEndOfStreamAfterCloseWrite) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SocketAddress any = *SocketAddress::Parse("127.0.0.1", 0);
  ASSERT_EQ(bind(lfd, any.data(), any.size()), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t port =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
          ->port();
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, port);
  int peer = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(s->WriteAll("abc").ok());
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  char buf[8];
  EXPECT_EQ(read(peer, buf, sizeof(buf)), 3);
  EXPECT_EQ(read(peer, buf, sizeof(buf)), 0);  // end of stream
  ASSERT_EQ(write(peer, "xy", 2), 2);          // this side still reads
  char got[2];
  absl::StatusOr<size_t> n = s->Read(absl::MakeSpan(got, 2));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  close(peer);
  close(lfd);
  EXPECT_TRUE(s->Close().ok());
}

TEST(SocketIoTest, SecondHalfCloseFailsWithTclsText) {
  Listener listener;
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, listener.port());
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  absl::Status again = s->Close(Direction::kWrite);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "channel wasn't opened for writing");
  absl::StatusOr<size_t> w = s->Write("x");
  EXPECT_EQ(w.status().message(), "channel wasn't opened for writing");
  ASSERT_TRUE(s->Close(Direction::kRead).ok());  // The last one: releases it.
  EXPECT_EQ(s->fd(), -1);
  EXPECT_EQ(s->Close(Direction::kRead).message(),
            "channel wasn't opened for reading");
  EXPECT_TRUE(s->Close().ok());
}

TEST(SocketIoTest, BlockingIoWaitsForTheConnectToFinish) {
  Listener echo(Listener::Mode::kEcho);
  auto resolver = std::make_shared<FakeResolver>();
  resolver->SetAnswer(Family::kAny, std::vector<SocketAddress>{echo.address()},
                      absl::Milliseconds(100));
  ConnectorOptions co;
  co.resolver = resolver;
  Connector connector(std::move(co));
  ConnectOptions o;
  o.happy_eyeballs_delay = absl::ZeroDuration();
  std::shared_ptr<Socket> s = connector.Connect("slow.test", 1, std::move(o));
  ASSERT_TRUE(s->connecting());
  ASSERT_TRUE(s->WriteAll("queued while connecting").ok());  // waits
  EXPECT_FALSE(s->connecting());
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  EXPECT_EQ(*s->ReadToEnd(1024), "queued while connecting");
}

TEST(SocketIoTest, NonBlockingIoOnAConnectingSocketIsUnavailable) {
  HangingListener hanging;
  Connector connector;
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(s->SetBlocking(false).ok());
  char buf[4];
  EXPECT_EQ(s->Read(absl::MakeSpan(buf)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->Write("x").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->Close(Direction::kWrite).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s->connecting());
  EXPECT_TRUE(s->Close().ok());
}

TEST(SocketIoTest, NonBlockingReadWithNoDataIsUnavailable) {
  Listener listener;
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, listener.port());
  ASSERT_TRUE(s->SetBlocking(false).ok());
  char buf[4];
  EXPECT_EQ(s->Read(absl::MakeSpan(buf)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(SocketIoTest, IoOnAFailedSocketReturnsTheConnectError) {
  RefusingPort refusing;
  Connector connector;
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", refusing.port());
  char buf[4];
  absl::StatusOr<size_t> r = s->Read(absl::MakeSpan(buf));  // waits, then fails
  EXPECT_EQ(r.status(), s->error());
  EXPECT_EQ(s->Write("x").status(), s->error());
  EXPECT_TRUE(s->readable_open());
  EXPECT_TRUE(s->Close().ok());
  EXPECT_FALSE(s->readable_open());
  EXPECT_FALSE(s->writable_open());
}

TEST(SocketIoTest, ConcurrentReaderAndWriterMoveAMebibyteEachWay) {
  Listener echo(Listener::Mode::kStreamEcho);
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, echo.port());
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::thread writer([&] {
    EXPECT_TRUE(s->WriteAll(data).ok());
    EXPECT_TRUE(s->Close(Direction::kWrite).ok());
  });
  absl::StatusOr<std::string> got = s->ReadToEnd(2 << 20);
  writer.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST(SocketIoTest, CloseWakesABlockedReadWithCancelled) {
  Listener listener;  // holds the connection open, never writes
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, listener.port());
  absl::Status read_status;
  std::atomic<pid_t> tid{0};
  std::thread reader([&] {
    tid = gettid();
    char buf[16];
    read_status = s->Read(absl::MakeSpan(buf)).status();
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] { return tid != 0 && testing::ThreadIsSleeping(tid); }));
  ASSERT_TRUE(s->Close().ok());
  reader.join();
  EXPECT_EQ(read_status.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(read_status.message(), HasSubstr("channel closed"));
}

TEST(SocketIoTest, WriteToAGonePeerIsAnErrorNotSigpipe) {
  Listener listener(Listener::Mode::kClose);
  Connector connector;
  std::shared_ptr<Socket> s = ConnectTo(connector, listener.port());
  std::string chunk(64 * 1024, 'x');
  absl::Status st;
  for (int i = 0; i < 1000 && st.ok(); ++i) st = s->WriteAll(chunk);
  EXPECT_FALSE(st.ok());  // EPIPE or ECONNRESET, and the process lives
}

}  // namespace
}  // namespace tether
