// connect_bench: what a connect costs the caller, how fast connects complete,
// how cheaply thousands wait, and how fast Happy Eyeballs falls back.
//
// Every benchmark builds its own loopback servers (benchmarks/bench_util.h):
// a Sink (own accept thread, 4096 backlog, closes with a plain FIN) for
// connects that succeed, and a HangingListener (full accept queue, SYNs
// dropped) for connects that stay in progress. Clients close connected
// sockets with SO_LINGER {1, 0}, so no TIME_WAIT piles up.
//
// The numbers to read are the counters; each benchmark's comment says what
// its Time column is. Targets are issue 6's.

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "tether/address.h"
#include "tether/completion_queue.h"
#include "tether/connector.h"
#include "tether/resolver.h"
#include "tether/socket.h"

namespace tether {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using benchmark::Counter;

double Us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// ---------------------------------------------------------------------------
// BM_ConnectSubmit/batch:16: the caller's cost of one Connect() call, from
// the call to its return (manual time: the Time column is per Connect()),
// for a burst of 16 connects arriving at an idle pool. The connects go to a
// hanging listener, so the workers block in connect() and take no CPU from
// the caller. After each batch (untimed) the sockets are closed, which
// cancels them, and the caller sleeps 1 ms, so every worker has finished and
// parked on its condition variable: each Connect() of the next burst finds
// a parked worker to wake (the first may find the one polling worker). A
// warm-up batch starts the workers first and worker_idle_timeout is long.
// Counters: median, p90 and p99 in µs; threads_started (workers started
// inside timed calls: a Connect() that finds no idle worker starts one);
// lost_cancels (sockets closed while connecting whose attempt was still in
// progress 200 ms later: a worker stuck in connect() although its socket
// was cancelled, see docs/performance.md). The cost of Connect() in steady
// state, with workers busy, is BM_ConnectThroughput's submit_* counters.
// Target: under 2 µs.
void BM_ConnectSubmit(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  ConnectorOptions options;
  options.worker_idle_timeout = absl::Seconds(600);
  auto connector = std::make_unique<Connector>(options);
  // Destroyed before the connector: a connect stuck after a lost cancel
  // then fails at its next SYN retransmit instead of holding ~Connector.
  auto hanging = std::make_unique<HangingListener>();
  std::vector<std::shared_ptr<Socket>> sockets;
  std::vector<double> samples;
  int64_t lost_cancels = 0;
  auto in_progress = [](const Socket& s) {
    for (const Attempt& a : s.attempts()) {
      if (a.outcome == Attempt::Outcome::kInProgress) return true;
    }
    return false;
  };
  auto close_all = [&] {
    for (auto& s : sockets) s->Close().IgnoreError();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::vector<std::shared_ptr<Socket>> suspects;
    for (auto& s : sockets) {
      if (in_progress(*s)) suspects.push_back(s);
    }
    if (!suspects.empty()) {  // A busy machine may just be slow: look again.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (auto& s : suspects) lost_cancels += in_progress(*s) ? 1 : 0;
    }
    sockets.clear();
  };
  for (int i = 0; i < batch; ++i) {
    sockets.push_back(connector->Connect("127.0.0.1", hanging->port()));
  }
  close_all();
  const uint64_t workers_before = connector->stats().workers;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    std::shared_ptr<Socket> s =
        connector->Connect("127.0.0.1", hanging->port());
    const Clock::duration d = Clock::now() - t0;
    state.SetIterationTime(std::chrono::duration<double>(d).count());
    samples.push_back(Us(d));
    sockets.push_back(std::move(s));
    if (static_cast<int>(sockets.size()) == batch) close_all();
  }
  const uint64_t workers_after = connector->stats().workers;
  close_all();
  hanging.reset();
  connector.reset();
  state.counters["median_us"] = Percentile(samples, 50);
  state.counters["p90_us"] = Percentile(samples, 90);
  state.counters["p99_us"] = Percentile(samples, 99);
  state.counters["threads_started"] =
      static_cast<double>(workers_after - workers_before);
  state.counters["lost_cancels"] = static_cast<double>(lost_cancels);
}
BENCHMARK(BM_ConnectSubmit)->ArgName("batch")->Arg(16)->UseManualTime();

