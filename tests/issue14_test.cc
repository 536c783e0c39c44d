// Regressions for issue 14: nothing held hostage. A hung resolver or a dead
// backend must not stall other connects or shutdown.
//
// Each test failed against lib/ before the fix: the stuck resolutions held
// every worker (the live connects waited for them) and ~Connector waited
// for the resolver; hanging connects took every worker; a connect that
// never got a worker timed out as "connect ...: timed out".
//
// Timing: the issue asks for 100 ms. Each bound below is that times
// kSlack, documented where it is defined; the measured times go to the XML
// report (RecordProperty), and the condition itself (connected, cancelled,
// the message) is asserted exactly. FaultTest counts descriptors and
// threads back to their start values after each test.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/destination_lines.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/address.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::CountThreads;
using testing::FaultTest;
using testing::HangingListener;
using testing::Listener;
using testing::WaitFor;

// "Within 100 ms", with slack for 2 loaded cores shared with other builds:
// 3x plain, 10x under the sanitizers (thread starts and syscalls cost
// several times more there).
#if defined(TETHER_TSAN) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
constexpr int kSlack = 10;
#else
constexpr int kSlack = 3;
#endif
constexpr absl::Duration kWithin = absl::Milliseconds(100);

bool Contains(const absl::Status& s, absl::string_view what) {
  return s.message().find(what) != absl::string_view::npos;
}

