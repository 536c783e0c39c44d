// Fault injection: name resolution fails, answers badly, or hangs.
//
// What is broken: getaddrinfo(), through the OS seam, under the connector's
// own system resolver (ConnectorOptions::resolver left null, so it resolves
// through the seam). It fails with EAI_NONAME, EAI_AGAIN, EAI_MEMORY, or
// EAI_SYSTEM with an errno; it returns an empty list or 10,000 addresses;
// it hangs longer than the connect's timeout. Expected: a clear error that
// names the host (kNotFound, kUnavailable, kResourceExhausted, the errno's
// code), no socket made for a failed resolution, a deadline published on
// time while the resolver is stuck, every one of 10,000 addresses tried
// (or the deadline honoured), and nothing leaked.

#include <errno.h>
#include <netdb.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::ExpectFailedWith;
using testing::HangingListener;
using testing::Listener;
using testing::RefusingPort;
using testing::Serial;
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(30);
constexpr char kHost[] = "fault.test";

class ResolverFaultTest : public testing::FaultTest {
 protected:
  // getaddrinfo() fails with `gai` (errno `err`); the socket must fail with
  // `code` and errno `err`, naming the host, in both connect modes.
  void FailsWith(int gai, int err, absl::StatusCode code) {
    ops_.SetBefore(Call::kGetAddrInfo, [gai, err](const CallInfo&) {
      return Action::FailGai(gai, err);
    });
    Connector& connector = NewConnector();
    for (bool race : {false, true}) {
      SCOPED_TRACE(race ? "Happy Eyeballs" : "serial");
      std::shared_ptr<Socket> s =
          connector.Connect(kHost, 80, race ? ConnectOptions() : Serial());
      ASSERT_TRUE(s->Wait(kLong));
      EXPECT_EQ(s->error().code(), code) << s->error();
      EXPECT_EQ(s->error_code(), err);
      EXPECT_NE(s->error().message().find(kHost), absl::string_view::npos)
          << s->error();
      if (gai != EAI_SYSTEM) {
        EXPECT_NE(s->error().message().find(gai_strerror(gai)),
                  absl::string_view::npos)
            << s->error();
      }
      EXPECT_TRUE(s->attempts().empty());
      EXPECT_FALSE(s->peername().has_value());
      EXPECT_TRUE(s->Close().ok());
    }
    EXPECT_EQ(ops_.calls(Call::kGetAddrInfo), 3);  // 1 serial + 2 per family
    EXPECT_EQ(ops_.sockets_opened(), 0);
  }

  void Answer(std::vector<SocketAddress> addresses) {
    ops_.SetBefore(Call::kGetAddrInfo, [addresses](const CallInfo&) {
      return Action::Answer(addresses);
    });
  }
};

TEST_F(ResolverFaultTest, EaiNoname) {
  FailsWith(EAI_NONAME, 0, absl::StatusCode::kNotFound);
}

TEST_F(ResolverFaultTest, EaiAgain) {
  FailsWith(EAI_AGAIN, 0, absl::StatusCode::kUnavailable);
}

TEST_F(ResolverFaultTest, EaiMemory) {
  FailsWith(EAI_MEMORY, 0, absl::StatusCode::kResourceExhausted);
}

TEST_F(ResolverFaultTest, EaiSystemWithErrno) {
  FailsWith(EAI_SYSTEM, EMFILE, absl::ErrnoToStatusCode(EMFILE));
}

TEST_F(ResolverFaultTest, EmptyList) {
  Answer({});
  Connector& connector = NewConnector();
  for (bool race : {false, true}) {
    SCOPED_TRACE(race ? "Happy Eyeballs" : "serial");
    std::shared_ptr<Socket> s =
        connector.Connect(kHost, 80, race ? ConnectOptions() : Serial());
    ASSERT_TRUE(s->Wait(kLong));
    EXPECT_EQ(s->error().code(), absl::StatusCode::kNotFound) << s->error();
    EXPECT_NE(s->error().message().find(kHost), absl::string_view::npos);
    EXPECT_TRUE(s->attempts().empty());
  }
  EXPECT_EQ(ops_.sockets_opened(), 0);
  EXPECT_EQ(ops_.calls(Call::kGetAddrInfo), ops_.calls(Call::kFreeAddrInfo));
}

