// Fault injection: socket() fails.
//
// What is broken: the socket() system call, through the OS seam. EMFILE
// (this process is out of descriptors), ENFILE (the system is), ENOBUFS (no
// buffer space), and EAFNOSUPPORT (an IPv6 address on a host without IPv6).
// Expected: the attempt is recorded with that errno and the next address is
// tried; when no address is left the socket fails with
// absl::ErrnoToStatusCode(errno) and a message naming every address; the
// connector keeps working once the fault is gone; nothing leaks (FaultTest).

#include <errno.h>
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

class SocketFaultTest : public testing::FaultTest {
 protected:
  // socket() fails with `err` for every address; then the fault heals.
  void FailsThenHeals(int err) {
    Listener listener;
    ops_.FailAll(Call::kSocket, err);
    Connector& connector = NewConnector();
    std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", listener.port());
    ASSERT_TRUE(s->Wait(kLong));
    ExpectFailedWith(*s, err, {listener.address().ToString()});
    std::vector<Attempt> attempts = s->attempts();
    ASSERT_EQ(attempts.size(), 1u);
    ExpectAttempt(attempts[0], listener.address(), Outcome::kFailed, err);
    EXPECT_EQ(ops_.sockets_opened(), 0);
    // Counted when the worker finishes, which may be just after Wait().
    EXPECT_TRUE(
        testing::WaitFor([&] { return connector.stats().failed == 1u; }));

    ops_.ClearFilters();
    absl::StatusOr<std::shared_ptr<Socket>> healed =
        connector.ConnectAndWait("127.0.0.1", listener.port());
    ASSERT_TRUE(healed.ok()) << healed.status();
    EXPECT_TRUE((*healed)->Close().ok());
  }

  // The resolver answers [::1]:port, then 127.0.0.1:port; socket(AF_INET6)
  // fails with EAFNOSUPPORT. The IPv4 address must be tried and connect.
  void Ipv6UnsupportedFallsBack(ConnectOptions options) {
    Listener listener;
    const SocketAddress v6 = *SocketAddress::Parse("::1", listener.port());
    ops_.SetBefore(Call::kSocket, [](const CallInfo& c) {
      return c.domain == AF_INET6 ? Action::Fail(EAFNOSUPPORT) : Action::Pass();
    });
    Connector& connector = NewConnector(std::make_shared<FakeResolver>(
        std::vector<SocketAddress>{v6, listener.address()}));
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("dual.test", 1, std::move(options));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->peername(), listener.address());
    std::vector<Attempt> attempts = (*s)->attempts();
    ASSERT_EQ(attempts.size(), 2u);
    ExpectAttempt(attempts[0], v6, Outcome::kFailed, EAFNOSUPPORT);
    ExpectAttempt(attempts[1], listener.address(), Outcome::kConnected, 0);
    EXPECT_EQ(ops_.calls(Call::kSocket), 2);
    EXPECT_EQ(ops_.faults_injected(), 1);
    EXPECT_TRUE((*s)->Close().ok());
  }
};

TEST_F(SocketFaultTest, Emfile) { FailsThenHeals(EMFILE); }

TEST_F(SocketFaultTest, Enfile) { FailsThenHeals(ENFILE); }

TEST_F(SocketFaultTest, Enobufs) { FailsThenHeals(ENOBUFS); }

TEST_F(SocketFaultTest, EafnosupportTriesTheNextAddress) {
  Ipv6UnsupportedFallsBack(Serial());
}

TEST_F(SocketFaultTest, EafnosupportTriesTheNextAddressInARace) {
  Ipv6UnsupportedFallsBack(ConnectOptions());  // Happy Eyeballs
}

TEST_F(SocketFaultTest, EmfileOnEveryAddressReportsTheFirst) {
  Listener listener;
  const SocketAddress v6 = *SocketAddress::Parse("::1", listener.port());
  ops_.SetBefore(Call::kSocket, [](const CallInfo& c) {
    return Action::Fail(c.domain == AF_INET6 ? EAFNOSUPPORT : EMFILE);
  });
  Connector& connector = NewConnector(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{v6, listener.address()}));
  std::shared_ptr<Socket> s = connector.Connect("dual.test", 1, Serial());
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, EAFNOSUPPORT,
                   {"dual.test", v6.ToString(), listener.address().ToString(),
                    strerror(EMFILE)});
  std::vector<Attempt> attempts = s->attempts();
  ASSERT_EQ(attempts.size(), 2u);
  ExpectAttempt(attempts[1], listener.address(), Outcome::kFailed, EMFILE);
}

}  // namespace
}  // namespace tether
