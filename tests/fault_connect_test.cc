// Fault injection: connect() fails or is interrupted.
//
// What is broken: the connect() system call, through the OS seam.
// ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT and EADDRNOTAVAIL
// (ephemeral ports exhausted) are returned without a real connect. Expected:
// the attempt records the errno (ETIMEDOUT as kTimedOut), the next address
// is tried, and when every address failed the socket reports the first
// errno (status absl::ErrnoToStatusCode) naming every address.
//
// EINTR is Linux's interrupted blocking connect: the connect goes on in the
// background (InterruptConnect() starts it for real, non-blocking, and
// returns -1/EINTR). Expected: the library finishes it by polling for
// writability and reading SO_ERROR, and never calls connect() again on that
// descriptor; attempt timeouts and Close() still bound it.

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tests/testing/mock_socket_ops.h"
#include "tether/connector.h"

namespace tether {
namespace {

using ::testing::_;
using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::ExpectAttempt;
using testing::ExpectFailedWith;
using testing::FakeResolver;
using testing::HangingListener;
using testing::Listener;
using testing::MockSocketOps;
using ::testing::NiceMock;
using testing::RefusingPort;
using testing::Serial;
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class ConnectFaultTest : public testing::FaultTest {
 protected:
  // Two listeners; connect() to the first fails with `err`: the second is
  // tried and connects. Then every connect() fails: the socket reports
  // `err` with both addresses.
  void FailsAndMovesOn(int err) {
    Listener first;
    Listener second;
    const Outcome outcome =
        err == ETIMEDOUT ? Outcome::kTimedOut : Outcome::kFailed;
    Connector& connector = NewConnector(std::make_shared<FakeResolver>(
        std::vector<SocketAddress>{first.address(), second.address()}));
    ops_.FailNth(Call::kConnect, 0, err);
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("two.test", 1, Serial());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->peername(), second.address());
    std::vector<Attempt> a = (*s)->attempts();
    ASSERT_EQ(a.size(), 2u);
    ExpectAttempt(a[0], first.address(), outcome, err);
    ExpectAttempt(a[1], second.address(), Outcome::kConnected, 0);
    EXPECT_TRUE((*s)->Close().ok());
    EXPECT_EQ(first.accepted(), 0);  // no real connect was made

    ops_.FailAll(Call::kConnect, err);
    std::shared_ptr<Socket> failed = connector.Connect("two.test", 1, Serial());
    ASSERT_TRUE(failed->Wait(kLong));
    ExpectFailedWith(
        *failed, err,
        {"two.test", first.address().ToString(), second.address().ToString()});
    a = failed->attempts();
    ASSERT_EQ(a.size(), 2u);
    ExpectAttempt(a[0], first.address(), outcome, err);
    ExpectAttempt(a[1], second.address(), outcome, err);
    EXPECT_TRUE(failed->Close().ok());
  }

  // Counts getsockopt(SO_ERROR) calls.
  void CountSoError() {
    ops_.SetBefore(Call::kGetSockOpt, [this](const CallInfo& c) {
      if (c.level == SOL_SOCKET && c.option == SO_ERROR) so_error_calls_++;
      return Action::Pass();
    });
  }

  void InterruptEveryConnect() {
    ops_.SetBefore(Call::kConnect,
                   [](const CallInfo&) { return Action::InterruptConnect(); });
  }

