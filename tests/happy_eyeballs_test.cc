// Tests of the Happy Eyeballs race (RFC 8305): connection attempt delay,
// interleaving, concurrent per-family resolution, and cancellation of the
// losers. Loopback only: the fake resolver hands out ::1 and 127.0.0.1
// ports, one of which hangs (its accept queue is full).

#include <atomic>
#include <memory>
#include <vector>

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
using testing::Listener;
using testing::RefusingPort;
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class HappyEyeballsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveIPv6Loopback()) GTEST_SKIP() << "no ::1 on this host";
  }

  // A connector whose resolver answers `addresses` (per family on request).
  std::unique_ptr<Connector> ConnectorFor(
      std::vector<SocketAddress> addresses) {
    resolver_ = std::make_shared<FakeResolver>(std::move(addresses));
    ConnectorOptions o;
    o.resolver = resolver_;
    return std::make_unique<Connector>(std::move(o));
  }

  std::shared_ptr<FakeResolver> resolver_;
};

ConnectOptions Delay(absl::Duration d) {
  ConnectOptions o;
  o.happy_eyeballs_delay = d;
  return o;
}

TEST_F(HappyEyeballsTest, BlackHoledFirstAddressLosesAfterTheDelay) {
  HangingListener hanging(AF_INET6);
  Listener listener;
  auto connector = ConnectorFor({hanging.address(), listener.address()});
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector->ConnectAndWait("dual.test", 1);  // default delay: 250 ms
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->peername(), listener.address());
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].address, hanging.address());
  EXPECT_EQ(a[1].outcome, Outcome::kConnected);
  // The second attempt started one delay after the first, not after the
  // kernel's SYN timeout (minutes).
  EXPECT_GE(a[1].start - a[0].start, absl::Milliseconds(249));
  EXPECT_LT(a[1].start - a[0].start, absl::Seconds(5));
  // The loser is cancelled promptly: its blocked connect() is interrupted.
  EXPECT_TRUE(WaitFor(
      [&] { return (*s)->attempts()[0].outcome == Outcome::kCancelled; }));
  EXPECT_EQ((*s)->attempts()[0].error_code, ECANCELED);
}

TEST_F(HappyEyeballsTest, ZeroDelayWaitsForTheAttemptTimeout) {
  HangingListener hanging(AF_INET6);
  Listener listener;
  auto connector = ConnectorFor({hanging.address(), listener.address()});
  ConnectOptions o = Delay(absl::ZeroDuration());
  o.attempt_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector->ConnectAndWait("dual.test", 1, std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].outcome, Outcome::kTimedOut);
  EXPECT_EQ(a[0].error_code, ETIMEDOUT);
  EXPECT_GE(a[1].start - a[0].start, absl::Milliseconds(290));
  EXPECT_EQ(*(*s)->peername(), listener.address());
}

TEST_F(HappyEyeballsTest, RefusedFirstAddressStartsTheNextAtOnce) {
  RefusingPort refusing(AF_INET6);
  Listener listener;
  auto connector = ConnectorFor({refusing.address(), listener.address()});
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector->ConnectAndWait("dual.test", 1, Delay(absl::Seconds(30)));
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<Attempt> a = (*s)->attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].outcome, Outcome::kFailed);
  EXPECT_EQ(a[0].error_code, ECONNREFUSED);
  EXPECT_LT(a[1].start - a[0].start, absl::Seconds(10));  // not 30 s
}

