// Issue 16: what a completion costs its producer, and what WaitAny() costs
// its caller as the set of sockets grows.
//
//   bazel run -c opt //benchmarks:completion_queue_bench
//
// BM_CompletionQueuePush: one push onto a non-empty CompletionQueue (the
// common case while the consumer is awake: no eventfd write), lock-free
// (a CAS on the head). Target: under 100 ns. Sockets are drained in blocks
// of kBlock with the timer paused; each block's first push meets an empty
// queue and writes the eventfd (1 in kBlock pushes).
// BM_MutexVectorPush: the alternative the queue was measured against, a
// std::mutex around a std::vector, with the same eventfd-on-edge rule.
//
// BM_WaitAnyNoneComplete/<n>: one WaitAny(n connecting sockets, 0): the
// caller's full sleep path (register one Waiter on every socket, then
// unregister it) without sleeping. BM_WaitAnyOneComplete/<n>: WaitAny()
// over n sockets of which one (at a varying index) is complete.
// BM_CompletionQueueOneOfMany/<n>: the same completion harvested through a
// CompletionQueue that n connecting sockets share: independent of n.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "lib/completion_queue_access.h"
#include "tests/testing/held_sockets.h"
#include "tether/completion_queue.h"
#include "tether/connector.h"
#include "tether/socket.h"

namespace tether {
namespace bench {
namespace {

constexpr int kBlock = 4096;

std::shared_ptr<CompletionQueue> NewQueue() {
  absl::StatusOr<std::shared_ptr<CompletionQueue>> q =
      CompletionQueue::Create();
  if (!q.ok()) std::abort();
  return *q;
}

// Sockets that are never connected: Drain() only moves their pointers.
std::vector<std::shared_ptr<Socket>> BareSockets(int n) {
  std::vector<std::shared_ptr<Socket>> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(std::make_shared<Socket>(internal::SocketKey{}));
  }
  return v;
}

void BM_CompletionQueuePush(benchmark::State& state) {
  static std::shared_ptr<CompletionQueue> queue;
  if (state.thread_index() == 0) queue = NewQueue();
  std::vector<std::shared_ptr<Socket>> sockets = BareSockets(kBlock);
  std::vector<internal::CompletionNode> nodes(kBlock);
  int i = kBlock;
  for (auto _ : state) {
    if (i == kBlock) {
      state.PauseTiming();
      // Every node of ours is out of the queue once a Drain() returns
      // (Drain() is serialised and empties what it took).
      (void)queue->Drain();
      for (int k = 0; k < kBlock; ++k) nodes[k].socket = sockets[k];
      i = 0;
      state.ResumeTiming();
    }
    internal::CompletionQueueAccess::Push(*queue, &nodes[i++]);
  }
  (void)queue->Drain();  // after the loop: not timed
}
BENCHMARK(BM_CompletionQueuePush)->Threads(1)->Threads(2)->UseRealTime();

// The mutex + vector alternative, with the same signalling rule.
class MutexVectorQueue {
 public:
  MutexVectorQueue() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~MutexVectorQueue() { close(fd_); }
  void Push(std::shared_ptr<Socket>* socket) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_empty = items_.empty();
      items_.push_back(std::move(*socket));
    }
    if (was_empty) {
      const uint64_t one = 1;
      (void)!write(fd_, &one, sizeof(one));
    }
  }
  std::vector<std::shared_ptr<Socket>> Drain() {
    std::vector<std::shared_ptr<Socket>> out;
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(items_);
    uint64_t count;
    (void)!read(fd_, &count, sizeof(count));
    return out;
  }

 private:
  const int fd_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Socket>> items_;
};

void BM_MutexVectorPush(benchmark::State& state) {
  static MutexVectorQueue* queue;
  if (state.thread_index() == 0) queue = new MutexVectorQueue;
  std::vector<std::shared_ptr<Socket>> sockets = BareSockets(kBlock);
  std::vector<std::shared_ptr<Socket>> slots(kBlock);
  int i = kBlock;
  for (auto _ : state) {
    if (i == kBlock) {
      state.PauseTiming();
      (void)queue->Drain();
      slots = sockets;
      i = 0;
      state.ResumeTiming();
    }
    queue->Push(&slots[i++]);
  }
  (void)queue->Drain();  // after the loop: not timed
}
BENCHMARK(BM_MutexVectorPush)->Threads(1)->Threads(2)->UseRealTime();

using Connecting = testing::HeldSockets;

void BM_WaitAnyNoneComplete(benchmark::State& state) {
  Connecting c(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(WaitAny(c.sockets, absl::ZeroDuration()));
  }
  state.counters["per_socket_ns"] =
      benchmark::Counter(static_cast<double>(state.range(0)),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}
BENCHMARK(BM_WaitAnyNoneComplete)->Arg(16)->Arg(1000)->Arg(10000);

void BM_WaitAnyOneComplete(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Connecting c(n);
  uint64_t k = 0;
  for (auto _ : state) {
    const size_t i = (k++ * 7919) % n;  // spread over the set
    (void)c.sockets[i]->Close();        // completes it (kCancelled)
    if (WaitAny(c.sockets, absl::Seconds(5)) != i) std::abort();
    state.PauseTiming();
    c.sockets[i] = c.Make();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_WaitAnyOneComplete)->Arg(16)->Arg(1000)->Arg(10000);

void BM_CompletionQueueOneOfMany(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<CompletionQueue> queue = NewQueue();
  Connecting c(n, queue);
  uint64_t k = 0;
  for (auto _ : state) {
    const size_t i = (k++ * 7919) % n;
    (void)c.sockets[i]->Close();
    std::vector<std::shared_ptr<Socket>> got = queue->Drain();
    if (got.size() != 1 || got[0] != c.sockets[i]) std::abort();
    state.PauseTiming();
    c.sockets[i] = c.Make();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_CompletionQueueOneOfMany)->Arg(16)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace bench
}  // namespace tether
