// benchmarks/mixed_health_bench.cc: issue 14, "nothing held hostage".
//
// BM_MixedHealth/<hanging>: 1,000 connects/s (paced, one every 1 ms, for
// 1 s) to live loopback listeners, while <hanging> connects hang on a
// black-holed loopback listener (full accept queue: SYNs dropped). Reports
// the live connects' latency (Connect() to completion) as p50_us / p99_us.
// /0 is the same run without the hanging load; the target is p99 at most
// 2x that. With the default options, the hanging destination takes at most
// max_pending_per_destination (256) workers; the rest wait in its line.
//
//   bazel run -c opt //benchmarks:mixed_health_bench
//
// Measured (2 cores shared with three other builds, load ~10; -O2):
//   /0     p50 123 us, p99 10.8 ms
//   /2000  p50 124 us, p99  5.4 ms
// p50 is unchanged by the hanging load; the p99s are machine noise here
// (the run without the load had the worse one), within the 2x target.

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "tether/connector.h"

namespace tether {
namespace {

constexpr int kLive = 1000;  // one per ms
constexpr int kListeners = 4;

void BM_MixedHealth(benchmark::State& state) {
  const int hanging = static_cast<int>(state.range(0));
  bench::RaiseFdLimit(16384);
  std::vector<std::unique_ptr<bench::Sink>> sinks;
  for (int i = 0; i < kListeners; ++i) {
    sinks.push_back(std::make_unique<bench::Sink>());
  }
  bench::HangingListener black_hole;
  std::vector<double> micros;
  for (auto _ : state) {
    Connector connector;
    std::vector<std::shared_ptr<Socket>> hung;
    for (int i = 0; i < hanging; ++i) {
      hung.push_back(connector.Connect(
          *SocketAddress::Parse("127.0.0.1", black_hole.port())));
    }
    std::mutex mu;
    micros.clear();
    micros.reserve(kLive);
    std::vector<std::shared_ptr<Socket>> live;
    const absl::Time begin = absl::Now();
    for (int i = 0; i < kLive; ++i) {
      absl::Time next = begin + absl::Milliseconds(i);
      absl::Duration wait = next - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      ConnectOptions o;
      const absl::Time start = absl::Now();
      o.on_complete = [&mu, &micros, start](Socket&) {
        double us = absl::ToDoubleMicroseconds(absl::Now() - start);
        std::lock_guard<std::mutex> lock(mu);
        micros.push_back(us);
      };
      live.push_back(connector.Connect(
          *SocketAddress::Parse("127.0.0.1", sinks[i % kListeners]->port()),
          std::move(o)));
    }
    for (auto& s : live) {
      if (!s->Wait(absl::Seconds(30)) || !s->error().ok()) {
        state.SkipWithError("a live connect failed");
        break;
      }
    }
    // on_complete runs just after publication (which Wait() sees): let
    // the last ones finish recording.
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (micros.size() >= live.size()) break;
      }
      std::this_thread::yield();
    }
    for (auto& s : live) bench::CloseRst(*s);
  }  // ~Connector cancels the hanging connects
  state.counters["p50_us"] = bench::Percentile(micros, 50);
  state.counters["p99_us"] = bench::Percentile(micros, 99);
  state.counters["hanging"] = hanging;
}
BENCHMARK(BM_MixedHealth)
    ->Arg(0)
    ->Arg(2000)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tether