// ---------------------------------------------------------------------------
// BM_ConnectAndWait: ConnectAndWait() to the sink in a loop (K = 1). A
// numeric host runs on the caller's thread: no hand-off. Time column: per
// connect, close included. Counter connects_per_sec is the throughput.
void BM_ConnectAndWait(benchmark::State& state) {
  Sink sink;
  Connector connector;
  int64_t errors = 0;
  for (auto _ : state) {
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("127.0.0.1", sink.port());
    if (s.ok()) {
      CloseRst(**s);
    } else {
      ++errors;
    }
  }
  state.counters["connects_per_sec"] = Counter(
      static_cast<double>(state.iterations() - errors), Counter::kIsRate);
  state.counters["errors"] = static_cast<double>(errors);
}
BENCHMARK(BM_ConnectAndWait)->UseRealTime();

// ---------------------------------------------------------------------------
// BM_ConnectThroughput/<K>: K Connect()s kept in flight against the sink, as
// benchmarks/peers/tether_peer does: the caller sweeps connecting() over the
// K sockets, closes each finished one and starts a new one in its slot, and
// blocks in WaitAny() only when none is finished. One iteration = one
// completed connect; Time column: per connect. Counters: connects_per_sec;
// submit_median_us and submit_p90_us, the caller's cost of each Connect()
// call in this steady state (workers busy or polling); workers, the pool's
// size at the end.
void BM_ConnectThroughput(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  Sink sink;
  Connector connector;
  std::vector<std::shared_ptr<Socket>> slots(k);
  for (auto& s : slots) s = connector.Connect("127.0.0.1", sink.port());
  int64_t errors = 0;
  std::vector<double> submit;  // µs per Connect() call
  submit.reserve(1 << 20);
  size_t next = 0;  // where the sweep resumes
  for (auto _ : state) {
    for (;;) {
      size_t i = 0;
      for (; i < slots.size(); ++i) {
        if (!slots[(next + i) % slots.size()]->connecting()) break;
      }
      if (i < slots.size()) {
        next = (next + i) % slots.size();
        break;
      }
      (void)WaitAny(slots, absl::Milliseconds(100));
    }
    std::shared_ptr<Socket>& s = slots[next];
    if (s->error().ok()) {
      CloseRst(*s);
    } else {
      ++errors;
    }
    const Clock::time_point t0 = Clock::now();
    s = connector.Connect("127.0.0.1", sink.port());
    submit.push_back(Us(Clock::now() - t0));
    next = (next + 1) % slots.size();
  }
  state.counters["connects_per_sec"] = Counter(
      static_cast<double>(state.iterations() - errors), Counter::kIsRate);
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["submit_median_us"] = Percentile(submit, 50);
  state.counters["submit_p90_us"] = Percentile(submit, 90);
  state.counters["workers"] = static_cast<double>(connector.stats().workers);
  for (auto& s : slots) {
    (void)s->Wait(absl::Seconds(5));
    CloseRst(*s);
  }
}
BENCHMARK(BM_ConnectThroughput)->Arg(1)->Arg(16)->Arg(64)->UseRealTime();

// BM_CompletionQueueThroughput/<K>: BM_ConnectThroughput's loop as an event
// loop runs it (issue 16): K connects in flight, each with the same
// CompletionQueue; the caller sleeps in epoll_wait() on the queue's fd,
// Drain()s every completed socket, closes it and starts a new connect in
// its place. One iteration = one completed connect. Counters as
// BM_ConnectThroughput's, plus wakeups_per_connect: epoll_wait() returns
// per completed connect (below 1 when one wake-up harvests several).
void BM_CompletionQueueThroughput(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  Sink sink;
  Connector connector;
  absl::StatusOr<std::shared_ptr<CompletionQueue>> queue =
      CompletionQueue::Create();
  if (!queue.ok()) {
    state.SkipWithError("CompletionQueue::Create failed");
    return;
  }
  auto connect = [&] {
    ConnectOptions options;
    options.completion_queue = *queue;
    return connector.Connect("127.0.0.1", sink.port(), std::move(options));
  };
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev = {};
  ev.events = EPOLLIN;
  epoll_ctl(epfd, EPOLL_CTL_ADD, (*queue)->fd(), &ev);
  for (int i = 0; i < k; ++i) (void)connect();
  int64_t errors = 0;
  int64_t wakeups = 0;
  std::vector<double> submit;  // µs per Connect() call
  submit.reserve(1 << 20);
  std::vector<std::shared_ptr<Socket>> ready;
  size_t next = 0;
  for (auto _ : state) {
    while (next == ready.size()) {
      epoll_event out;
      if (epoll_wait(epfd, &out, 1, 100) > 0) ++wakeups;
      ready = (*queue)->Drain();
      next = 0;
    }
    std::shared_ptr<Socket> s = std::move(ready[next++]);
    if (s->error().ok()) {
      CloseRst(*s);
    } else {
      ++errors;
    }
    const Clock::time_point t0 = Clock::now();
    (void)connect();
    submit.push_back(Us(Clock::now() - t0));
  }
  state.counters["connects_per_sec"] = Counter(
      static_cast<double>(state.iterations() - errors), Counter::kIsRate);
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["wakeups_per_connect"] =
      static_cast<double>(wakeups) / static_cast<double>(state.iterations());
  state.counters["submit_median_us"] = Percentile(submit, 50);
  state.counters["submit_p90_us"] = Percentile(submit, 90);
  state.counters["workers"] = static_cast<double>(connector.stats().workers);
  // Those drained but not used (ready[next..]), then those still in
  // flight: wait for them through the queue, then close.
  int left = k - static_cast<int>(ready.size() - next);
  for (; next < ready.size(); ++next) CloseRst(*ready[next]);
  while (left > 0 && (*queue)->Wait(absl::Seconds(5))) {
    for (auto& s : (*queue)->Drain()) {
      CloseRst(*s);
      --left;
    }
  }
  close(epfd);
}
BENCHMARK(BM_CompletionQueueThroughput)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->UseRealTime();

