// Tests of Connector and Socket's connect state: transitions, queries,
// errors, timeouts, cancellation, WaitAny, bad input, and leaks.

#include "tether/connector.h"

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"

namespace tether {
namespace {

using ::testing::AllOf;
using testing::FakeResolver;
using testing::HangingListener;
using ::testing::HasSubstr;
using testing::Listener;
using testing::RefusingPort;
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(10);

ConnectorOptions WithResolver(std::shared_ptr<Resolver> resolver) {
  ConnectorOptions o;
  o.resolver = std::move(resolver);
  return o;
}

ConnectOptions Serial() {
  ConnectOptions o;
  o.happy_eyeballs_delay = absl::ZeroDuration();
  return o;
}

TEST(ConnectorTest, ConnectsAndPublishesBothAddresses) {
  Listener listener;
  Connector connector;
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", listener.port());
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_FALSE(s->connecting());
  EXPECT_TRUE(s->error().ok()) << s->error();
  EXPECT_EQ(s->error_code(), 0);
  ASSERT_TRUE(s->peername().has_value());
  EXPECT_EQ(*s->peername(), listener.address());
  ASSERT_TRUE(s->sockname().has_value());
  EXPECT_EQ(s->sockname()->ip(), "127.0.0.1");
  EXPECT_NE(s->sockname()->port(), 0);
  EXPECT_GE(s->fd(), 0);
  std::vector<Attempt> attempts = s->attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, Outcome::kConnected);
  EXPECT_EQ(attempts[0].address, listener.address());
  EXPECT_TRUE(s->Close().ok());
  EXPECT_EQ(s->fd(), -1);
}

TEST(ConnectorTest, ResolvesLocalhost) {
  Listener listener;
  Connector connector;
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("localhost", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->peername()->port(), listener.port());
}

TEST(ConnectorTest, QueriesAreEmptyWhileConnecting) {
  HangingListener hanging;
  Connector connector;
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(WaitFor([&] { return s->attempts().size() == 1; }));
  EXPECT_TRUE(s->connecting());
  EXPECT_TRUE(s->error().ok());
  EXPECT_EQ(s->error_code(), 0);
  EXPECT_FALSE(s->sockname().has_value());
  EXPECT_FALSE(s->peername().has_value());
  EXPECT_EQ(s->fd(), -1);
  EXPECT_FALSE(s->Wait(absl::Milliseconds(20)));
  std::vector<Attempt> attempts = s->attempts();
  EXPECT_EQ(attempts[0].outcome, Outcome::kInProgress);
  EXPECT_EQ(attempts[0].error_code, 0);
  EXPECT_TRUE(s->Close().ok());
}

TEST(ConnectorTest, RefusedConnectReportsErrnoAndAddress) {
  RefusingPort refusing;
  Connector connector;
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", refusing.port());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr(refusing.address().ToString()));
  std::shared_ptr<Socket> again =
      connector.Connect("127.0.0.1", refusing.port());
  ASSERT_TRUE(again->Wait(kLong));
  EXPECT_EQ(again->error_code(), ECONNREFUSED);
  EXPECT_FALSE(again->sockname().has_value());
  EXPECT_FALSE(again->peername().has_value());
  EXPECT_EQ(again->fd(), -1);
  // error() does not clear on read.
  EXPECT_EQ(again->error().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(again->error().code(), absl::StatusCode::kUnavailable);
}

TEST(ConnectorTest, TriesTheNextAddressAfterARefusal) {
  RefusingPort refusing;
  Listener listener;
  Connector connector(WithResolver(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{refusing.address(), listener.address()})));
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("two.test", 1, Serial());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->peername(), listener.address());
  std::vector<Attempt> attempts = (*s)->attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, Outcome::kFailed);
  EXPECT_EQ(attempts[0].error_code, ECONNREFUSED);
  EXPECT_EQ(attempts[1].outcome, Outcome::kConnected);
}

TEST(ConnectorTest, ReportsFirstErrorWhenAllAddressesFail) {
  RefusingPort refusing;
  HangingListener hanging;
  Connector connector(WithResolver(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{refusing.address(), hanging.address()})));
  ConnectOptions options = Serial();
  options.attempt_timeout = absl::Milliseconds(100);
  std::shared_ptr<Socket> s =
      connector.Connect("two.test", 1, std::move(options));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error_code(), ECONNREFUSED);
  EXPECT_EQ(s->error().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(
      s->error().message(),
      AllOf(HasSubstr("two.test"), HasSubstr(refusing.address().ToString()),
            HasSubstr(hanging.address().ToString()), HasSubstr("refused"),
            HasSubstr("timed out")));
  std::vector<Attempt> attempts = s->attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].outcome, Outcome::kTimedOut);
  EXPECT_EQ(attempts[1].error_code, ETIMEDOUT);
}

