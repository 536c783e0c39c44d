// benchmarks/pool_bench.cc: the worker pool alone (lib/worker_pool.h), no
// sockets, so the pool's own costs can be compared between variants without
// the network's noise. See docs/performance.md section 5.
//
// BM_PoolShutdown/<n>/stack_kib:<s>: n tasks, each blocked on one shared
// gate on its own worker (s KiB stacks); the gate opens, every task
// returns, the workers go idle (1 ms pause: they have parked), then
// Shutdown() wakes, stops and reaps them all. Counters:
//   shutdown_ms: Shutdown() alone (the pool's part of ~Connector);
//   release_ms:  from opening the gate until every task has returned;
//   start_ms:    the n Submit() calls plus every task running.
// BM_PoolHandOff/gap_us:<g>: one Submit() of a task that records when it
// starts, g µs after the previous task ended (0: a worker is still polling;
// 1000: it has parked). Counters: median/p90 of submit-to-run, and the
// median of the Submit() call itself.
// BM_PoolBurst/<b>: b Submit()s in a row into a pool whose workers have all
// parked (tasks block on a gate so each needs its own worker; all workers
// exist beforehand, except in the first round). Counters: median and p90
// of one Submit(), and of the time from the first Submit() until all b
// tasks run (how fast parked workers are woken for a burst; rounds that
// had to start workers are left out).

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "lib/socket_ops.h"
#include "lib/worker_pool.h"

namespace tether {
namespace {

using Clock = std::chrono::steady_clock;
using internal::Task;
using internal::WorkerPool;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
double Us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

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

class GateTask : public Task {
 public:
  // With `all_running`: the task that brings `running` to `of` stores the
  // time (steady_clock ticks) there.
  GateTask(Gate* gate, std::atomic<int>* running, std::atomic<int>* done,
           std::atomic<int64_t>* all_running = nullptr, int of = 0)
      : gate_(gate),
        running_(running),
        done_(done),
        all_running_(all_running),
        of_(of) {}
  void Run() override {
    if (running_->fetch_add(1) + 1 == of_ && all_running_ != nullptr) {
      all_running_->store(Clock::now().time_since_epoch().count());
    }
    gate_->Wait();
    done_->fetch_add(1);
  }