TEST_F(ResolverFaultTest, TenThousandAddressesAreAllTried) {
  RefusingPort refusing;
  Answer(std::vector<SocketAddress>(10000, refusing.address()));
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s =
      connector.Connect(kHost, refusing.port(), Serial());
  ASSERT_TRUE(s->Wait(kLong));
  ExpectFailedWith(*s, ECONNREFUSED, {kHost, refusing.address().ToString()});
  std::vector<Attempt> a = s->attempts();
  ASSERT_EQ(a.size(), 10000u);
  for (const Attempt& attempt : a) {
    ASSERT_EQ(attempt.outcome, Outcome::kFailed);
    ASSERT_EQ(attempt.error_code, ECONNREFUSED);
  }
  EXPECT_EQ(ops_.sockets_opened(), 10000);
  EXPECT_EQ(ops_.sockets_closed(), 10000);
  RecordProperty("message_bytes", std::to_string(s->error().message().size()));
}

TEST_F(ResolverFaultTest, TenThousandAddressesLastOneListens) {
  // getaddrinfo() answers addresses; the port is the connect's. Nothing
  // listens on 127.0.0.2 at the listener's port (it binds 127.0.0.1 only).
  Listener listener;
  std::vector<SocketAddress> list(
      9999, *SocketAddress::Parse("127.0.0.2", listener.port()));
  list.push_back(listener.address());
  Answer(list);
  Connector& connector = NewConnector();
  for (bool race : {false, true}) {
    SCOPED_TRACE(race ? "Happy Eyeballs" : "serial");
    absl::StatusOr<std::shared_ptr<Socket>> s = connector.ConnectAndWait(
        kHost, listener.port(), race ? ConnectOptions() : Serial());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->peername(), listener.address());
    EXPECT_EQ((*s)->attempts().size(), 10000u);
    EXPECT_TRUE((*s)->Close().ok());
  }
}

TEST_F(ResolverFaultTest, TenThousandHangingAddressesHonourTheDeadline) {
  HangingListener hanging;
  Answer(std::vector<SocketAddress>(10000, hanging.address()));
  Connector& connector = NewConnector();
  ConnectOptions o = Serial();
  o.timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  std::shared_ptr<Socket> s =
      connector.Connect(kHost, hanging.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s->error_code(), ETIMEDOUT);
  EXPECT_TRUE(WaitFor([&] { return connector.stats().in_flight == 0; }));
  EXPECT_EQ(s->attempts().size(), 1u);  // serial: the first one hung
}

TEST_F(ResolverFaultTest, HangLongerThanTheTimeout) {
  // Hangs 1.5 s, then fails (never a real lookup).
  ops_.SetBefore(Call::kGetAddrInfo, [](const CallInfo&) {
    return Action::Delay(absl::Milliseconds(1500), Action::FailGai(EAI_AGAIN));
  });
  std::atomic<int> returned{0};
  ops_.SetAfter(Call::kGetAddrInfo,
                [&](const CallInfo&, testing::CallResult*) { returned++; });
  Connector& connector = NewConnector();
  int expected_returns = 0;
  for (bool race : {false, true}) {
    SCOPED_TRACE(race ? "Happy Eyeballs" : "serial");
    std::atomic<int> callbacks{0};
    ConnectOptions o = race ? ConnectOptions() : Serial();
    o.timeout = absl::Milliseconds(100);
    o.on_complete = [&](Socket&) { callbacks++; };
    const absl::Time start = absl::Now();
    std::shared_ptr<Socket> s = connector.Connect(kHost, 80, std::move(o));
    ASSERT_TRUE(s->Wait(kLong));
    // Published on time, while getaddrinfo() is still stuck.
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
    EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(s->error_code(), ETIMEDOUT);
    EXPECT_NE(s->error().message().find(kHost), absl::string_view::npos);
    EXPECT_TRUE(WaitFor([&] { return callbacks.load() == 1; }));
    // The worker goes on when the resolver returns (once per family in a
    // race); on_complete never runs twice.
    expected_returns += race ? 2 : 1;
    EXPECT_TRUE(WaitFor([&] { return returned.load() == expected_returns; }));
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_EQ(callbacks.load(), 1);
    EXPECT_TRUE(s->attempts().empty());
  }
  EXPECT_EQ(ops_.sockets_opened(), 0);
}

}  // namespace
}  // namespace tether
