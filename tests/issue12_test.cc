// Regressions for issue 12: lifetimes and callbacks. Each test is named
// after the numbered item it covers and failed (crash, use-after-free under
// ASan, hang, or a wrong status) against lib/ before the fix. They wait on
// conditions with bounded timeouts; timing margins are wide (CI machines are
// loaded), and each timing bound is far below what the bug produced.

#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"
#include "tether/pipeline.h"

namespace tether {
namespace {

using testing::CountThreads;
using testing::HangingListener;
using testing::Listener;
using testing::WaitFor;

constexpr absl::Duration kLong = absl::Seconds(20);

// A one-shot event (Notification's shape, without the dependency).
class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                        [&] { return notified_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool Contains(const absl::Status& s, absl::string_view what) {
  return s.message().find(what) != absl::string_view::npos;
}

// Runs `destroy` on its own thread and waits at most `limit` for it; a
// destructor that deadlocks fails the test (and aborts: the thread cannot be
// joined) instead of hanging the whole run.
void ReturnsWithin(absl::Duration limit, std::function<void()> destroy) {
  Notification done;
  std::thread t([&] {
    destroy();
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(limit)) {
    std::fprintf(stderr, "deadlock: did not return within %s\n",
                 absl::FormatDuration(limit).c_str());
    std::abort();
  }
  t.join();
}

// Uses `bytes` of stack, so that a callback run on a small fixed stack
// crashes.
__attribute__((noinline)) int UseStack(size_t bytes) {
  volatile char* buf = static_cast<volatile char*>(alloca(bytes));
  for (size_t i = 0; i < bytes; i += 512) buf[i] = 1;
  return buf[bytes / 2];
}

// Item 1: ~Connector while another thread is inside ConnectAndWait() with a
// numeric host (the inline path). It used to free the ConnectorImpl under
// the caller's ConnectTask (heap-use-after-free in Registry::Remove).
TEST(Issue12Test, Item1DestroyWhileAnotherThreadIsInsideConnectAndWait) {
  HangingListener hang;
  for (absl::Duration timeout : {absl::InfiniteDuration(), absl::Seconds(30)}) {
    auto connector = std::make_unique<Connector>();
    Connector* raw = connector.get();  // the caller must not read `connector`
    std::atomic<bool> callback_ran{false};
    absl::StatusOr<std::shared_ptr<Socket>> result;
    std::thread caller([&] {
      ConnectOptions o;
      o.timeout = timeout;
      o.on_complete = [&](Socket&) { callback_ran = true; };
      result = raw->ConnectAndWait("127.0.0.1", hang.port(), std::move(o));
    });
    ASSERT_TRUE(WaitFor([&] { return raw->stats().attempts == 1; }));
    ReturnsWithin(absl::Seconds(10), [&] { connector.reset(); });
    caller.join();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled)
        << result.status();
    EXPECT_TRUE(callback_ran);  // on the caller's thread, before it returned
  }
}

// Item 2: destroying the Connector inside on_complete on a worker (a client
// that shuts down once connected) joined the running worker and unmapped
// the stack it ran on.
TEST(Issue12Test, Item2DestroyInsideOnCompleteOnAWorker) {
  Listener listener;
  HangingListener hang;
  const int threads_before = CountThreads();
  auto* connector = new Connector();
  // Other connects pending on other workers are cancelled by it.
  std::vector<std::shared_ptr<Socket>> pending;
  for (int i = 0; i < 4; ++i) {
    pending.push_back(connector->Connect("127.0.0.1", hang.port()));
  }
  ASSERT_TRUE(WaitFor([&] { return connector->stats().attempts == 4; }));
  Notification destroyed;
  pid_t callback_tid = 0;
  ConnectOptions o;
  o.on_complete = [&](Socket& s) {
    EXPECT_TRUE(s.error().ok()) << s.error();
    callback_tid = Tid();
    delete connector;  // from its own worker
    // Still on that worker, whose stack must still be mapped.
    EXPECT_GT(UseStack(64 * 1024), 0);
    destroyed.Notify();
  };
  std::shared_ptr<Socket> s =
      connector->Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(destroyed.WaitForNotificationWithTimeout(kLong));
  EXPECT_NE(callback_tid, Tid());
  for (const auto& p : pending) {
    ASSERT_FALSE(p->connecting());
    EXPECT_EQ(p->error().code(), absl::StatusCode::kCancelled) << p->error();
  }
  // The worker is joined, and its stack freed, by another thread.
  EXPECT_TRUE(WaitFor([&] { return CountThreads() <= threads_before; }))
      << CountThreads() << " threads, " << threads_before << " before";
}

// Items 3 and 4: on_complete of a socket past its deadline ran on the timer
// thread: destroying the Connector there freed the Timer under its own
// loop, and a callback that needs more stack than the timer's fixed 128 KiB
// crashed. Now it runs on the socket's worker, or on the CallbackThread
// when no worker has it (a queued connect); both have worker_stack_size.
TEST(Issue12Test, Item3DestroyInsideOnCompleteOfATimedOutSocket) {
  HangingListener hang;
  const int threads_before = CountThreads();
  for (bool queued : {false, true}) {
    ConnectorOptions co;
    co.max_workers = 1;
    auto* connector = new Connector(co);
    // With `queued`, the only worker is busy: the timed-out socket never
    // gets one.
    std::shared_ptr<Socket> busy;
    if (queued) busy = connector->Connect("127.0.0.1", hang.port());
    Notification destroyed;
    ConnectOptions o;
    o.timeout = absl::Milliseconds(50);
    o.on_complete = [&](Socket& s) {
      EXPECT_EQ(s.error().code(), absl::StatusCode::kDeadlineExceeded);
      delete connector;
      destroyed.Notify();
    };
    std::shared_ptr<Socket> s =
        connector->Connect("127.0.0.1", hang.port(), std::move(o));
    ASSERT_TRUE(destroyed.WaitForNotificationWithTimeout(kLong))
        << "queued " << queued;
    if (busy != nullptr) {
      EXPECT_EQ(busy->error().code(), absl::StatusCode::kCancelled);
    }
  }
  EXPECT_TRUE(WaitFor([&] { return CountThreads() <= threads_before; }))
      << CountThreads() << " threads, " << threads_before << " before";
}

TEST(Issue12Test, Item4TimedOutCallbackGetsTheWorkerStackSize) {
  HangingListener hang;
  ConnectorOptions co;
  co.max_workers = 1;
  co.worker_stack_size = 8 << 20;
  Connector connector(co);
  std::atomic<int> ran{0};
  auto timed_out = [&] {
    ConnectOptions o;
    o.timeout = absl::Milliseconds(30);
    o.on_complete = [&](Socket&) {
      EXPECT_GT(UseStack(1 << 20), 0);  // 1 MiB: far over the timer's stack
      ++ran;
    };
    return connector.Connect("127.0.0.1", hang.port(), std::move(o));
  };
  // The first times out on the worker; `busy` takes the worker next, so the
  // last times out queued (its callback runs on the CallbackThread).
  std::shared_ptr<Socket> on_worker = timed_out();
  std::shared_ptr<Socket> busy = connector.Connect("127.0.0.1", hang.port());
  std::shared_ptr<Socket> queued = timed_out();
  EXPECT_TRUE(WaitFor([&] { return ran == 2; }));
  ASSERT_TRUE(busy->Close().ok());
}

// Item 5: a slow on_complete (it ran on the timer thread) delayed every
// other socket's deadline; one that waits for another socket's deadline
// deadlocked. B's resolution is held, so only the timer can publish its
// deadline.
TEST(Issue12Test, Item5SlowCallbackDelaysNoOtherDeadline) {
  HangingListener hang;
  auto resolver = std::make_shared<testing::FakeResolver>(
      std::vector<SocketAddress>{hang.address()});
  resolver->Hold(Family::kIPv6);
  ConnectorOptions co;
  co.resolver = resolver;
  Connector connector(co);
  ConnectOptions ob;
  ob.family = Family::kIPv6;  // held
  ob.timeout = absl::Milliseconds(200);
  std::shared_ptr<Socket> b = connector.Connect("b.test", 1, std::move(ob));
  std::atomic<bool> b_done_in_a{false};
  Notification a_done;
  ConnectOptions oa;
  oa.family = Family::kIPv4;
  oa.timeout = absl::Milliseconds(20);
  oa.on_complete = [&](Socket&) {
    // Blocks until B's deadline is published (it never was).
    b_done_in_a = b->Wait(absl::Seconds(5));
    a_done.Notify();
  };
  std::shared_ptr<Socket> a = connector.Connect("a.test", 1, std::move(oa));
  ASSERT_TRUE(a_done.WaitForNotificationWithTimeout(kLong));
  EXPECT_TRUE(b_done_in_a) << "B's deadline waited for A's callback";
  ASSERT_FALSE(b->connecting());
  EXPECT_EQ(b->error().code(), absl::StatusCode::kDeadlineExceeded);
  resolver->Release();
}

// Item 6: while the timer was late, a Happy Eyeballs coordinator looped on a
// Waiter whose deadline had passed (1.24 s of CPU in 1.45 s). Now whoever
// sees the deadline pass first publishes it. The timer is made late by
// holding its first shutdown() (socket A's deadline interrupting A's
// attempt, itself held inside connect()) for 1.5 s; B's race waits for an
// IPv6 answer that never comes.
class Issue12FaultTest : public testing::FaultTest {};

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return absl::ToDoubleSeconds(absl::DurationFromTimeval(u.ru_utime) +
                               absl::DurationFromTimeval(u.ru_stime));
}

TEST_F(Issue12FaultTest, Item6NoBusyWaitWhileTheTimerIsLate) {
  HangingListener hang;
  std::atomic<int> connects{0}, shutdowns{0};
  Notification timer_held, timer_released;
  ops_.SetBefore(testing::Call::kConnect, [&](const testing::CallInfo&) {
    // A's connect(): still inside it when A's deadline fires.
    return connects++ == 0 ? testing::Action::Delay(absl::Milliseconds(300))
                           : testing::Action::Pass();
  });
  ops_.SetBefore(testing::Call::kShutdown, [&](const testing::CallInfo&) {
    if (shutdowns++ != 0) return testing::Action::Pass();
    timer_held.Notify();
    absl::SleepFor(absl::Milliseconds(1500));
    timer_released.Notify();
    return testing::Action::Pass();
  });
  auto resolver = std::make_shared<testing::FakeResolver>(
      std::vector<SocketAddress>{hang.address()});
  resolver->Hold(Family::kIPv6);
  Connector& connector = NewConnector(resolver);
  ConnectOptions oa;
  oa.family = Family::kIPv4;
  oa.timeout = absl::Milliseconds(20);
  std::shared_ptr<Socket> a = connector.Connect("a.test", 1, std::move(oa));
  ASSERT_TRUE(timer_held.WaitForNotificationWithTimeout(kLong));
  const double cpu_before = CpuSeconds();
  const absl::Time start = absl::Now();
  ConnectOptions ob;  // a race: per-family resolutions, IPv6 held
  ob.timeout = absl::Milliseconds(200);
  std::shared_ptr<Socket> b = connector.Connect("b.test", 1, std::move(ob));
  ASSERT_TRUE(b->Wait(kLong));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(b->error().code(), absl::StatusCode::kDeadlineExceeded)
      << b->error();
  EXPECT_LT(took, absl::Milliseconds(1200)) << "published by the late timer";
  ASSERT_TRUE(timer_released.WaitForNotificationWithTimeout(kLong));
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = CpuSeconds() - cpu_before;
  EXPECT_LT(cpu, 0.5 * wall) << cpu << " s of CPU in " << wall << " s";
  ASSERT_TRUE(a->Wait(kLong));
  resolver->Release();
}

// Item 7: ConnectAndWait() with a numeric host and a timeout that fires ran
// on_complete on the timer thread after the call returned; the header says
// it runs on the calling thread before the call returns.
TEST(Issue12Test, Item7ConnectAndWaitRunsOnCompleteOnTheCallerBeforeReturning) {
  HangingListener hang;
  Connector connector;
  for (int i = 0; i < 5; ++i) {
    std::atomic<pid_t> tid{0};
    ConnectOptions o;
    o.timeout = absl::Milliseconds(20);
    o.on_complete = [&](Socket&) { tid = Tid(); };
    absl::StatusOr<std::shared_ptr<Socket>> r =
        connector.ConnectAndWait("127.0.0.1", hang.port(), std::move(o));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(tid.load(), Tid()) << "run " << i;
  }
}

// Item 8: a huge finite timeout overflowed PollTimeout() (UBSan: signed
// integer overflow).
TEST(Issue12Test, Item8HugeFiniteTimeoutIsNoOverflow) {
  HangingListener hang;
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.timeout = absl::Seconds(int64_t{1} << 60);
  o.attempt_timeout = absl::Seconds(int64_t{1} << 60);
  absl::StatusOr<std::shared_ptr<Socket>> ok =
      connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  EXPECT_TRUE(ok.ok()) << ok.status();
  ConnectOptions o2;
  o2.timeout = absl::Seconds(int64_t{1} << 60);
  o2.attempt_timeout = absl::Seconds(int64_t{1} << 60);
  std::shared_ptr<Socket> s =
      connector.Connect("127.0.0.1", hang.port(), std::move(o2));
  ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts == 2; }));
  ASSERT_TRUE(s->Close().ok());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
}