  std::atomic<int> so_error_calls_{0};
};

TEST_F(ConnectFaultTest, Econnrefused) { FailsAndMovesOn(ECONNREFUSED); }

TEST_F(ConnectFaultTest, Enetunreach) { FailsAndMovesOn(ENETUNREACH); }

TEST_F(ConnectFaultTest, Ehostunreach) { FailsAndMovesOn(EHOSTUNREACH); }

TEST_F(ConnectFaultTest, Etimedout) { FailsAndMovesOn(ETIMEDOUT); }

TEST_F(ConnectFaultTest, EaddrnotavailEphemeralPortsExhausted) {
  FailsAndMovesOn(EADDRNOTAVAIL);
}

TEST_F(ConnectFaultTest, EnetunreachOnIpv6FallsBackToIpv4InARace) {
  Listener listener;
  const SocketAddress v6 = *SocketAddress::Parse("::1", listener.port());
  ops_.SetBefore(Call::kConnect, [](const CallInfo& c) {
    return c.domain == AF_INET6 ? Action::Fail(ENETUNREACH) : Action::Pass();
  });
  Connector& connector = NewConnector(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{v6, listener.address()}));
  ConnectOptions o;
  o.happy_eyeballs_delay = absl::Seconds(3);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("dual.test", 1, std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  // A failed attempt starts the next one at once, not after the delay.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 2u);
  ExpectAttempt(a[0], v6, Outcome::kFailed, ENETUNREACH);
  ExpectAttempt(a[1], listener.address(), Outcome::kConnected, 0);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(ConnectFaultTest, EintrIsFinishedByPollingNeverByASecondConnect) {
  Listener listener;
  InterruptEveryConnect();
  CountSoError();
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->peername(), listener.address());
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  EXPECT_GE(ops_.calls(Call::kPoll), 1);
  EXPECT_EQ(so_error_calls_.load(), 1);
  EXPECT_EQ(ops_.faults_injected(), 1);
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 1u);
  ExpectAttempt(a[0], listener.address(), Outcome::kConnected, 0);
  EXPECT_TRUE(WaitFor([&] { return listener.accepted() == 1; }));
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(ConnectFaultTest, EintrConnectIsCalledExactlyOnceMock) {
  // The same, counted by gMock: connect() once per attempt, never again.
  Listener listener;
  InterruptEveryConnect();
  NiceMock<MockSocketOps> mock(&ops_);
  EXPECT_CALL(mock, Connect(_, _, _)).Times(1);
  EXPECT_CALL(mock, Poll(_, _, _)).Times(::testing::AtLeast(1));
  ConnectorOptions options;
  options.socket_ops = &mock;
  Connector& connector = NewConnector(nullptr, std::move(options));
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->Close().ok());
  connector_.reset();  // before `mock` goes away
}

TEST_F(ConnectFaultTest, EintrThenRefusedReportsTheRefusal) {
  RefusingPort refusing;
  InterruptEveryConnect();
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", refusing.port());
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, ECONNREFUSED, {refusing.address().ToString()});
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  ASSERT_EQ(s->attempts().size(), 1u);
  ExpectAttempt(s->attempts()[0], refusing.address(), Outcome::kFailed,
                ECONNREFUSED);
}

TEST_F(ConnectFaultTest, EintrIsBoundedByTheAttemptTimeout) {
  HangingListener hanging;
  InterruptEveryConnect();
  Connector& connector = NewConnector();
  ConnectOptions options;
  options.attempt_timeout = absl::Milliseconds(150);
  const absl::Time start = absl::Now();
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", hanging.port(), std::move(options));
  ASSERT_TRUE(s->Wait(kLong));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(140));
  EXPECT_LT(took, absl::Seconds(5));
  ExpectFailedWith(*s, ETIMEDOUT, {hanging.address().ToString()});
  ASSERT_EQ(s->attempts().size(), 1u);
  ExpectAttempt(s->attempts()[0], hanging.address(), Outcome::kTimedOut,
                ETIMEDOUT);
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
}

TEST_F(ConnectFaultTest, EintrIsBoundedByTheWholeTimeout) {
  HangingListener hanging;
  InterruptEveryConnect();
  Connector& connector = NewConnector();
  ConnectOptions options;
  options.timeout = absl::Milliseconds(150);
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", hanging.port(), std::move(options));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s->error_code(), ETIMEDOUT);
  EXPECT_TRUE(
      WaitFor([&] { return s->attempts()[0].outcome == Outcome::kTimedOut; }));
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
}