TEST(ConnectorTest, AttemptTimeoutMovesOnToTheNextAddress) {
  HangingListener hanging;
  Listener listener;
  Connector connector(WithResolver(std::make_shared<FakeResolver>(
      std::vector<SocketAddress>{hanging.address(), listener.address()})));
  ConnectOptions options = Serial();
  options.attempt_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("two.test", 1, std::move(options));
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<Attempt> attempts = (*s)->attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, Outcome::kTimedOut);
  EXPECT_GE(attempts[0].duration, absl::Milliseconds(90));
}

TEST(ConnectorTest, WholeTimeoutGivesDeadlineExceeded) {
  HangingListener hanging;
  Connector connector;
  ConnectOptions options;
  options.timeout = absl::Milliseconds(100);
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", hanging.port(), std::move(options));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s->error_code(), ETIMEDOUT);
  ASSERT_TRUE(WaitFor([&] {
    auto a = s->attempts();
    return a.size() == 1 && a[0].outcome == Outcome::kTimedOut;
  }));
}

TEST(ConnectorTest, HungResolverStillFailsAtTheDeadline) {
  auto resolver = std::make_shared<FakeResolver>();
  resolver->Hold(Family::kAny);
  Connector connector(WithResolver(resolver));
  ConnectOptions options = Serial();
  options.timeout = absl::Milliseconds(50);
  std::atomic<int> callbacks{0};
  options.on_complete = [&](Socket&) { callbacks++; };
  std::shared_ptr<Socket> s =
      connector.Connect("slow.test", 1, std::move(options));
  ASSERT_TRUE(s->Wait(kLong));  // Published while the resolver still hangs.
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s->error().message(), HasSubstr("slow.test"));
  EXPECT_TRUE(WaitFor([&] { return callbacks == 1; }));
  resolver->Release();
}

TEST(ConnectorTest, CloseCancelsABlockedConnectPromptly) {
  HangingListener hanging;
  Connector connector;
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(WaitFor([&] { return s->attempts().size() == 1; }));
  ASSERT_TRUE(s->Close().ok());
  EXPECT_FALSE(s->connecting());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s->error_code(), ECANCELED);
  // The worker's blocked connect() is interrupted, not left to time out.
  ASSERT_TRUE(
      WaitFor([&] { return s->attempts()[0].outcome == Outcome::kCancelled; }));
  EXPECT_TRUE(WaitFor([&] { return connector.stats().in_flight == 0; }));
  EXPECT_EQ(connector.stats().cancelled, 1u);
}

TEST(ConnectorTest, DestroyingTheConnectorCancelsPendingConnects) {
  HangingListener hanging;
  std::vector<std::shared_ptr<Socket>> sockets;
  std::atomic<int> callbacks{0};
  {
    Connector connector;
    for (int i = 0; i < 5; ++i) {
      ConnectOptions o;
      o.on_complete = [&](Socket& s) {
        EXPECT_FALSE(s.connecting());
        callbacks++;
      };
      sockets.push_back(
          connector.Connect("127.0.0.1", hanging.port(), std::move(o)));
    }
  }
  EXPECT_EQ(callbacks.load(), 5);
  for (const auto& s : sockets) {
    EXPECT_FALSE(s->connecting());
    EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
    EXPECT_TRUE(s->Close().ok());
  }
}

TEST(ConnectorTest, PollsTwoHundredSocketsWithoutAnEventLoop) {
  Listener listener(Listener::Mode::kHold);
  Connector connector;
  std::vector<std::shared_ptr<Socket>> sockets;
  for (int i = 0; i < 200; ++i) {
    sockets.push_back(connector.Connect("127.0.0.1", listener.port()));
  }
  // TIP 427's use: do other work, and ask connecting() now and then.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& s : sockets) {
          if (s->connecting()) return false;
        }
        return true;
      },
      absl::Seconds(60)));
  for (const auto& s : sockets) {
    EXPECT_TRUE(s->error().ok()) << s->error();
    EXPECT_TRUE(s->peername().has_value());
  }
}

TEST(ConnectorTest, WaitAnyReturnsTheCompleteSocket) {
  HangingListener hanging;
  RefusingPort refusing;
  Connector connector;
  std::vector<std::shared_ptr<Socket>> sockets = {
      connector.Connect("127.0.0.1", hanging.port()), nullptr,
      connector.Connect("127.0.0.1", refusing.port())};
  EXPECT_EQ(WaitAny(sockets, kLong), 2u);
  std::vector<std::shared_ptr<Socket>> pending = {sockets[0]};
  EXPECT_EQ(WaitAny(pending, absl::Milliseconds(20)), 1u);
  EXPECT_EQ(WaitAny({}, absl::Milliseconds(1)), 0u);
}