// Item 9: a cancelled queued connect kept its max_queued slot, and its
// on_complete waited for a free worker (here: for ever).
TEST(Issue12Test, Item9CancelledQueuedConnectFreesItsSlotAndCallsBack) {
  HangingListener hang;
  ConnectorOptions co;
  co.max_workers = 1;
  co.max_queued = 1;
  Connector connector(co);
  std::shared_ptr<Socket> busy = connector.Connect("127.0.0.1", hang.port());
  ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts == 1; }));
  for (bool by_deadline : {false, true}) {
    Notification called;
    ConnectOptions o;
    if (by_deadline) o.timeout = absl::Milliseconds(30);
    o.on_complete = [&](Socket&) { called.Notify(); };
    std::shared_ptr<Socket> queued =
        connector.Connect("127.0.0.1", hang.port(), std::move(o));
    ASSERT_TRUE(queued->connecting()) << queued->error();
    if (!by_deadline) {
      ASSERT_TRUE(queued->Close().ok());
    }
    EXPECT_TRUE(called.WaitForNotificationWithTimeout(kLong))
        << "on_complete waits for a worker (deadline " << by_deadline << ")";
    EXPECT_EQ(queued->error().code(), by_deadline
                                          ? absl::StatusCode::kDeadlineExceeded
                                          : absl::StatusCode::kCancelled);
    // The slot is free again: the next connect queues.
    std::shared_ptr<Socket> next = connector.Connect("127.0.0.1", hang.port());
    EXPECT_TRUE(next->connecting()) << next->error();
    ASSERT_TRUE(next->Close().ok());
  }
  EXPECT_TRUE(WaitFor([&] { return connector.stats().in_flight == 1; }));
}