TEST_F(ConnectFaultTest, EintrThenCloseCancelsPromptly) {
  HangingListener hanging;
  InterruptEveryConnect();
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  // Wait until the worker polls for the background connect.
  ASSERT_TRUE(WaitFor([&] { return ops_.calls(Call::kPoll) >= 1; }));
  const absl::Time start = absl::Now();
  ASSERT_TRUE(s->Close().ok());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s->error_code(), ECANCELED);
  ASSERT_TRUE(
      WaitFor([&] { return s->attempts()[0].outcome == Outcome::kCancelled; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(s->attempts()[0].error_code, ECANCELED);
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  EXPECT_TRUE(WaitFor([&] { return connector.stats().in_flight == 0; }));
}

TEST_F(ConnectFaultTest, EintrWhilePollingIsRetried) {
  // The poll() that waits for the background connect is itself interrupted.
  Listener listener;
  InterruptEveryConnect();
  ops_.SetBefore(Call::kPoll, [](const CallInfo& c) {
    return c.seq < 3 ? Action::Fail(EINTR) : Action::Pass();
  });
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
  EXPECT_EQ(ops_.calls(Call::kPoll), 4);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(ConnectFaultTest, SoErrorUnreadableAfterEintr) {
  // getsockopt(SO_ERROR) itself fails after the interrupted connect.
  Listener listener;
  InterruptEveryConnect();
  ops_.SetBefore(Call::kGetSockOpt, [](const CallInfo& c) {
    return c.option == SO_ERROR ? Action::Fail(ENOBUFS) : Action::Pass();
  });
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", listener.port());
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, ENOBUFS, {listener.address().ToString()});
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
}

// A cancel that lands after the attempt's descriptor is attached but before
// connect() starts finds the socket unconnected: its shutdown() fails with
// ENOTCONN. The connect() that follows must still end at once, not run to
// the kernel's timeout (about two minutes against a listener that never
// answers). Each test holds the worker at the seam's connect(), cancels
// (Close(), the deadline, ~Connector), checks that the shutdown() really
// found the socket unconnected (~Connector: that it used none), then lets
// the connect() go.
class CancelBeforeConnectTest : public ConnectFaultTest {
 protected:
  void SetUp() override {
    ConnectFaultTest::SetUp();
    ops_.SetBefore(Call::kConnect, [this](const CallInfo&) {
      held_ = true;
      WaitFor([this] { return released_.load(); }, kLong);
      return Action::Pass();
    });
    ops_.SetAfter(Call::kShutdown,
                  [this](const CallInfo&, testing::CallResult* r) {
                    shutdown_errno_ = r->err;
                    shutdowns_++;
                  });
  }

  // Waits until a worker is held in connect().
  bool Held() {
    return WaitFor([this] { return held_.load(); });
  }

  // Lets the held connect() go; true when its attempt then ended (its
  // descriptor closed) within `within`. `shut_down`: the cancel interrupts
  // with shutdown() (~Connector wakes every connect through its eventfd
  // instead).
  bool ReleaseAndWaitForTheAttemptToEnd(absl::Duration within,
                                        bool shut_down = true) {
    if (shut_down) {
      // The canceller publishes first and shuts down after: wait for it.
      EXPECT_TRUE(WaitFor([this] { return shutdowns_.load() == 1; }));
      EXPECT_EQ(shutdown_errno_.load(), ENOTCONN) << "cancel missed the window";
    } else {
      EXPECT_EQ(shutdowns_.load(), 0);
    }
    released_ = true;
    return WaitFor([this] { return ops_.sockets_open() == 0; }, within);
  }

  std::atomic<bool> held_{false};
  std::atomic<bool> released_{false};
  std::atomic<int> shutdowns_{0};
  std::atomic<int> shutdown_errno_{0};
};

TEST_F(CancelBeforeConnectTest, CloseIsNotLost) {
  HangingListener hanging;
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(Held());
  ASSERT_TRUE(s->Close().ok());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(ReleaseAndWaitForTheAttemptToEnd(absl::Seconds(5)));
  ASSERT_TRUE(WaitFor(
      [&] { return s->attempts()[0].outcome != Outcome::kInProgress; }));
  ExpectAttempt(s->attempts()[0], hanging.address(), Outcome::kCancelled,
                ECANCELED);
  EXPECT_EQ(ops_.calls(Call::kConnect), 1);
}

TEST_F(CancelBeforeConnectTest, DeadlineIsNotLost) {
  HangingListener hanging;
  Connector& connector = NewConnector();
  ConnectOptions options;
  options.timeout = absl::Milliseconds(50);
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", hanging.port(), std::move(options));
  ASSERT_TRUE(Held());
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(ReleaseAndWaitForTheAttemptToEnd(absl::Seconds(5)));
  ASSERT_TRUE(WaitFor(
      [&] { return s->attempts()[0].outcome != Outcome::kInProgress; }));
  ExpectAttempt(s->attempts()[0], hanging.address(), Outcome::kTimedOut,
                ETIMEDOUT);
}

TEST_F(CancelBeforeConnectTest, ConnectorDestructionIsNotLost) {
  HangingListener hanging;
  std::shared_ptr<Socket> s =
      NewConnector().Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(Held());
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    connector_.reset();
    destroyed = true;
  });
  ASSERT_TRUE(s->Wait(kLong));  // ~Connector cancels first, then joins.
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(ReleaseAndWaitForTheAttemptToEnd(absl::Seconds(5),
                                               /*shut_down=*/false));
  EXPECT_TRUE(WaitFor([&] { return destroyed.load(); }, absl::Seconds(5)));
  destroyer.join();
}

}  // namespace
}  // namespace tether
