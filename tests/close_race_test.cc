// Stress: Close() racing connect completion and blocked I/O.
//
// 10,000 iterations over 4 lanes. In each, a socket connects to a loopback
// sink (which never writes) and, at a random moment, Close() is called:
// right away (racing the worker's connect and publication), after a short
// random spin, or while a helper thread is blocked in Read() or looping in
// Write(). Asserts, per iteration: the socket is complete, fd() is -1 after
// Close(), the status is OK or kCancelled, the blocked Read returns
// promptly with kCancelled / kFailedPrecondition (or the connect's
// cancellation), never data and never a hang; and at the end that
// on_complete ran exactly once per socket and no descriptor or thread
// leaked. Sized to run in seconds under ThreadSanitizer, which checks the
// lock-free publication and the descriptor hand-off for races.

#include <errno.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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

namespace tether {
namespace {

using testing::SinkServer;
using testing::WaitFor;

constexpr int kLanes = 4;
constexpr int kIterations = 10000;
constexpr absl::Duration kLong = absl::Seconds(30);

// One helper thread that runs jobs handed to it, one at a time.
class Helper {
 public:
  Helper() : thread_([this] { Loop(); }) {}
  ~Helper() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Start(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(job);
    done_ = false;
    cv_.notify_all();
  }
  // Waits for the job; false if it did not finish within `timeout`.
  bool Join(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoSeconds(timeout),
                        [this] { return done_; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
      if (job_ == nullptr) return;
      std::function<void()> job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      job();
      lock.lock();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool done_ = true;
  bool stop_ = false;
  std::thread thread_;
};

struct Counts {
  std::atomic<int> connected{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> reads_cancelled{0};
  std::atomic<int> writes_cancelled{0};
  std::atomic<int> failures{0};
};

void Fail(Counts& counts, const std::string& what) {
  if (counts.failures++ < 10) ADD_FAILURE() << what;
}

bool Acceptable(const absl::Status& io) {
  return io.code() == absl::StatusCode::kCancelled ||
         io.code() == absl::StatusCode::kFailedPrecondition;
}

void Lane(int lane, Connector& connector, const SinkServer& sink,
          std::vector<std::atomic<int>>& callbacks, Counts& counts) {
  std::mt19937 rng(99 + lane);
  Helper helper;
  const std::string chunk(16384, 'x');
  const int per = kIterations / kLanes;
  for (int i = 0; i < per; ++i) {
    std::atomic<int>* calls = &callbacks[lane * per + i];
    ConnectOptions o;
    o.on_complete = [calls](Socket&) { (*calls)++; };
    std::shared_ptr<Socket> s =
        connector.Connect("127.0.0.1", sink.port(), std::move(o));
    const int mode = static_cast<int>(rng() % 4);
    absl::Status io;
    bool helper_used = false;
    if (mode == 1) {  // a short random spin first
      const absl::Time until = absl::Now() + absl::Microseconds(rng() % 200);
      while (absl::Now() < until) {
      }
    } else if (mode == 2) {  // a Read blocked (or about to block)
      helper_used = true;
      helper.Start([s, &io] {
        char c;
        io = s->Read(absl::MakeSpan(&c, 1)).status();
      });
      if (rng() % 2 == 0) (void)s->Wait(kLong);
    } else if (mode == 3) {  // Writes until Close stops them
      helper_used = true;
      helper.Start([s, &io, &chunk] {
        for (int k = 0; k < 100 && io.ok(); ++k) io = s->Write(chunk).status();
      });
      if (rng() % 2 == 0) (void)s->Wait(kLong);
    }
    const int fd = s->fd();
    if (fd >= 0) testing::LingerZero(fd);
    const absl::Status closed = s->Close();
    if (!closed.ok()) Fail(counts, "Close: " + closed.ToString());
    if (helper_used && !helper.Join(kLong)) {
      Fail(counts, "I/O still blocked after Close()");
      return;  // the helper still uses `s`; stop this lane
    }
    if (s->connecting()) Fail(counts, "still connecting after Close()");
    if (s->fd() != -1) Fail(counts, "fd() is not -1 after Close()");
    const absl::StatusCode code = s->error().code();
    if (code == absl::StatusCode::kOk) {
      counts.connected++;
    } else if (code == absl::StatusCode::kCancelled &&
               s->error_code() == ECANCELED) {
      counts.cancelled++;
    } else {
      Fail(counts, "connect: " + s->error().ToString());
    }
    if (mode == 2) {
      if (io.ok()) Fail(counts, "Read returned data from a sink");
      if (!Acceptable(io)) Fail(counts, "Read: " + io.ToString());
      counts.reads_cancelled++;
    } else if (mode == 3 && !io.ok()) {
      if (!Acceptable(io)) Fail(counts, "Write: " + io.ToString());
      counts.writes_cancelled++;
    }
  }
}

TEST(CloseRaceTest, CloseRacesCompletionAndIo) {
  const int fds = testing::CountOpenFds();
  const int threads = testing::IdleThreadCount();
  Counts counts;
  std::vector<std::atomic<int>> callbacks(kIterations);
  {
    SinkServer sink;
    {
      Connector connector;
      std::vector<std::thread> lanes;
      for (int lane = 0; lane < kLanes; ++lane) {
        lanes.emplace_back(
            [&, lane] { Lane(lane, connector, sink, callbacks, counts); });
      }
      for (std::thread& t : lanes) t.join();
      EXPECT_TRUE(
          WaitFor([&] { return connector.stats().in_flight == 0; }, kLong));
    }
    int wrong = 0;
    for (int i = 0; i < kIterations; ++i) {
      if (callbacks[i].load() != 1 && wrong++ < 10) {
        ADD_FAILURE() << "socket " << i << ": on_complete ran "
                      << callbacks[i].load() << " times";
      }
    }
    EXPECT_TRUE(WaitFor([&] { return sink.open() == 0; }, kLong));
  }
  EXPECT_EQ(counts.failures.load(), 0);
  EXPECT_EQ(counts.connected + counts.cancelled, kIterations);
  EXPECT_TRUE(WaitFor([&] { return testing::CountOpenFds() == fds; }));
  EXPECT_TRUE(WaitFor([&] { return testing::CountThreads() == threads; }));
  char summary[256];
  snprintf(summary, sizeof(summary),
           "%d iterations: %d connected, %d cancelled while connecting; "
           "%d blocked reads and %d writes ended by Close()",
           kIterations, counts.connected.load(), counts.cancelled.load(),
           counts.reads_cancelled.load(), counts.writes_cancelled.load());
  fprintf(stderr, "%s\n", summary);
  ::testing::Test::RecordProperty("summary", summary);
}

}  // namespace
}  // namespace tether