// Item 10: Connect() from on_complete while the Connector was being
// destroyed said kResourceExhausted ("cannot start the timer thread") when
// a timeout was set: a caller backing off on it retried a dying Connector.
TEST(Issue12Test, Item10ConnectDuringDestructionIsCancelled) {
  HangingListener hang;
  for (bool with_timeout : {false, true}) {
    auto connector = std::make_unique<Connector>();
    Connector* raw = connector.get();
    absl::Status retry_status;
    bool retry_callback_ran = false;
    ConnectOptions o;
    o.on_complete = [&](Socket&) {
      ConnectOptions again;
      if (with_timeout) again.timeout = absl::Seconds(5);
      again.on_complete = [&](Socket&) { retry_callback_ran = true; };
      std::shared_ptr<Socket> s =
          raw->Connect("127.0.0.1", hang.port(), std::move(again));
      EXPECT_FALSE(s->connecting());  // at once: never queued
      retry_status = s->error();
    };
    std::shared_ptr<Socket> s =
        connector->Connect("127.0.0.1", hang.port(), std::move(o));
    ASSERT_TRUE(WaitFor([&] { return raw->stats().attempts == 1; }));
    connector.reset();
    EXPECT_EQ(retry_status.code(), absl::StatusCode::kCancelled)
        << retry_status;
    EXPECT_TRUE(Contains(retry_status, "connector is shutting down"))
        << retry_status;
    EXPECT_TRUE(retry_callback_ran);
  }
}

