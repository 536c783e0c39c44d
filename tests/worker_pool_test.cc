// tests/worker_pool_test.cc: lib/worker_pool.h on its own (no sockets).
//
// Shutdown() must leave no thread behind (the count of /proc/self/task is
// back to where it was the moment Shutdown() returns), must abandon what is
// still queued, and every worker runs on a guarded stack of the requested
// size. No timing assertions: waits are on conditions, with bounded time.

#include "lib/worker_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/socket_ops.h"
#include "tests/testing/fault_injecting_socket_ops.h"
#include "tests/testing/loopback.h"

namespace tether {
namespace internal {
namespace {

using testing::CountThreads;
using testing::WaitFor;

class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class FnTask : public Task {
 public:
  FnTask(std::function<void()> run, std::function<void()> abandon = nullptr)
      : run_(std::move(run)), abandon_(std::move(abandon)) {}
  void Run() override { run_(); }
  void Abandon() override {
    if (abandon_) abandon_();
  }

 private:
  std::function<void()> run_;
  std::function<void()> abandon_;
};

absl::Status Submit(WorkerPool& pool, std::function<void()> run,
                    std::function<void()> abandon = nullptr,
                    bool only_if_idle = false) {
  std::unique_ptr<Task> t(new FnTask(std::move(run), std::move(abandon)));
  return pool.Submit(&t, only_if_idle);
}

WorkerPool::Options Opts(int max_workers, size_t stack = 64 * 1024) {
  WorkerPool::Options o;
  o.max_workers = max_workers;
  o.stack_size = stack;
  o.max_queued = 1 << 16;
  o.ops = SocketOps::Default();
  return o;
}

TEST(WorkerPoolTest, RunsEveryTaskOnItsOwnWorkerWhileOthersBlock) {
  WorkerPool pool(Opts(64));
  Gate gate;
  std::atomic<int> running{0}, done{0};
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(Submit(pool, [&] {
                  running.fetch_add(1);
                  gate.Wait();
                  done.fetch_add(1);
                }).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return running.load() == 40; }));
  EXPECT_EQ(pool.workers(), 40);
  gate.Open();
  ASSERT_TRUE(WaitFor([&] { return done.load() == 40; }));
  ASSERT_TRUE(WaitFor([&] { return pool.idle() == 40; }));
}

TEST(WorkerPoolTest, EveryTaskOfABurstIntoParkedWorkersRuns) {
  // A burst wakes one worker as the spinner and only queues the rest; the
  // spinner (or a worker that stopped spinning just then) wakes at most two
  // parked workers, and each that takes a task wakes two more: if that
  // chain stopped early, tasks would wait for the next Submit(). Each task
  // blocks, so each needs its own worker; no new thread starts after the
  // first round. 64: six generations of the chain.
  for (const int burst : {8, 64}) {
    WorkerPool pool(Opts(burst));
    for (int round = 0; round < 2000 / burst; ++round) {
      Gate gate;
      std::atomic<int> running{0}, done{0};
      for (int i = 0; i < burst; ++i) {
        ASSERT_TRUE(Submit(pool, [&] {
                      running.fetch_add(1);
                      gate.Wait();
                      done.fetch_add(1);
                    }).ok());
      }
      ASSERT_TRUE(WaitFor([&] { return running.load() == burst; }))
          << "burst " << burst << ", round " << round << ": " << running.load()
          << " running";
      gate.Open();
      ASSERT_TRUE(WaitFor([&] { return done.load() == burst; }));
      ASSERT_TRUE(WaitFor([&] { return pool.idle() == burst; }));
      if (round % 2 == 1) absl::SleepFor(absl::Microseconds(200));  // parked
    }
    EXPECT_EQ(pool.workers(), burst);
  }
}

// Submits `n` tasks that block on `gate` and returns once all of them run,
// each on a worker of its own.
void OccupyWorkers(WorkerPool& pool, Gate& gate, int n) {
  std::atomic<int> running{0};
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(Submit(pool, [&] {
                  running.fetch_add(1);
                  gate.Wait();
                }).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return running.load() == n; }));
}

TEST(WorkerPoolTest, ShutdownLeavesNoThreadParkedOrBusy) {
  const int before = testing::IdleThreadCount();
  {
    WorkerPool pool(Opts(300));
    Gate gate;
    ASSERT_NO_FATAL_FAILURE(OccupyWorkers(pool, gate, 300));
    EXPECT_EQ(CountThreads(), before + 300 + 1);  // and the starter
    gate.Open();
    // Half of them parked, the rest may still be on their way.
    ASSERT_TRUE(WaitFor([&] { return pool.idle() >= 150; }));
    pool.Shutdown();
    // Joined: not one left, the moment Shutdown() returns.
    EXPECT_EQ(CountThreads(), before);
    EXPECT_EQ(pool.workers(), 0);
  }
  EXPECT_EQ(CountThreads(), before);
}