TEST_F(HappyEyeballsTest, InterleavesFamiliesStartingWithIPv6) {
  RefusingPort r6a(AF_INET6), r6b(AF_INET6), r4a, r4b;
  auto connector = ConnectorFor({});
  // IPv4 answers first; IPv6 arrives within the 50 ms Resolution Delay, so
  // both lists are known before the first attempt.
  resolver_->SetAnswer(
      Family::kIPv4, std::vector<SocketAddress>{r4a.address(), r4b.address()});
  resolver_->SetAnswer(Family::kIPv6,
                       std::vector<SocketAddress>{r6a.address(), r6b.address()},
                       absl::Milliseconds(10));
  std::shared_ptr<Socket> s = connector->Connect("four.test", 1);
  ASSERT_TRUE(s->Wait(kLong));
  std::vector<Attempt> a = s->attempts();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].address, r6a.address());
  EXPECT_EQ(a[1].address, r4a.address());
  EXPECT_EQ(a[2].address, r6b.address());
  EXPECT_EQ(a[3].address, r4b.address());
  EXPECT_EQ(s->error_code(), ECONNREFUSED);
  for (const auto& addr : {r6a.address(), r6b.address(), r4a.address()}) {
    EXPECT_THAT(s->error().message(), ::testing::HasSubstr(addr.ToString()));
  }
}

TEST_F(HappyEyeballsTest, ResolvesBothFamiliesConcurrently) {
  Listener listener;
  auto connector = ConnectorFor({listener.address()});
  ASSERT_TRUE(connector->ConnectAndWait("dual.test", 1).ok());
  std::vector<Family> asked = resolver_->families_asked();
  EXPECT_THAT(asked,
              ::testing::UnorderedElementsAre(Family::kIPv6, Family::kIPv4));
}

TEST_F(HappyEyeballsTest,
       LateIPv6AnswerWithinResolutionDelayIsStillTriedFirst) {
  Listener v6(Listener::Mode::kHold, AF_INET6);
  Listener v4;
  auto connector = ConnectorFor({});
  resolver_->SetAnswer(Family::kIPv6, std::vector<SocketAddress>{v6.address()},
                       absl::Milliseconds(20));
  resolver_->SetAnswer(Family::kIPv4, std::vector<SocketAddress>{v4.address()});
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector->ConnectAndWait("dual.test", 1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->peername(), v6.address());
  EXPECT_EQ((*s)->attempts()[0].address, v6.address());
}

TEST_F(HappyEyeballsTest, HungIPv6ResolutionDoesNotStopIPv4) {
  Listener v4;
  auto connector = ConnectorFor({v4.address()});
  resolver_->Hold(Family::kIPv6);
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector->ConnectAndWait("dual.test", 1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->peername(), v4.address());
  resolver_->Release();
}

TEST_F(HappyEyeballsTest, WholeTimeoutHoldsAcrossTheRace) {
  HangingListener h6(AF_INET6), h4;
  auto connector = ConnectorFor({h6.address(), h4.address()});
  ConnectOptions o = Delay(absl::Milliseconds(50));
  o.timeout = absl::Milliseconds(300);
  std::shared_ptr<Socket> s = connector->Connect("dual.test", 1, std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(WaitFor([&] {
    std::vector<Attempt> a = s->attempts();
    return a.size() == 2 && a[0].outcome == Outcome::kTimedOut &&
           a[1].outcome == Outcome::kTimedOut;
  }));
}

TEST_F(HappyEyeballsTest, NoDescriptorOrThreadLeftAfterFiveHundredRaces) {
  const int fds = testing::CountOpenFds();
  const int threads = testing::CountThreads();
  {
    HangingListener hanging(AF_INET6);
    Listener listener(Listener::Mode::kClose);
    auto connector = ConnectorFor({hanging.address(), listener.address()});
    for (int i = 0; i < 500; ++i) {
      absl::StatusOr<std::shared_ptr<Socket>> s = connector->ConnectAndWait(
          "dual.test", 1, Delay(absl::Milliseconds(1)));
      ASSERT_TRUE(s.ok()) << s.status();
      ASSERT_TRUE((*s)->Close().ok());
    }
  }
  EXPECT_EQ(testing::CountOpenFds(), fds);
  EXPECT_EQ(testing::CountThreads(), threads);
}

}  // namespace
}  // namespace tether