// Item 11: with one worker, a "reconnect on failure" on_complete during
// ~Connector queued its retry behind the only worker, which the destructor
// was joining, and waited for it: ~Connector never returned.
TEST(Issue12Test, Item11ReconnectingCallbackDoesNotDeadlockTheDestructor) {
  HangingListener hang;
  ConnectorOptions co;
  co.max_workers = 1;
  auto connector = std::make_unique<Connector>(co);
  Connector* raw = connector.get();
  std::atomic<int> retries{0};
  std::function<void(Socket&)> reconnect = [&](Socket& s) {
    if (s.error().ok() || retries++ >= 3) return;  // bounded, for the test
    ConnectOptions o;
    o.on_complete = reconnect;
    std::shared_ptr<Socket> again =
        raw->Connect("127.0.0.1", hang.port(), std::move(o));
    (void)again->Wait(absl::InfiniteDuration());  // the retry's outcome
  };
  ConnectOptions o;
  o.on_complete = reconnect;
  std::shared_ptr<Socket> s =
      connector->Connect("127.0.0.1", hang.port(), std::move(o));
  ASSERT_TRUE(WaitFor([&] { return raw->stats().attempts == 1; }));
  ReturnsWithin(absl::Seconds(10), [&] { connector.reset(); });
  EXPECT_EQ(retries.load(), 4);
}

