// Fault injection: bind() fails.
//
// What is broken: the bind() to ConnectOptions::local_address / local_port
// before connect(): EADDRINUSE (the local port is taken) and EADDRNOTAVAIL
// (the local address is not this host's), both injected through the seam
// and provoked for real. Expected: the attempt is recorded with the bind's
// errno and connect() is never called for it; the next address is tried;
// with none left the socket fails with absl::ErrnoToStatusCode(errno)
// naming the address; the descriptor is closed exactly once.

#include <errno.h>

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Call;
using testing::ExpectAttempt;
using testing::ExpectFailedWith;
using testing::FakeResolver;
using testing::Listener;
using testing::Serial;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class BindFaultTest : public testing::FaultTest {
 protected:
  void InjectedFailure(int err) {
    Listener listener;
    ops_.FailAll(Call::kBind, err);
    Connector& connector = NewConnector();
    ConnectOptions o;
    o.local_address = "127.0.0.1";
    o.local_port = 1;  // never really bound
    std::shared_ptr<Socket> s =
        connector.Connect("127.0.0.1", listener.port(), std::move(o));
    ASSERT_TRUE(s->Wait(kLong));
    ExpectFailedWith(*s, err, {listener.address().ToString()});
    ASSERT_EQ(s->attempts().size(), 1u);
    ExpectAttempt(s->attempts()[0], listener.address(), Outcome::kFailed, err);
    EXPECT_EQ(ops_.calls(Call::kConnect), 0);
    EXPECT_EQ(ops_.sockets_opened(), 1);
  }
};

TEST_F(BindFaultTest, Eaddrinuse) { InjectedFailure(EADDRINUSE); }

TEST_F(BindFaultTest, Eaddrnotavail) { InjectedFailure(EADDRNOTAVAIL); }

TEST_F(BindFaultTest, EaddrinuseLive) {
  // The local port is the listener's own: 127.0.0.1:port is taken.
  Listener listener;
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.local_address = "127.0.0.1";
  o.local_port = listener.port();
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, EADDRINUSE, {listener.address().ToString()});
  EXPECT_EQ(ops_.calls(Call::kConnect), 0);
}

TEST_F(BindFaultTest, EaddrnotavailLive) {
  Listener listener;
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.local_address = "192.0.2.1";  // TEST-NET-1: not an address of this host
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, EADDRNOTAVAIL, {listener.address().ToString()});
}

TEST_F(BindFaultTest, EaddrinuseTriesTheNextAddress) {
  // The first attempt's bind fails; the second address binds and connects.
  Listener first;
  Listener second;
  ops_.FailNth(Call::kBind, 0, EADDRINUSE);
  Connector& connector = NewConnector(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{first.address(), second.address()}));
  ConnectOptions o = Serial();
  o.local_address = "127.0.0.1";
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("two.test", 1, std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 2u);
  ExpectAttempt(a[0], first.address(), Outcome::kFailed, EADDRINUSE);
  ExpectAttempt(a[1], second.address(), Outcome::kConnected, 0);
  EXPECT_EQ((*s)->sockname()->ip(), "127.0.0.1");
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  EXPECT_TRUE((*s)->Close().ok());
}

}  // namespace
}  // namespace tether