// ---------------------------------------------------------------------------
// BM_HandOffLatency/gap_us:<g>: how much later a spinning caller sees a
// connect complete with Connect() than with a raw blocking connect() on its
// own thread. Each iteration takes 16 samples of each, in blocks:
//   raw:    socket() + connect() on the caller's thread;
//   tether: Connect(), then spin on connecting() until false;
//   inline: ConnectAndWait() (the numeric-host path: no hand-off).
// Each sample is preceded by <g> µs of idleness: gap 0 measures a pool whose
// worker just finished (it is still polling the queue), gap 1000 one whose
// worker has parked on its condition variable. Counters (µs): the medians of
// each kind, p90 of tether, and handoff_median_us = tether median - raw
// median; inline_extra_us = inline median - raw median. The Time column is
// per iteration (48 samples, closes and gaps included): ignore it. Target:
// handoff_median_us under 5 µs.
void BM_HandOffLatency(benchmark::State& state) {
  constexpr int kBlock = 16;
  const auto gap = std::chrono::microseconds(state.range(0));
  Sink sink;
  Connector connector;
  std::vector<double> raw, tether, inline_path;
  auto pause = [&] {
    if (gap.count() > 0) std::this_thread::sleep_for(gap);
  };
  // Warm up: start the worker.
  std::shared_ptr<Socket> warm = connector.Connect("127.0.0.1", sink.port());
  (void)warm->Wait(absl::InfiniteDuration());
  CloseRst(*warm);
  int64_t errors = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBlock; ++i) {
      pause();
      const Clock::time_point t0 = Clock::now();
      int fd = RawConnect(sink.port());
      raw.push_back(Us(Clock::now() - t0));
      CloseRst(fd);
    }
    for (int i = 0; i < kBlock; ++i) {
      pause();
      const Clock::time_point t0 = Clock::now();
      std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", sink.port());
      while (s->connecting()) CpuRelax();
      tether.push_back(Us(Clock::now() - t0));
      if (!s->error().ok()) ++errors;
      CloseRst(*s);
    }
    for (int i = 0; i < kBlock; ++i) {
      pause();
      const Clock::time_point t0 = Clock::now();
      absl::StatusOr<std::shared_ptr<Socket>> s =
          connector.ConnectAndWait("127.0.0.1", sink.port());
      inline_path.push_back(Us(Clock::now() - t0));
      if (s.ok()) {
        CloseRst(**s);
      } else {
        ++errors;
      }
    }
  }
  const double raw_median = Percentile(raw, 50);
  const double tether_median = Percentile(tether, 50);
  const double inline_median = Percentile(inline_path, 50);
  state.counters["raw_median_us"] = raw_median;
  state.counters["tether_median_us"] = tether_median;
  state.counters["tether_p90_us"] = Percentile(tether, 90);
  state.counters["inline_median_us"] = inline_median;
  state.counters["handoff_median_us"] = tether_median - raw_median;
  state.counters["inline_extra_us"] = inline_median - raw_median;
  state.counters["errors"] = static_cast<double>(errors);
}
BENCHMARK(BM_HandOffLatency)->ArgName("gap_us")->Arg(0)->Arg(1000);