// Item 12: ~Connector in the middle of races left attempts kInProgress for
// ever (sub-tasks abandoned by the pool never recorded their end).
TEST(Issue12Test, Item12EveryAttemptEndsAfterDestructionMidRace) {
  std::vector<std::unique_ptr<HangingListener>> hangs;
  std::vector<SocketAddress> addresses;
  for (int i = 0; i < 6; ++i) {
    hangs.push_back(std::make_unique<HangingListener>());
    addresses.push_back(hangs.back()->address());
  }
  for (int round = 0; round < 20; ++round) {
    ConnectorOptions co;
    co.max_workers = 12;  // fewer than the attempts wanted: some wait
    co.resolver = std::make_shared<testing::FakeResolver>(addresses);
    auto connector = std::make_unique<Connector>(co);
    std::vector<std::shared_ptr<Socket>> sockets;
    for (int i = 0; i < 10; ++i) {
      ConnectOptions o;
      o.happy_eyeballs_delay = absl::Milliseconds(1);
      sockets.push_back(connector->Connect("race.test", 1, std::move(o)));
    }
    absl::SleepFor(absl::Milliseconds(round % 5));  // vary the interleaving
    connector.reset();
    for (const auto& s : sockets) {
      ASSERT_FALSE(s->connecting());
      for (const Attempt& a : s->attempts()) {
        EXPECT_NE(a.outcome, Attempt::Outcome::kInProgress)
            << a.address.ToString() << " in round " << round;
      }
    }
  }
}

// Item 12, strengthened: the attempts in flight end in the same critical
// section as the publication, so whoever sees the socket complete (Wait(),
// connecting()) never sees one kInProgress: by deadline, Close(), a race
// won by another address, or ~Connector.
TEST(Issue12Test, Item12NoAttemptInProgressOnceComplete) {
  HangingListener hang1, hang2;
  Listener live;
  ConnectorOptions co;
  co.resolver =
      std::make_shared<testing::FakeResolver>(std::vector<SocketAddress>{
          hang1.address(), hang2.address(), live.address()});
  auto connector = std::make_unique<Connector>(co);
  auto check = [](const Socket& s, const char* how) {
    for (const Attempt& a : s.attempts()) {
      EXPECT_NE(a.outcome, Attempt::Outcome::kInProgress)
          << a.address.ToString() << " after " << how;
    }
  };
  for (int i = 0; i < 10; ++i) {
    ConnectOptions o;
    o.happy_eyeballs_delay = absl::Milliseconds(1);
    o.timeout = absl::Milliseconds(20);
    std::shared_ptr<Socket> won =
        connector->Connect("race.test", 1, std::move(o));
    ASSERT_TRUE(won->Wait(kLong));
    check(*won, "a race");
    ConnectOptions t;
    t.timeout = absl::Milliseconds(5);
    std::shared_ptr<Socket> timed =
        connector->Connect("127.0.0.1", hang1.port(), std::move(t));
    ASSERT_TRUE(timed->Wait(kLong));
    check(*timed, "a timeout");
    std::shared_ptr<Socket> closed =
        connector->Connect("127.0.0.1", hang1.port());
    ASSERT_TRUE(WaitFor([&] { return !closed->attempts().empty(); }));
    ASSERT_TRUE(closed->Close().ok());
    check(*closed, "Close()");
  }
}