// Blocks every lookup of "stuck.test" until Open(); other hosts are
// numeric loopback, answered at once. Shared with the resolver threads,
// which may outlive the Connector.
class GateResolver : public Resolver {
 public:
  absl::StatusOr<std::vector<SocketAddress>> Resolve(absl::string_view host,
                                                     uint16_t port,
                                                     Family family) override {
    if (host != "stuck.test")
      return Resolver::Default()->Resolve(host, port, family);
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    cv_.wait(lock, [&] { return open_; });
    --inside_;
    return absl::NotFoundError("resolve \"stuck.test\": gate opened");
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int inside() const {
    std::lock_guard<std::mutex> lock(mu_);
    return inside_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int inside_ = 0;
};

class Issue14Test : public FaultTest {
 protected:
  // Waits for every socket, with a bound; true when all completed.
  static bool WaitAll(const std::vector<std::shared_ptr<Socket>>& sockets,
                      absl::Duration limit) {
    const absl::Time end = absl::Now() + limit;
    for (const auto& s : sockets) {
      if (!s->Wait(end - absl::Now())) return false;
    }
    return true;
  }
};

// Item 1: 100 connects stuck in the resolver hold no worker (numeric
// connects go through at once), ~Connector does not wait for them, and the
// resolver threads exit by themselves once the lookups return.
TEST_F(Issue14Test, StuckResolverDelaysNeitherConnectsNorShutdown) {
  auto gate = std::make_shared<GateResolver>();
  ConnectorOptions options;
  Connector& connector = NewConnector(gate, options);
  std::vector<std::shared_ptr<Socket>> stuck;
  for (int i = 0; i < 100; ++i) {
    stuck.push_back(connector.Connect("stuck.test", 80));
  }
  ASSERT_TRUE(WaitFor([&] { return gate->inside() == 64; }, absl::Seconds(10)))
      << "resolver threads inside the gate: " << gate->inside()
      << " (max_resolvers 64)";
  EXPECT_EQ(connector.stats().resolving, 100u);

  Listener live(Listener::Mode::kHold);
  std::vector<std::shared_ptr<Socket>> fast;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 10; ++i)
    fast.push_back(connector.Connect(live.address()));
  ASSERT_TRUE(WaitAll(fast, absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  RecordProperty("live_connects_ms",
                 std::to_string(absl::ToInt64Milliseconds(took)));
  for (const auto& s : fast) EXPECT_TRUE(s->error().ok()) << s->error();
  EXPECT_LT(took, kWithin * kSlack);
  fast.clear();

  const absl::Time destroy = absl::Now();
  connector_.reset();  // the gate is still closed
  const absl::Duration destroy_took = absl::Now() - destroy;
  RecordProperty("destructor_ms",
                 std::to_string(absl::ToInt64Milliseconds(destroy_took)));
  EXPECT_LT(destroy_took, kWithin * kSlack);
  for (const auto& s : stuck) {
    ASSERT_FALSE(s->connecting());
    EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled) << s->error();
  }
  EXPECT_EQ(gate->inside(), 64);  // abandoned, not waited for
  stuck.clear();
  gate->Open();
  // FaultTest's TearDown checks that the threads are back to the start.
  EXPECT_TRUE(WaitFor([&] { return gate->inside() == 0; }, absl::Seconds(10)));
}

// Item 1, the deadline: a connect whose lookup is stuck times out on time,
// and says it was waiting for the resolver.
TEST_F(Issue14Test, DeadlineWhileResolvingSaysSo) {
  auto gate = std::make_shared<GateResolver>();
  Connector& connector = NewConnector(gate);
  ConnectOptions o;
  o.timeout = absl::Milliseconds(100);
  std::shared_ptr<Socket> s = connector.Connect("stuck.test", 80, std::move(o));
  ASSERT_TRUE(s->Wait(absl::Seconds(10)));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Contains(s->error(), "timed out waiting for the resolver"))
      << s->error();
  connector_.reset();
  gate->Open();
  EXPECT_TRUE(WaitFor([&] { return gate->inside() == 0; }, absl::Seconds(10)));
}

// Item 3: with 32 workers, 500 connects hanging on one destination leave
// workers for the others (one destination takes at most 24 of 32; the rest
// wait in its line, holding no thread).
TEST_F(Issue14Test, HangingDestinationLeavesWorkersForOthers) {
  ConnectorOptions options;
  options.max_workers = 32;
  Connector& connector = NewConnector(nullptr, options);
  HangingListener hanging;
  std::vector<std::shared_ptr<Socket>> hung;
  for (int i = 0; i < 500; ++i)
    hung.push_back(connector.Connect(hanging.address()));
  ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts >= 24; },
                      absl::Seconds(10)));
  ConnectorStats stats = connector.stats();
  EXPECT_EQ(stats.attempts, 24u);  // the destination's share of 32
  EXPECT_EQ(stats.queued, 476u);

  Listener live(Listener::Mode::kHold);
  const absl::Time start = absl::Now();
  std::shared_ptr<Socket> s = connector.Connect(live.address());
  ASSERT_TRUE(s->Wait(absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  RecordProperty("live_connect_ms",
                 std::to_string(absl::ToInt64Milliseconds(took)));
  EXPECT_TRUE(s->error().ok()) << s->error();
  EXPECT_LT(took, kWithin * kSlack);
  s.reset();
  connector_.reset();
  for (const auto& h : hung) {
    EXPECT_EQ(h->error().code(), absl::StatusCode::kCancelled) << h->error();
  }
}

// Item 2 of the issue's report: one worker, two hanging targets and a live
// one, timeout 1 s: the live target never got a worker, and says so.
TEST_F(Issue14Test, TimeoutWaitingForWorkerSaysSo) {
  ConnectorOptions options;
  options.max_workers = 1;
  Connector& connector = NewConnector(nullptr, options);
  HangingListener hang1, hang2;
  Listener live(Listener::Mode::kHold);
  auto timed = [] {
    ConnectOptions o;
    o.timeout = absl::Seconds(1);
    return o;
  };
  std::shared_ptr<Socket> h1 = connector.Connect(hang1.address(), timed());
  ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts == 1; },
                      absl::Seconds(10)));
  std::shared_ptr<Socket> h2 = connector.Connect(hang2.address(), timed());
  std::shared_ptr<Socket> s = connector.Connect(live.address(), timed());
  EXPECT_EQ(connector.stats().queued, 2u);
  ASSERT_TRUE(s->Wait(absl::Seconds(10)));
  ASSERT_TRUE(h1->Wait(absl::Seconds(10)));
  EXPECT_EQ(h1->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(Contains(h1->error(), "waiting")) << h1->error();
  if (!s->error().ok()) {  // h1 times out first; s may then get the worker
    EXPECT_TRUE(Contains(s->error(), "timed out waiting for a worker ("))
        << s->error();
    EXPECT_TRUE(s->attempts().empty());
  }
  h1.reset();
  h2.reset();
  s.reset();
}

