// Fault injection: getsockname() / getpeername() fail after a successful
// connect().
//
// What is broken: the queries the worker makes to describe a connection it
// has just made (getsockname: ENOBUFS; getpeername: ENOTCONN, as when the
// peer resets the connection at once). Expected: the connection is not
// published half-described; the attempt fails with that errno, its
// descriptor is closed exactly once, the next address is tried, and with no
// address left the socket fails with absl::ErrnoToStatusCode(errno) naming
// the address.

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
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class SockNameFaultTest : public testing::FaultTest {
 protected:
  void FailsAfterConnect(Call call, int err) {
    Listener listener;
    ops_.FailAll(call, err);
    Connector& connector = NewConnector();
    std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", listener.port());
    ASSERT_TRUE(s->Wait(kLong));
    ExpectFailedWith(*s, err, {listener.address().ToString()});
    std::vector<Attempt> a = s->attempts();
    ASSERT_EQ(a.size(), 1u);
    ExpectAttempt(a[0], listener.address(), Outcome::kFailed, err);
    // The connection was made, then dropped: the descriptor is closed.
    EXPECT_TRUE(WaitFor([&] { return listener.accepted() == 1; }));
    EXPECT_EQ(ops_.sockets_opened(), 1);
    EXPECT_EQ(ops_.sockets_closed(), 1);
    EXPECT_TRUE(s->Close().ok());
  }

  void FailsOnceThenNextAddress(Call call, int err) {
    Listener first;
    Listener second;
    ops_.FailNth(call, 0, err);
    Connector& connector = NewConnector(std::make_shared<FakeResolver>(
        std::vector<SocketAddress>{first.address(), second.address()}));
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("two.test", 1, Serial());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->peername(), second.address());
    std::vector<Attempt> a = (*s)->attempts();
    ASSERT_EQ(a.size(), 2u);
    ExpectAttempt(a[0], first.address(), Outcome::kFailed, err);
    ExpectAttempt(a[1], second.address(), Outcome::kConnected, 0);
    EXPECT_TRUE((*s)->Close().ok());
  }
};

TEST_F(SockNameFaultTest, GetsocknameEnobufs) {
  FailsAfterConnect(Call::kGetSockName, ENOBUFS);
}

TEST_F(SockNameFaultTest, GetpeernameEnotconn) {
  FailsAfterConnect(Call::kGetPeerName, ENOTCONN);
}

TEST_F(SockNameFaultTest, GetsocknameEnobufsTriesTheNextAddress) {
  FailsOnceThenNextAddress(Call::kGetSockName, ENOBUFS);
}

TEST_F(SockNameFaultTest, GetpeernameEnotconnTriesTheNextAddress) {
  FailsOnceThenNextAddress(Call::kGetPeerName, ENOTCONN);
}

}  // namespace
}  // namespace tether