TEST(WorkerPoolTest, ShutdownWaitsForBusyWorkersAndAbandonsTheQueue) {
  const int before = testing::IdleThreadCount();
  WorkerPool pool(Opts(2));
  Gate gate;
  std::atomic<int> running{0}, ran{0}, abandoned{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(Submit(pool, [&] {
                  running.fetch_add(1);
                  gate.Wait();
                }).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return running.load() == 2; }));
  // At max_workers: these wait in the queue.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Submit(
            pool, [&] { ran.fetch_add(1); }, [&] { abandoned.fetch_add(1); })
            .ok());
  }
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(20));
    gate.Open();
  });
  pool.Shutdown();  // returns once both busy workers finished
  opener.join();
  EXPECT_EQ(ran.load() + abandoned.load(), 5);
  EXPECT_EQ(CountThreads(), before);
  EXPECT_EQ(Submit(pool, [] {}).code(), absl::StatusCode::kCancelled);
}

TEST(WorkerPoolTest, OnlyIfIdleFailsAtMaxWorkers) {
  WorkerPool pool(Opts(1));
  Gate gate;
  std::atomic<int> running{0};
  ASSERT_TRUE(Submit(pool, [&] {
                running.fetch_add(1);
                gate.Wait();
              }).ok());
  ASSERT_TRUE(WaitFor([&] { return running.load() == 1; }));
  EXPECT_EQ(Submit(
                pool, [] {}, nullptr, /*only_if_idle=*/true)
                .code(),
            absl::StatusCode::kUnavailable);
  gate.Open();
}

TEST(WorkerPoolTest, RetiredWorkersAreJoinedAndTheirStacksReused) {
  const int before = testing::IdleThreadCount();
  WorkerPool pool(Opts(16));
  for (int round = 0; round < 3; ++round) {
    Gate gate;
    std::atomic<int> running{0}, done{0};
    for (int i = 0; i < 16; ++i) {
      ASSERT_TRUE(Submit(pool, [&] {
                    running.fetch_add(1);
                    gate.Wait();
                    done.fetch_add(1);
                  }).ok());
    }
    ASSERT_TRUE(WaitFor([&] { return running.load() == 16; }));
    gate.Open();
    ASSERT_TRUE(WaitFor([&] { return pool.idle() == 16; }));
    pool.RetireIdle(16);
    ASSERT_TRUE(WaitFor([&] {
      pool.RetireIdle(0);  // joins the workers that exited
      // The starter thread stays while the pool lives.
      return pool.workers() == 0 && CountThreads() == before + 1;
    }));
  }
}

// Issue 17: growth never costs the caller a pthread_create(); the pool's
// starter thread (itself started by the first Submit() that needs a
// worker) makes every worker.
TEST(WorkerPoolTest, SubmitNeverStartsAWorkerOnTheCallersThread) {
  testing::FaultInjectingSocketOps ops;
  const pthread_t caller = pthread_self();
  std::atomic<int> starts{0}, on_caller{0};
  ops.SetBefore(testing::Call::kStartThread, [&](const testing::CallInfo&) {
    starts.fetch_add(1);
    if (pthread_equal(pthread_self(), caller)) on_caller.fetch_add(1);
    return testing::Action::Pass();
  });
  WorkerPool::Options o = Opts(64);
  o.ops = &ops;
  WorkerPool pool(o);
  Gate gate;
  ASSERT_NO_FATAL_FAILURE(OccupyWorkers(pool, gate, 40));
  EXPECT_EQ(starts.load(), 41);    // 40 workers and the starter
  EXPECT_EQ(on_caller.load(), 1);  // the starter only
  gate.Open();
  pool.Shutdown();
}