// Per-destination lines: a connect waiting in its destination's line whose
// deadline passes says so, and is completed at once (not when a slot
// frees).
TEST_F(Issue14Test, TimeoutWaitingInLineSaysSo) {
  ConnectorOptions options;
  options.max_workers = 8;
  options.max_pending_per_destination = 1;
  Connector& connector = NewConnector(nullptr, options);
  HangingListener hanging;
  std::shared_ptr<Socket> first = connector.Connect(hanging.address());
  ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts == 1; },
                      absl::Seconds(10)));
  ConnectOptions o;
  o.timeout = absl::Milliseconds(100);
  std::atomic<bool> called{false};
  o.on_complete = [&](Socket&) { called = true; };
  std::shared_ptr<Socket> s =
      connector.Connect(hanging.address(), std::move(o));
  ASSERT_TRUE(s->Wait(absl::Seconds(10)));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Contains(s->error(),
                       "waiting for a worker (1 of 1 busy with "
                       "this destination)"))
      << s->error();
  EXPECT_TRUE(WaitFor([&] { return called.load(); }, absl::Seconds(10)));
  EXPECT_EQ(connector.stats().queued, 0u);
  connector_.reset();
  EXPECT_EQ(first->error().code(), absl::StatusCode::kCancelled);
}

// DestinationLines tells destinations apart by SocketAddress::operator==
// (its hash reads the raw address, not a formatted name). With one slot per
// destination, Enter() succeeds exactly when no equal address holds it.
TEST(DestinationLinesTest, OneLinePerDestinationAsOperatorEqualsSeesIt) {
  internal::DestinationLines lines(/*cap=*/1);
  auto ip = [](const char* text, uint16_t port) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(text, port);
    EXPECT_TRUE(a.ok()) << a.status();
    return *a;
  };
  auto unix_path = [](const char* path) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Unix(path);
    EXPECT_TRUE(a.ok()) << a.status();
    return *a;
  };
  sockaddr_in6 flow{};
  flow.sin6_family = AF_INET6;
  flow.sin6_port = htons(80);
  flow.sin6_addr.s6_addr[15] = 1;  // ::1
  flow.sin6_flowinfo = htonl(12345);
  absl::StatusOr<SocketAddress> with_flow = SocketAddress::FromSockaddr(
      reinterpret_cast<const sockaddr*>(&flow), sizeof(flow));
  ASSERT_TRUE(with_flow.ok()) << with_flow.status();

  const std::vector<SocketAddress> distinct = {
      ip("127.0.0.1", 80),
      ip("127.0.0.1", 81),
      ip("127.0.0.2", 80),
      ip("::1", 80),
      ip("fe80::1%lo", 80),
      ip("fe80::1", 80),
      ip("::ffff:127.0.0.1", 80),
      unix_path("/tmp/a"),
      unix_path("@a"),
      unix_path("/tmp/b"),
  };
  for (const SocketAddress& a : distinct) {
    EXPECT_TRUE(lines.Enter(a, nullptr)) << a.ToString();
  }
  // An equal address (made again, or with another IPv6 flow label) waits.
  EXPECT_FALSE(lines.Enter(ip("127.0.0.1", 80), nullptr));
  EXPECT_FALSE(lines.Enter(*with_flow, nullptr));
  EXPECT_FALSE(lines.Enter(unix_path("@a"), nullptr));
  // Leave() hands 127.0.0.1:80's slot to the one waiting (it stays taken,
  // so a new Enter() waits); once nobody waits, Leave() frees it, the line
  // is gone, and the next Enter() gets the slot.
  EXPECT_EQ(lines.Leave(ip("127.0.0.1", 80)), nullptr);
  EXPECT_FALSE(lines.Enter(ip("127.0.0.1", 80), nullptr));
  EXPECT_EQ(lines.Leave(ip("127.0.0.1", 80)), nullptr);
  EXPECT_EQ(lines.Leave(ip("127.0.0.1", 80)), nullptr);
  EXPECT_TRUE(lines.Enter(ip("127.0.0.1", 80), nullptr));
}

}  // namespace
}  // namespace tether