 private:
  Gate* gate_;
  std::atomic<int>* running_;
  std::atomic<int>* done_;
  std::atomic<int64_t>* all_running_;
  int of_;
};

template <typename Pred>
void SpinUntil(Pred pred) {
  const Clock::time_point end = Clock::now() + std::chrono::seconds(60);
  while (!pred() && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void BM_PoolShutdown(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const size_t stack = static_cast<size_t>(state.range(1)) * 1024;
  for (auto _ : state) {
    WorkerPool::Options o;
    o.max_workers = n;
    o.stack_size = stack;
    o.max_queued = n;
    o.ops = internal::SocketOps::Default();
    auto pool = std::make_unique<WorkerPool>(o);
    Gate gate;
    std::atomic<int> running{0}, done{0};
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      std::unique_ptr<Task> t(new GateTask(&gate, &running, &done));
      if (!pool->Submit(&t).ok()) {
        state.SkipWithError("Submit failed");
        return;
      }
    }
    SpinUntil([&] { return running.load() == n; });
    const Clock::time_point t1 = Clock::now();
    gate.Open();
    SpinUntil([&] { return done.load() == n; });
    const Clock::time_point t2 = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int workers = pool->workers();
    // PERF_CTL=<fifo>: profile Shutdown() alone, with
    // `perf record -D -1 --control fifo:<fifo> ...`.
    FILE* ctl = getenv("PERF_CTL") ? fopen(getenv("PERF_CTL"), "w") : nullptr;
    if (ctl != nullptr) fputs("enable\n", ctl), fflush(ctl);
    const Clock::time_point s0 = Clock::now();
    pool->Shutdown();
    const Clock::time_point s1 = Clock::now();
    if (ctl != nullptr) fputs("disable\n", ctl), fclose(ctl);
    pool.reset();
    state.SetIterationTime(std::chrono::duration<double>(s1 - s0).count());
    state.counters["start_ms"] = Ms(t1 - t0);
    state.counters["release_ms"] = Ms(t2 - t1);
    state.counters["shutdown_ms"] = Ms(s1 - s0);
    state.counters["workers"] = workers;
  }
}
BENCHMARK(BM_PoolShutdown)
    ->ArgNames({"", "stack_kib"})
    ->Args({10000, 256})
    ->Args({10000, 64})
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

class StampTask : public Task {
 public:
  explicit StampTask(std::atomic<int64_t>* ran) : ran_(ran) {}
  void Run() override {
    ran_->store(Clock::now().time_since_epoch().count(),
                std::memory_order_release);
  }

 private:
  std::atomic<int64_t>* ran_;
};

void BM_PoolHandOff(benchmark::State& state) {
  const auto gap = std::chrono::microseconds(state.range(0));
  WorkerPool::Options o;
  o.ops = internal::SocketOps::Default();
  WorkerPool pool(o);
  std::vector<double> lat, submit;
  std::atomic<int64_t> ran{0};
  for (auto _ : state) {
    if (gap.count() > 0) {
      std::this_thread::sleep_for(gap);
    }
    ran.store(0, std::memory_order_relaxed);
    std::unique_ptr<Task> t(new StampTask(&ran));
    const Clock::time_point t0 = Clock::now();
    if (!pool.Submit(&t).ok()) {
      state.SkipWithError("Submit failed");
      return;
    }
    const Clock::time_point t1 = Clock::now();
    int64_t r;
    while ((r = ran.load(std::memory_order_acquire)) == 0) {
    }
    lat.push_back(Us(Clock::duration(r) - t0.time_since_epoch()));
    submit.push_back(Us(t1 - t0));
  }
  state.counters["handoff_median_us"] = bench::Percentile(lat, 50);
  state.counters["handoff_p90_us"] = bench::Percentile(lat, 90);
  state.counters["submit_median_us"] = bench::Percentile(submit, 50);
  state.counters["workers"] = pool.workers();
}
BENCHMARK(BM_PoolHandOff)
    ->ArgName("gap_us")
    ->Arg(0)
    ->Arg(1000)
    ->Iterations(2000);

void BM_PoolBurst(benchmark::State& state) {
  const int b = static_cast<int>(state.range(0));
  WorkerPool::Options o;
  o.ops = internal::SocketOps::Default();
  WorkerPool pool(o);
  std::vector<double> submit, all_running;
  int64_t started = 0;
  for (auto _ : state) {
    Gate gate;
    std::atomic<int> running{0}, done{0};
    std::atomic<int64_t> last_start{0};
    const int before = pool.workers();
    std::vector<std::unique_ptr<Task>> tasks;
    for (int i = 0; i < b; ++i) {
      tasks.emplace_back(new GateTask(&gate, &running, &done, &last_start, b));
    }
    const Clock::time_point first = Clock::now();
    for (int i = 0; i < b; ++i) {
      const Clock::time_point t0 = Clock::now();
      if (!pool.Submit(&tasks[i]).ok()) {
        state.SkipWithError("Submit failed");
        return;
      }
      submit.push_back(Us(Clock::now() - t0));
    }
    const int grew = std::max(0, pool.workers() - before);
    started += grew;
    state.PauseTiming();
    SpinUntil([&] { return running.load() == b; });
    if (grew == 0) {  // Not a round that had to start workers.
      all_running.push_back(
          Us(Clock::duration(last_start.load()) - first.time_since_epoch()));
    }
    gate.Open();
    SpinUntil([&] { return done.load() == b; });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    state.ResumeTiming();
  }
  state.counters["submit_median_us"] = bench::Percentile(submit, 50);
  state.counters["submit_p90_us"] = bench::Percentile(submit, 90);
  state.counters["all_running_median_us"] = bench::Percentile(all_running, 50);
  state.counters["all_running_p90_us"] = bench::Percentile(all_running, 90);
  state.counters["threads_started"] = static_cast<double>(started);
}
BENCHMARK(BM_PoolBurst)->Arg(16)->Arg(256)->Iterations(300);

}  // namespace
}  // namespace tether
