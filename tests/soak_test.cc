// Soak: many connects from many threads while things go wrong on purpose.
//
// SOAK_CONNECTS connects (100,000 in soak_test, fewer in the TSan-sized
// soak_small_test) from 8 threads against a loopback sink, each thread
// choosing at random to: connect and close (with a reset, SO_LINGER {1,0},
// so no TIME_WAIT piles up); cancel with Close() while connecting; time out
// (1-5 ms timeouts against a listener whose accept queue is full, or against
// the sink); be refused; or leave the connect pending for the thread's
// Connector to cancel when it is destroyed mid-flight (every few hundred
// connects). Asserts: every socket completes exactly once with a status
// from the expected set; on_complete ran exactly once for each;
// /proc/self/fd and /proc/self/task are back to their starting counts; and,
// outside the sanitizers, RSS after the run is within a generous bound of
// RSS after a warm-up phase.

#include <errno.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_injecting_socket_ops.h"
#include "tests/testing/loopback.h"
#include "tests/testing/sink_server.h"
#include "tether/connector.h"

#ifndef SOAK_CONNECTS
#define SOAK_CONNECTS 100000
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SOAK_SANITIZED 1
#endif
#endif

namespace tether {
namespace {

using testing::HangingListener;
using testing::RefusingPort;
using testing::SinkServer;
using testing::WaitFor;

constexpr int kThreads = 8;
constexpr int kTotal = SOAK_CONNECTS;
constexpr absl::Duration kLong = absl::Seconds(60);

// What each socket's on_complete saw.
struct Record {
  std::atomic<int> callbacks{0};
  std::atomic<bool> saw_connecting{false};
};

struct Totals {
  std::atomic<int64_t> connected{0};
  std::atomic<int64_t> cancelled{0};
  std::atomic<int64_t> timed_out{0};
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> unexpected{0};
  std::atomic<int64_t> connectors{0};
  std::atomic<int64_t> abandoned{0};  // left pending for ~Connector
};

class Soak {
 public:
  Soak() : records_(kTotal) {}

  // Runs connects [begin, end) split over kThreads threads.
  void Run(int begin, int end) {
    std::vector<std::thread> threads;
    const int per = (end - begin) / kThreads;
    for (int t = 0; t < kThreads; ++t) {
      const int b = begin + t * per;
      const int e = t == kThreads - 1 ? end : b + per;
      threads.emplace_back([this, t, b, e] { Worker(t, b, e); });
    }
    for (std::thread& t : threads) t.join();
  }

  // Every socket [0, n) completed exactly once.
  void ExpectAllCompletedOnce(int n) {
    EXPECT_TRUE(WaitFor(
        [&] {
          for (int i = 0; i < n; ++i) {
            if (records_[i].callbacks.load() == 0) return false;
          }
          return true;
        },
        kLong));
    int wrong = 0;
    for (int i = 0; i < n; ++i) {
      if (records_[i].callbacks.load() != 1 ||
          records_[i].saw_connecting.load()) {
        if (++wrong <= 10) {
          ADD_FAILURE() << "socket " << i << ": on_complete ran "
                        << records_[i].callbacks.load() << " times"
                        << (records_[i].saw_connecting.load()
                                ? ", and saw it connecting"
                                : "");
        }
      }
    }
    EXPECT_EQ(wrong, 0);
  }

  const Totals& totals() const { return totals_; }
  const SinkServer& sink() const { return sink_; }

 private:
  void Worker(int thread, int begin, int end);
  // Checks a complete socket's published state; counts its outcome.
  void Classify(const Socket& s, bool may_time_out);