// The starter pins itself to one CPU while it makes a burst of workers, so
// they are born there (lib/worker_pool.cc, StarterLoop()); each must then
// run with the affinity the pool started with, and the starter get it back
// once idle. A worker left pinned would crowd one CPU for its whole life.
TEST(WorkerPoolTest, WorkersBornDuringABurstRunOnEveryCpuOfTheProcess) {
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
  if (CPU_COUNT(&mine) < 2) GTEST_SKIP() << "one CPU: nothing is pinned";
  WorkerPool pool(Opts(64));
  Gate gate;
  std::mutex mu;
  std::vector<cpu_set_t> seen;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(Submit(pool, [&] {
                  cpu_set_t s;
                  sched_getaffinity(0, sizeof s, &s);
                  {
                    std::lock_guard<std::mutex> lock(mu);
                    seen.push_back(s);
                  }
                  gate.Wait();
                }).ok());
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size() == 40;
  }));
  for (const cpu_set_t& s : seen) EXPECT_TRUE(CPU_EQUAL(&s, &mine));
  // Every thread of the process, the starter too, once it is idle.
  EXPECT_TRUE(WaitFor([&] {
    for (pid_t tid : testing::ThreadIds()) {
      cpu_set_t s;
      if (sched_getaffinity(tid, sizeof s, &s) == 0 && !CPU_EQUAL(&s, &mine)) {
        return false;
      }
    }
    return true;
  }));
  gate.Open();
  pool.Shutdown();
}

// The kernel grows a process's descriptor table when a descriptor does not
// fit, and with threads each growth stalls every thread opening one; the
// starter grows it ahead of the workers (4x the pool, checked as it
// doubles from 256), without opening anything that stays open.
TEST(WorkerPoolTest, AGrowingPoolGrowsTheDescriptorTableAhead) {
  rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlimit old = lim;
  if (lim.rlim_max < 2048) GTEST_SKIP() << "RLIMIT_NOFILE hard limit < 2048";
  lim.rlim_cur = std::max<rlim_t>(lim.rlim_cur, 2048);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  const int fds = testing::CountOpenFds();
  {
    WorkerPool pool(Opts(300));
    Gate gate;
    ASSERT_NO_FATAL_FAILURE(OccupyWorkers(pool, gate, 300));
    // At 256 workers: room for descriptor 1024, so the table holds 2048.
    EXPECT_GE(testing::StatusField("FDSize"), 2048);
    EXPECT_EQ(testing::CountOpenFds(), fds);
    gate.Open();
  }
  EXPECT_EQ(testing::CountOpenFds(), fds);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
}

class FailTask : public Task {
 public:
  explicit FailTask(absl::Status* failed) : failed_(failed) {}
  void Run() override {}
  void Fail(absl::Status status) override { *failed_ = std::move(status); }

 private:
  absl::Status* failed_;  // written by the starter before `done`
};

TEST(WorkerPoolTest, AFailedStartFailsAQueuedTaskAndStopsGrowthUntilAnExit) {
  constexpr size_t kWorkerStack = 128 * 1024;
  testing::FaultInjectingSocketOps ops;
  std::atomic<int> workers{0};
  std::atomic<bool> fail{false};
  ops.SetBefore(testing::Call::kStartThread, [&](const testing::CallInfo& c) {
    if (c.stack_size < kWorkerStack) return testing::Action::Pass();
    workers.fetch_add(1);
    return fail.load() ? testing::Action::Fail(EAGAIN)
                       : testing::Action::Pass();
  });
  WorkerPool::Options o = Opts(8, kWorkerStack);
  o.ops = &ops;
  WorkerPool pool(o);
  Gate gate;
  std::atomic<int> running{0};
  ASSERT_TRUE(Submit(pool, [&] {
                running.fetch_add(1);
                gate.Wait();
              }).ok());
  ASSERT_TRUE(WaitFor([&] { return running.load() == 1; }));
  fail.store(true);
  // Needs a second worker; the starter cannot make it and fails the task.
  absl::Status failed;
  std::atomic<bool> done{false};
  {
    class Recorder : public FailTask {
     public:
      Recorder(absl::Status* f, std::atomic<bool>* d) : FailTask(f), d_(d) {}
      void Fail(absl::Status status) override {
        FailTask::Fail(std::move(status));
        d_->store(true);
      }

     private:
      std::atomic<bool>* d_;
    };
    std::unique_ptr<Task> t(new Recorder(&failed, &done));
    ASSERT_TRUE(pool.Submit(&t).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return done.load(); }));
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
  EXPECT_NE(failed.message().find("thread"), absl::string_view::npos) << failed;
  EXPECT_EQ(pool.workers(), 1);
  // From now on growth is refused at once, on the caller's thread.
  const int tried = workers.load();
  absl::Status refused = Submit(pool, [] {});
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_EQ(workers.load(), tried);
  // The busy worker comes back: the pool serves with it.
  gate.Open();
  ASSERT_TRUE(WaitFor([&] { return pool.idle() == 1; }));
  std::atomic<bool> ran{false};
  ASSERT_TRUE(Submit(pool, [&] { ran.store(true); }).ok());
  EXPECT_TRUE(WaitFor([&] { return ran.load(); }));
  pool.Shutdown();
}