TEST(ConnectorTest, BadInputCompletesAtOnceNamingTheValue) {
  Connector connector;
  struct Case {
    std::string host;
    std::string local;
    std::string named;
  };
  std::vector<Case> cases = {
      {"", "", "host is empty"},
      {std::string("a\0b", 3), "", "a\\000b"},
      {std::string(300, 'x'), "", "300 bytes"},
      {"localhost", "not-an-ip", "not-an-ip"},
      {"localhost", "1.2.3.4.5", "1.2.3.4.5"},
  };
  for (const Case& c : cases) {
    bool called_inline = false;
    ConnectOptions o;
    o.local_address = c.local;
    o.on_complete = [&](Socket&) { called_inline = true; };
    std::shared_ptr<Socket> s = connector.Connect(c.host, 80, std::move(o));
    EXPECT_TRUE(called_inline);
    EXPECT_FALSE(s->connecting());
    EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s->error().message(), HasSubstr(c.named));
    EXPECT_TRUE(s->Close().ok());
  }
  ConnectOptions negative;
  negative.timeout = absl::Milliseconds(-1);
  EXPECT_THAT(connector.Connect("localhost", 80, std::move(negative))
                  ->error()
                  .message(),
              HasSubstr("timeout must be positive"));
}

TEST(ConnectorTest, UnbindableLocalAddressIsAnAttemptWithBindErrno) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.local_address = "192.0.2.1";  // TEST-NET-1: not an address of this host.
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error_code(), EADDRNOTAVAIL);
  ASSERT_EQ(s->attempts().size(), 1u);
  EXPECT_EQ(s->attempts()[0].error_code, EADDRNOTAVAIL);
}

TEST(ConnectorTest, BindsTheLocalAddress) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.local_address = "127.0.0.2";
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->sockname()->ip(), "127.0.0.2");
}

TEST(ConnectorTest, OnCompleteRunsOnceAfterPublication) {
  Listener listener;
  RefusingPort refusing;
  Connector connector;
  std::atomic<int> calls{0};
  std::atomic<bool> saw_connecting{false};
  auto count = [&](Socket& s) {
    if (s.connecting()) saw_connecting = true;
    calls++;
  };
  for (uint16_t port : {listener.port(), refusing.port()}) {
    ConnectOptions o;
    o.on_complete = count;
    (void)connector.Connect("127.0.0.1", port, std::move(o))->Wait(kLong);
  }
  EXPECT_TRUE(WaitFor([&] { return calls == 2; }));
  EXPECT_FALSE(saw_connecting);
}

TEST(ConnectorTest, FullQueueGivesResourceExhausted) {
  HangingListener hanging;
  ConnectorOptions options;
  options.max_workers = 1;
  options.max_queued = 1;
  Connector connector(std::move(options));
  auto first = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(WaitFor([&] { return first->attempts().size() == 1; }));
  auto queued = connector.Connect("127.0.0.1", hanging.port());
  auto rejected = connector.Connect("127.0.0.1", hanging.port());
  EXPECT_FALSE(rejected->connecting());
  EXPECT_EQ(rejected->error().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(rejected->error().message(), HasSubstr("max_queued 1"));
  EXPECT_TRUE(queued->connecting());
}

TEST(ConnectorTest, PoolGrowsForBlockedConnectsAndShrinksWhenIdle) {
  HangingListener hanging;
  ConnectorOptions options;
  options.worker_idle_timeout = absl::Milliseconds(20);
  Connector connector(std::move(options));
  std::vector<std::shared_ptr<Socket>> sockets;
  for (int i = 0; i < 20; ++i) {
    sockets.push_back(connector.Connect("127.0.0.1", hanging.port()));
  }
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& s : sockets) {
      if (s->attempts().empty()) return false;
    }
    return true;
  }));
  EXPECT_GE(connector.stats().workers, 20u);  // Every connect has its thread.
  for (const auto& s : sockets) EXPECT_TRUE(s->Close().ok());
  EXPECT_TRUE(WaitFor([&] { return connector.stats().workers == 0; }));
}

TEST(ConnectorTest, NoDescriptorOrThreadLeftAfterAThousandConnects) {
  const int fds = testing::CountOpenFds();
  const int threads = testing::CountThreads();
  {
    Listener listener(Listener::Mode::kClose);
    Connector connector;
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<std::shared_ptr<Socket>> s =
          connector.ConnectAndWait("127.0.0.1", listener.port());
      ASSERT_TRUE(s.ok()) << s.status();
      ASSERT_TRUE((*s)->Close().ok());
    }
    ConnectorStats stats = connector.stats();
    EXPECT_EQ(stats.submitted, 1000u);
    EXPECT_EQ(stats.connected, 1000u);
    EXPECT_EQ(stats.attempts, 1000u);
  }
  EXPECT_EQ(testing::CountOpenFds(), fds);
  EXPECT_TRUE(testing::WaitForThreads(threads))
      << testing::CountThreads() << " threads, " << threads << " before";
}

}  // namespace
}  // namespace tether