// ---------------------------------------------------------------------------
// BM_PendingConnects/<n>/stack_kib:<s>: n connects held pending at once
// against a hanging listener (max_pending_per_destination = n, so each
// blocks in connect() on its own worker thread with an s KiB stack; the
// pool may hold 4n/3, as one destination gets 3/4), then ~Connector cancels
// them all. One iteration = one full cycle; the Time column (manual) is the
// time to start them all. Counters:
//   submit_ms:    the n Connect() calls alone (the pool grows meanwhile);
//   connect_mean_us, connect_p99_us, connect_max_us: the caller's cost of
//                 one Connect() while the pool grows (issue 17: under 2 µs,
//                 10 µs, 1 ms);
//   start_ms:     from the first Connect() until every socket has an attempt
//                 in progress (stats().attempts == n; the worker is then
//                 at socket()+connect());
//   syn_sent_ms:  until the kernel shows n sockets in SYN_SENT to the
//                 listener (/proc/net/tcp polled; resolution ~10 ms);
//   cancel_ms:    ~Connector, after which every socket reports kCancelled
//                 (issue 17: under 100 ms); the workers may still exit;
//   threads_back_ms: from ~Connector's start until the process has as many
//                 threads as before the first Connect() (polled every
//                 0.5 ms; issue 17: under 1 s);
//   rss_kib_per_connect:    VmRSS growth / n, while all are pending (the
//                 process: sockets, tasks, thread stacks touched);
//   kernel_kib_per_connect: growth of KernelStack + PageTables + Slab in
//                 /proc/meminfo / n (system-wide, so noisy; socket and
//                 thread structures);
//   workers, cancelled:     live workers while pending; sockets that
//                 reported kCancelled when ~Connector returned (must be n).
// Targets: rss under 32 KiB per connect, start under 1 s.
int ThreadsNow() { return static_cast<int>(StatusKib("Threads")); }

