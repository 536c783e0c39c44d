// Fault injection: setsockopt() (and the ioctl that sets blocking mode) fails.
//
// What is broken: what the worker sets on a socket after the connect:
// TCP_NODELAY (with ConnectOptions::tcp_nodelay), and blocking mode again
// (the connect itself runs non-blocking, then poll()s). Expected: the attempt
// fails with that errno, its descriptor is closed once, the next address is
// tried, and with none left the socket fails with
// absl::ErrnoToStatusCode(errno) naming the address.

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

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
using testing::ExpectAttempt;
using testing::ExpectFailedWith;
using testing::FakeResolver;
using testing::Listener;
using testing::Serial;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class SetSockOptFaultTest : public testing::FaultTest {
 protected:
  // Fails setsockopt(level, option) with `err`, the `nth` time (-1: always).
  void FailOption(int level, int option, int err, int nth = -1) {
    auto seen = std::make_shared<std::atomic<int>>(0);
    ops_.SetBefore(Call::kSetSockOpt, [=](const CallInfo& c) {
      if (c.level != level || c.option != option) return Action::Pass();
      const int n = (*seen)++;
      return nth < 0 || n == nth ? Action::Fail(err) : Action::Pass();
    });
  }
};

TEST_F(SetSockOptFaultTest, TcpNodelayEnoprotoopt) {
  Listener listener;
  FailOption(IPPROTO_TCP, TCP_NODELAY, ENOPROTOOPT);
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.tcp_nodelay = true;
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, ENOPROTOOPT, {listener.address().ToString()});
  ASSERT_EQ(s->attempts().size(), 1u);
  ExpectAttempt(s->attempts()[0], listener.address(), Outcome::kFailed,
                ENOPROTOOPT);
  EXPECT_EQ(ops_.faults_injected(), 1);
}

TEST_F(SetSockOptFaultTest, TcpNodelayEnomemTriesTheNextAddress) {
  Listener first;
  Listener second;
  FailOption(IPPROTO_TCP, TCP_NODELAY, ENOMEM, /*nth=*/0);
  Connector& connector = NewConnector(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{first.address(), second.address()}));
  ConnectOptions o = Serial();
  o.tcp_nodelay = true;
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("two.test", 1, std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectAttempt((*s)->attempts()[0], first.address(), Outcome::kFailed, ENOMEM);
  // The surviving connection really has TCP_NODELAY.
  int on = 0;
  socklen_t len = sizeof(on);
  ASSERT_EQ(getsockopt((*s)->fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_EQ(on, 1);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(SetSockOptFaultTest, BackToBlockingFailsAfterConnect) {
  // The connect runs on a non-blocking socket; making it blocking again
  // before it is published fails: the attempt fails with that errno and
  // nothing is published or leaked.
  Listener listener;
  ops_.FailAll(Call::kSetNonBlocking, ENOMEM);
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", listener.port(), Serial());
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, ENOMEM, {listener.address().ToString()});
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  EXPECT_EQ(ops_.calls(Call::kSetNonBlocking), 1);
}

TEST_F(SetSockOptFaultTest, PublishedDescriptorIsBlocking) {
  Listener listener;
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  const int flags = fcntl((*s)->fd(), F_GETFL);
  ASSERT_GE(flags, 0);
  EXPECT_EQ(flags & O_NONBLOCK, 0);
  EXPECT_TRUE((*s)->Close().ok());
}

}  // namespace
}  // namespace tether