// Item 13: with SIGCHLD ignored by the application the kernel reaps the
// child itself, and Close() said "waitpid ...: No child processes". Tcl
// says "child process lost (is SIGCHLD ignored or trapped?)".
TEST(Issue12Test, Item13ChildLostWhenSigchldIsIgnored) {
  struct sigaction old_action;
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGCHLD, &ignore, &old_action), 0);
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Pipeline::Open({"true"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::Status closed = (*p)->Close();
  sigaction(SIGCHLD, &old_action, nullptr);
  EXPECT_FALSE(closed.ok());
  EXPECT_TRUE(
      Contains(closed, "child process lost (is SIGCHLD ignored or trapped?)"))
      << closed;
}

// "The Connector may be destroyed from any thread at any time": also from
// on_complete run inline, in ConnectAndWait() and for bad input in
// Connect(); and from many threads' callbacks racing the destructor.
TEST(Issue12Test, DestroyInsideInlineCallbacks) {
  Listener listener;
  auto* connector = new Connector();
  bool ran = false;
  ConnectOptions o;
  o.on_complete = [&](Socket&) {
    delete connector;
    ran = true;
  };
  absl::StatusOr<std::shared_ptr<Socket>> r =
      connector->ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  EXPECT_TRUE(ran);
  EXPECT_TRUE(r.ok()) << r.status();
  connector = new Connector();
  ran = false;
  ConnectOptions bad;
  bad.on_complete = [&](Socket&) {
    delete connector;
    ran = true;
  };
  std::shared_ptr<Socket> s = connector->Connect("", 80, std::move(bad));
  EXPECT_TRUE(ran);
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Issue12Test, DestroyWhileCallbacksAndConnectsRun) {
  HangingListener hang;
  for (int round = 0; round < 5; ++round) {
    auto connector = std::make_unique<Connector>();
    Connector* raw = connector.get();
    std::atomic<int> callbacks{0};
    std::vector<std::thread> threads;
    std::vector<absl::Status> results(4);
    for (int t = 0; t < 4; ++t) {  // inside ConnectAndWait() when it goes
      threads.emplace_back([&, t] {
        ConnectOptions o;
        if (t % 2 == 1) o.timeout = absl::Seconds(30);
        o.on_complete = [&](Socket&) { ++callbacks; };
        results[t] = raw->ConnectAndWait("127.0.0.1", hang.port(), std::move(o))
                         .status();
      });
    }
    ASSERT_TRUE(WaitFor([&] { return raw->stats().attempts == 4; }));
    std::vector<std::shared_ptr<Socket>> sockets;
    for (int i = 0; i < 20; ++i) {
      ConnectOptions o;
      o.on_complete = [&](Socket&) { ++callbacks; };
      sockets.push_back(raw->Connect("127.0.0.1", hang.port(), std::move(o)));
    }
    absl::SleepFor(absl::Milliseconds(round));  // vary the interleaving
    ReturnsWithin(absl::Seconds(10), [&] { connector.reset(); });
    for (auto& t : threads) t.join();
    for (const absl::Status& r : results) {
      EXPECT_EQ(r.code(), absl::StatusCode::kCancelled) << r;
    }
    for (const auto& s : sockets) EXPECT_FALSE(s->connecting());
    EXPECT_EQ(callbacks.load(), 24);
  }
}

}  // namespace
}  // namespace tether