void BM_PendingConnects(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const size_t stack = static_cast<size_t>(state.range(1)) * 1024;
  const uint64_t limit = RaiseFdLimit(static_cast<uint64_t>(n) * 3);
  if (limit < static_cast<uint64_t>(n) + 100) {
    state.SkipWithError("cannot raise RLIMIT_NOFILE");
    return;
  }
  HangingListener hanging;
  std::vector<std::shared_ptr<Socket>> sockets;
  sockets.reserve(n);
  std::vector<double> connect_us;
  connect_us.reserve(n);
  for (auto _ : state) {
    ConnectorOptions options;
    // One destination may hold at most 3/4 of the pool (issue 14): room
    // for all n in one line.
    options.max_workers = n + n / 3 + 1;
    options.max_pending_per_destination = n;
    options.worker_stack_size = stack;
    options.max_queued = static_cast<size_t>(n);
    const int threads0 = ThreadsNow();
    auto connector = std::make_unique<Connector>(options);
    const int64_t rss0 = StatusKib("VmRSS");
    const int64_t kernel0 = MeminfoKib("KernelStack") +
                            MeminfoKib("PageTables") + MeminfoKib("Slab");
    connect_us.clear();
    const Clock::time_point t0 = Clock::now();
    Clock::time_point before = t0;
    for (int i = 0; i < n; ++i) {
      sockets.push_back(connector->Connect("127.0.0.1", hanging.port()));
      const Clock::time_point after = Clock::now();
      connect_us.push_back(Us(after - before));
      before = after;
    }
    const Clock::time_point submitted = before;
    while (connector->stats().attempts < static_cast<uint64_t>(n) &&
           Clock::now() - t0 < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const Clock::time_point started = Clock::now();
    int syn_sent = 0;
    while ((syn_sent = CountSynSent(hanging.port())) < n &&
           Clock::now() - t0 < std::chrono::seconds(60)) {
    }
    const Clock::time_point in_kernel = Clock::now();
    const int64_t rss1 = StatusKib("VmRSS");
    const int64_t kernel1 = MeminfoKib("KernelStack") +
                            MeminfoKib("PageTables") + MeminfoKib("Slab");
    const ConnectorStats stats = connector->stats();
    const Clock::time_point c0 = Clock::now();
    connector.reset();
    const Clock::time_point c1 = Clock::now();
    int cancelled = 0;
    for (const auto& s : sockets) {
      if (!s->connecting() && s->error_code() == ECANCELED) ++cancelled;
    }
    while (ThreadsNow() > threads0 &&
           Clock::now() - c0 < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    const Clock::time_point c2 = Clock::now();
    sockets.clear();
    double sum = 0;
    for (double us : connect_us) sum += us;
    state.SetIterationTime(std::chrono::duration<double>(started - t0).count());
    state.counters["submit_ms"] = Ms(submitted - t0);
    state.counters["connect_mean_us"] = sum / n;
    state.counters["connect_p50_us"] = Percentile(connect_us, 50);
    state.counters["connect_p99_us"] = Percentile(connect_us, 99);
    state.counters["connect_max_us"] = connect_us.back();  // sorted
    state.counters["start_ms"] = Ms(started - t0);
    state.counters["syn_sent_ms"] = Ms(in_kernel - t0);
    state.counters["cancel_ms"] = Ms(c1 - c0);
    state.counters["threads_back_ms"] = Ms(c2 - c0);
    state.counters["rss_kib_per_connect"] =
        static_cast<double>(rss1 - rss0) / n;
    state.counters["kernel_kib_per_connect"] =
        static_cast<double>(kernel1 - kernel0) / n;
    state.counters["workers"] = static_cast<double>(stats.workers);
    state.counters["attempts"] = static_cast<double>(stats.attempts);
    state.counters["syn_sent"] = syn_sent;
    state.counters["cancelled"] = cancelled;
  }
}
BENCHMARK(BM_PendingConnects)
    ->ArgNames({"", "stack_kib"})
    ->Args({1000, 64})
    ->Args({10000, 256})
    ->Args({10000, 64})
    ->Args({19000,
            64})  // 20,000 needs RLIMIT_NOFILE > 20,000 (the hard limit here)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// BM_HappyEyeballs/<mode>/delay_ms:<d>: time for ConnectAndWait() to a host
// whose first address hangs. A fake resolver answers "dual.test" with
// [::1]:<hanging listener> (IPv6, first) and 127.0.0.1:<sink>. Modes:
//   race:       happy_eyeballs_delay = d: the IPv4 attempt starts d after
//               the IPv6 one and wins;
//   sequential: happy_eyeballs_delay = 0, attempt_timeout = d: the IPv6
//               attempt times out after d, then IPv4 connects.
// Manual time: the Time column is per connect. Counters: median_ms and
// max_ms of the connect time, and overshoot_ms = median - d. Target:
// overshoot under 5 ms.
class DualStackResolver : public Resolver {
 public:
  DualStackResolver(uint16_t v6_port, uint16_t v4_port)
      : v6_(*SocketAddress::Parse("::1", v6_port)),
        v4_(*SocketAddress::Parse("127.0.0.1", v4_port)) {}
  absl::StatusOr<std::vector<SocketAddress>> Resolve(absl::string_view host,
                                                     uint16_t port,
                                                     Family family) override {
    switch (family) {
      case Family::kIPv6:
        return std::vector<SocketAddress>{v6_};
      case Family::kIPv4:
        return std::vector<SocketAddress>{v4_};
      case Family::kAny:
        break;
    }
    return std::vector<SocketAddress>{v6_, v4_};
  }

 private:
  const SocketAddress v6_, v4_;
};

void BM_HappyEyeballs(benchmark::State& state, bool race) {
  const absl::Duration delay = absl::Milliseconds(state.range(0));
  HangingListener hanging(AF_INET6);
  Sink sink(AF_INET);
  ConnectorOptions options;
  options.resolver =
      std::make_shared<DualStackResolver>(hanging.port(), sink.port());
  Connector connector(options);
  std::vector<double> ms;
  int64_t errors = 0;
  for (auto _ : state) {
    ConnectOptions o;
    if (race) {
      o.happy_eyeballs_delay = delay;
    } else {
      o.happy_eyeballs_delay = absl::ZeroDuration();
      o.attempt_timeout = delay;
    }
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<std::shared_ptr<Socket>> s =
        connector.ConnectAndWait("dual.test", 1, std::move(o));
    const Clock::duration d = Clock::now() - t0;
    state.SetIterationTime(std::chrono::duration<double>(d).count());
    ms.push_back(Ms(d));
    if (s.ok()) {
      CloseRst(**s);
    } else {
      ++errors;
    }
  }
  const double median = Percentile(ms, 50);
  state.counters["median_ms"] = median;
  state.counters["max_ms"] = ms.empty() ? 0 : ms.back();  // sorted
  state.counters["overshoot_ms"] = median - absl::ToDoubleMilliseconds(delay);
  state.counters["errors"] = static_cast<double>(errors);
}
BENCHMARK_CAPTURE(BM_HappyEyeballs, race, true)
    ->ArgName("delay_ms")
    ->Arg(250)
    ->Arg(50)
    ->Iterations(8)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_HappyEyeballs, sequential, false)
    ->ArgName("delay_ms")
    ->Arg(250)
    ->Arg(50)
    ->Iterations(8)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace tether