// Issue 17: Stop() (what ~Connector uses) returns while workers are busy;
// they exit when their task ends, and Shutdown() joins them.
TEST(WorkerPoolTest, StopReturnsAtOnceAndTheWorkersExitAfterwards) {
  const int before = testing::IdleThreadCount();
  {
    WorkerPool pool(Opts(100));
    Gate gate;
    ASSERT_NO_FATAL_FAILURE(OccupyWorkers(pool, gate, 100));
    std::atomic<int> abandoned{0};
    pool.Stop();  // every worker is busy: nothing to wait for here
    EXPECT_EQ(Submit(
                  pool, [] {}, [&] { abandoned.fetch_add(1); })
                  .code(),
              absl::StatusCode::kCancelled);
    EXPECT_EQ(pool.workers(), 100);
    gate.Open();
    EXPECT_TRUE(WaitFor([&] { return pool.workers() == 0; }));
    pool.Shutdown();
    EXPECT_EQ(CountThreads(), before);
  }
  EXPECT_EQ(CountThreads(), before);
}

// Submit() racing Stop(): every worker it reserved is given back exactly
// once (the count once went to -1: both the submitter and the starter gave
// back a start asked for after Stop()), and every task it queued runs or
// is abandoned exactly once, at the latest by ~WorkerPool.
TEST(WorkerPoolTest, SubmitRacingStopLeavesTheCountsExact) {
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> accepted{0};
    std::atomic<int> done{0};  // ran or abandoned
    {
      WorkerPool pool(Opts(64));
      std::vector<std::thread> submitters;
      for (int i = 0; i < 2; ++i) {
        submitters.emplace_back([&] {
          auto count = [&] { done.fetch_add(1); };
          while (Submit(pool, count, count).ok()) accepted.fetch_add(1);
        });
      }
      // Stop at a different point of the pool's growth each round.
      ASSERT_TRUE(WaitFor([&] { return accepted.load() > round % 64; }));
      pool.Stop();
      for (std::thread& t : submitters) t.join();
      pool.Shutdown();
      ASSERT_EQ(pool.workers(), 0) << "round " << round;
    }
    ASSERT_EQ(done.load(), accepted.load()) << "round " << round;
  }
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || \
    defined(TETHER_TSAN)
#define TETHER_SANITIZED 1
#endif

TEST(WorkerPoolTest, WorkerStackHasTheRequestedSize) {
#ifdef TETHER_SANITIZED
  GTEST_SKIP() << "sanitizers grow thread stacks by their own TLS";
#endif
  for (size_t kib : {64, 256, 320}) {
    WorkerPool pool(Opts(1, kib * 1024));
    std::atomic<size_t> size{0};
    std::atomic<bool> done{false};
    ASSERT_TRUE(Submit(pool, [&] {
                  pthread_attr_t attr;
                  size_t s = 0;
                  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
                    pthread_attr_getstacksize(&attr, &s);
                    pthread_attr_destroy(&attr);
                  }
                  size = s;
                  done = true;
                }).ok());
    ASSERT_TRUE(WaitFor([&] { return done.load(); }));
    EXPECT_EQ(size.load(), kib * 1024);
  }
}

// Touches every page below the frame, one page per call, far past any
// worker stack's end (1 GiB).
[[gnu::noinline]] int Recurse(volatile char* prev, int depth) {
  volatile char page[4096];
  page[0] = 1;
  page[sizeof(page) - 1] = prev != nullptr ? prev[0] : 0;
  if (depth > (1 << 18)) return page[0];
  return Recurse(page, depth + 1) + page[100];
}

TEST(WorkerPoolDeathTest, StackOverflowHitsTheGuardPage) {
#ifdef TETHER_SANITIZED
  GTEST_SKIP() << "sanitizers report a stack overflow their own way";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        WorkerPool pool(Opts(4));
        std::atomic<bool> done{false};
        (void)Submit(pool, [&] { done = Recurse(nullptr, 0) != 0; });
        // Another worker, so the overflowing stack has neighbours.
        (void)Submit(pool, [] { absl::SleepFor(absl::Seconds(30)); });
        absl::SleepFor(absl::Seconds(30));
        _exit(done ? 0 : 1);
      },
      ::testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace
}  // namespace internal
}  // namespace tether