  SinkServer sink_;
  HangingListener hanging_;
  RefusingPort refusing_;
  std::vector<Record> records_;
  Totals totals_;
};

void Soak::Classify(const Socket& s, bool may_time_out) {
  const absl::StatusCode code = s.error().code();
  const bool ok_shape =
      code == absl::StatusCode::kOk
          ? s.error_code() == 0 && s.peername().has_value()
          : s.error_code() != 0 && !s.peername().has_value() && s.fd() == -1;
  if (!ok_shape) {
    totals_.unexpected++;
    return;
  }
  switch (code) {
    case absl::StatusCode::kOk:
      totals_.connected++;
      return;
    case absl::StatusCode::kCancelled:
      totals_.cancelled++;
      return;
    case absl::StatusCode::kDeadlineExceeded:
      if (may_time_out) {
        totals_.timed_out++;
        return;
      }
      break;
    case absl::StatusCode::kUnavailable:
      if (s.error_code() == ECONNREFUSED) {
        totals_.refused++;
        return;
      }
      if (may_time_out && s.error_code() == ETIMEDOUT) {
        totals_.timed_out++;
        return;
      }
      break;
    default:
      break;
  }
  if (totals_.unexpected++ < 10) {
    fprintf(stderr, "unexpected outcome: %s\n", s.error().ToString().c_str());
  }
}

void Soak::Worker(int thread, int begin, int end) {
  std::mt19937 rng(1234567 + thread);
  auto connector = std::make_unique<Connector>();
  totals_.connectors++;
  std::vector<std::shared_ptr<Socket>> pending;  // cancelled by ~Connector
  int next_swap = begin + 200 + static_cast<int>(rng() % 400);
  for (int id = begin; id < end; ++id) {
    if (id >= next_swap) {
      connector.reset();  // cancels what is pending, mid-flight
      for (auto& p : pending) {
        if (p->connecting()) totals_.unexpected++;
        Classify(*p, true);
        (void)p->Close();
      }
      pending.clear();
      connector = std::make_unique<Connector>();
      totals_.connectors++;
      next_swap = id + 200 + static_cast<int>(rng() % 400);
    }
    Record* record = &records_[id];
    ConnectOptions o;
    o.happy_eyeballs_delay = absl::ZeroDuration();
    o.on_complete = [record](Socket& s) {
      if (s.connecting()) record->saw_connecting = true;
      record->callbacks++;
    };
    const int r = static_cast<int>(rng() % 100);
    uint16_t port = sink_.port();
    bool may_time_out = false;
    if (r >= 75 && r < 85) {
      port = hanging_.port();
      o.timeout = absl::Milliseconds(1 + rng() % 5);
      may_time_out = true;
    } else if (r >= 85 && r < 90) {
      o.attempt_timeout = absl::Milliseconds(1 + rng() % 5);
      may_time_out = true;
    } else if (r >= 90 && r < 95) {
      port = refusing_.port();
    }
    std::shared_ptr<Socket> s =
        connector->Connect("127.0.0.1", port, std::move(o));
    if (r >= 60 && r < 75) {  // cancel while connecting (or just after)
      if (rng() % 2 == 0) std::this_thread::yield();
      (void)s->Close();
      if (!s->Wait(kLong)) totals_.unexpected++;
      Classify(*s, false);
      continue;
    }
    if (r >= 95) {  // leave it to the connector
      pending.push_back(std::move(s));
      totals_.abandoned++;
      continue;
    }
    if (!s->Wait(kLong)) {
      totals_.unexpected++;
      continue;
    }
    Classify(*s, may_time_out);
    const int fd = s->fd();
    if (fd >= 0) testing::LingerZero(fd);
    (void)s->Close();
  }
  connector.reset();
  for (auto& p : pending) {
    Classify(*p, true);
    (void)p->Close();
  }
}

TEST(SoakTest, ConnectsCancelsTimeoutsAndDestroyedConnectors) {
  const absl::Time start = absl::Now();
  auto soak = std::make_unique<Soak>();
  const int fds = testing::CountOpenFds();
  const int threads = testing::IdleThreadCount();

  const int warmup = kTotal / 10;
  soak->Run(0, warmup);
  soak->ExpectAllCompletedOnce(warmup);
  const long rss_warm = testing::RssKib();
  soak->Run(warmup, kTotal);
  soak->ExpectAllCompletedOnce(kTotal);
  const long rss_end = testing::RssKib();

  // Everything is closed: the sink sees every connection go.
  EXPECT_TRUE(WaitFor([&] { return soak->sink().open() == 0; }, kLong))
      << soak->sink().open() << " connections still open at the sink";
  EXPECT_TRUE(WaitFor([&] { return testing::CountOpenFds() == fds; }, kLong))
      << "descriptors: " << fds << " before, " << testing::CountOpenFds()
      << " after";
  EXPECT_TRUE(
      WaitFor([&] { return testing::CountThreads() == threads; }, kLong))
      << "threads: " << threads << " before, " << testing::CountThreads()
      << " after";

  const Totals& t = soak->totals();
  EXPECT_EQ(t.unexpected.load(), 0);
  const int64_t outcomes = t.connected + t.cancelled + t.timed_out + t.refused;
  EXPECT_EQ(outcomes, kTotal);
  EXPECT_GT(t.connected.load(), kTotal / 2);
  EXPECT_GT(t.cancelled.load(), 0);
  EXPECT_GT(t.timed_out.load(), 0);
  EXPECT_GT(t.refused.load(), 0);
#ifndef SOAK_SANITIZED
  // Generous: a per-connect leak of even 200 bytes would exceed it.
  EXPECT_LT(rss_end - rss_warm, 16 * 1024 + kTotal / 5)
      << "RSS grew from " << rss_warm << " KiB to " << rss_end << " KiB";
#endif
  const absl::Duration took = absl::Now() - start;
  char summary[512];
  snprintf(summary, sizeof(summary),
           "%d connects in %.1f s from %d threads, %lld connectors: "
           "%lld connected, %lld cancelled, %lld timed out, %lld refused, "
           "%lld left to ~Connector, %lld unexpected; sink accepted %lld; "
           "RSS %ld KiB after warm-up, %ld KiB at the end; fds %d -> %d, "
           "threads %d -> %d",
           kTotal, absl::ToDoubleSeconds(took), kThreads,
           static_cast<long long>(t.connectors.load()),
           static_cast<long long>(t.connected.load()),
           static_cast<long long>(t.cancelled.load()),
           static_cast<long long>(t.timed_out.load()),
           static_cast<long long>(t.refused.load()),
           static_cast<long long>(t.abandoned.load()),
           static_cast<long long>(t.unexpected.load()),
           static_cast<long long>(soak->sink().accepted()), rss_warm, rss_end,
           fds, testing::CountOpenFds(), threads, testing::CountThreads());
  fprintf(stderr, "%s\n", summary);
  ::testing::Test::RecordProperty("summary", summary);
}

}  // namespace
}  // namespace tether
