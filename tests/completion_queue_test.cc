// Tests for tether/completion_queue.h (lib/completion_queue.cc and the push
// in lib/connect_state.cc): exactly-once delivery on every completion path,
// completion order, many producers with one consumer (run under TSan), the
// readiness of fd() with level- and edge-triggered epoll, Wait(), and no
// descriptor or Socket leaked. Every wait is on a condition with a bounded
// timeout; connects go to loopback only.

#include "tether/completion_queue.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/socket_ops.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::CountOpenFds;
using testing::HangingListener;
using testing::Listener;
using testing::RefusingPort;
using testing::WaitFor;

constexpr absl::Duration kLong = absl::Seconds(20);

std::shared_ptr<CompletionQueue> NewQueue() {
  absl::StatusOr<std::shared_ptr<CompletionQueue>> q =
      CompletionQueue::Create();
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? *q : nullptr;
}

ConnectOptions To(const std::shared_ptr<CompletionQueue>& queue) {
  ConnectOptions options;
  options.completion_queue = queue;
  return options;
}

// Drains `queue` until `want` sockets came out or kLong passes; returns them
// in the order drained.
std::vector<std::shared_ptr<Socket>> DrainN(CompletionQueue& queue,
                                            size_t want) {
  std::vector<std::shared_ptr<Socket>> out;
  const absl::Time deadline = absl::Now() + kLong;
  while (out.size() < want && absl::Now() < deadline) {
    if (!queue.Wait(deadline - absl::Now())) break;
    for (auto& s : queue.Drain()) out.push_back(std::move(s));
  }
  return out;
}

// Whether `fd` is readable now, asked through an epoll set of its own.
int EpollEvents(int epfd) {
  epoll_event events[4];
  int n;
  while ((n = epoll_wait(epfd, events, 4, 0)) < 0 && errno == EINTR) {
  }
  return n;
}

int NewEpoll(int fd, uint32_t flags) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev = {};
  ev.events = EPOLLIN | flags;
  EXPECT_EQ(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev), 0);
  return epfd;
}

TEST(CompletionQueueTest, DeliversEachSocketExactlyOnce) {
  auto queue = NewQueue();
  Listener listener;
  RefusingPort refusing;
  HangingListener hanging;
  Connector connector;
  std::vector<std::shared_ptr<Socket>> made;
  made.push_back(connector.Connect("127.0.0.1", listener.port(), To(queue)));
  made.push_back(connector.Connect("127.0.0.1", refusing.port(), To(queue)));
  std::shared_ptr<Socket> cancelled =
      connector.Connect("127.0.0.1", hanging.port(), To(queue));
  made.push_back(cancelled);
  made.push_back(connector.Connect("", 80, To(queue)));  // bad input
  ConnectOptions timed = To(queue);
  timed.timeout = absl::Milliseconds(50);
  made.push_back(
      connector.Connect("127.0.0.1", hanging.port(), std::move(timed)));
  ASSERT_TRUE(cancelled->Close().ok());

  std::vector<std::shared_ptr<Socket>> got = DrainN(*queue, made.size());
  ASSERT_EQ(got.size(), made.size());
  std::set<Socket*> distinct;
  for (auto& s : got) {
    EXPECT_FALSE(s->connecting());
    distinct.insert(s.get());
  }
  EXPECT_EQ(distinct,
            std::set<Socket*>({made[0].get(), made[1].get(), made[2].get(),
                               made[3].get(), made[4].get()}));
  EXPECT_TRUE(made[0]->error().ok());
  EXPECT_EQ(made[1]->error_code(), ECONNREFUSED);
  EXPECT_EQ(made[2]->error().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(made[3]->error().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(made[4]->error().code(), absl::StatusCode::kDeadlineExceeded);
  // Nothing more, ever: a later Close() does not push again.
  for (auto& s : made) (void)s->Close();
  EXPECT_FALSE(queue->Wait(absl::Milliseconds(20)));
  EXPECT_TRUE(queue->Drain().empty());
}

TEST(CompletionQueueTest, DeliversSocketsCancelledByConnectorDestruction) {
  auto queue = NewQueue();
  HangingListener hanging;
  std::vector<std::shared_ptr<Socket>> made;
  {
    ConnectorOptions options;
    options.max_workers = 2;  // the others wait in the pool's queue
    Connector connector(options);
    for (int i = 0; i < 8; ++i) {
      made.push_back(connector.Connect("127.0.0.1", hanging.port(), To(queue)));
    }
    // Both workers are blocked in connect() before the Connector goes.
    ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts >= 2; }));
  }
  std::vector<std::shared_ptr<Socket>> got = DrainN(*queue, made.size());
  ASSERT_EQ(got.size(), made.size());
  std::set<Socket*> distinct;
  for (auto& s : got) {
    EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
    distinct.insert(s.get());
  }
  EXPECT_EQ(distinct.size(), made.size());
  EXPECT_TRUE(queue->Drain().empty());
}

TEST(CompletionQueueTest, DeliversSocketsOfAShuttingDownConnector) {
  // A Connect() made from on_complete while ~Connector runs completes inline
  // ("connector is shutting down"): it is pushed too.
  auto queue = NewQueue();
  HangingListener hanging;
  std::atomic<Connector*> self{nullptr};
  std::shared_ptr<Socket> late;
  std::atomic<bool> made_late{false};
  {
    Connector connector;
    self = &connector;
    ConnectOptions options = To(queue);
    options.on_complete = [&](Socket&) {
      late = self.load()->Connect("127.0.0.1", hanging.port(), To(queue));
      made_late = true;
    };
    auto first =
        connector.Connect("127.0.0.1", hanging.port(), std::move(options));
    ASSERT_TRUE(WaitFor([&] { return connector.stats().attempts >= 1; }));
  }
  ASSERT_TRUE(made_late.load());
  std::vector<std::shared_ptr<Socket>> got = DrainN(*queue, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], late);
  EXPECT_EQ(late->error().code(), absl::StatusCode::kCancelled);
}

TEST(CompletionQueueTest, PushesBeforeOnComplete) {
  Listener listener;
  RefusingPort refusing;
  Connector connector;
  const uint16_t ports[] = {listener.port(), refusing.port(), 0};
  for (uint16_t port : ports) {
    auto queue = NewQueue();
    std::atomic<int> seen{-1};
    ConnectOptions options = To(queue);
    options.on_complete = [&, queue = queue.get()](Socket& s) {
      std::vector<std::shared_ptr<Socket>> got = queue->Drain();
      seen = got.size() == 1 && got[0].get() == &s ? 1 : 0;
    };
    auto s = connector.Connect("127.0.0.1", port, std::move(options));
    ASSERT_TRUE(WaitFor([&] { return seen.load() >= 0; })) << port;
    EXPECT_EQ(seen.load(), 1) << port;
  }
}

TEST(CompletionQueueTest, ReturnsSocketsInCompletionOrder) {
  auto queue = NewQueue();
  Connector connector;
  std::vector<std::shared_ptr<Socket>> made;
  for (int i = 0; i < 10; ++i) {
    // Bad input completes inside Connect(): the order is the call order.
    made.push_back(connector.Connect("", 80, To(queue)));
  }
  std::vector<std::shared_ptr<Socket>> got = queue->Drain(3);
  ASSERT_EQ(got.size(), 3u);
  for (auto& s : queue->Drain(4)) got.push_back(s);
  made.push_back(connector.Connect("", 80, To(queue)));  // after a drain
  for (auto& s : queue->Drain()) got.push_back(s);
  EXPECT_EQ(got, made);
  EXPECT_TRUE(queue->Drain(0).empty());
}

TEST(CompletionQueueTest, ManyProducersOneConsumer) {
  auto queue = NewQueue();
  Listener listener(Listener::Mode::kClose);
  Connector first;
  Connector second;  // two Connectors, one queue
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::vector<std::shared_ptr<Socket>>> inline_made(kThreads);
  std::vector<std::shared_ptr<Socket>> all_made[kThreads];
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      Connector& c = t % 2 == 0 ? first : second;
      for (int i = 0; i < kPerThread; ++i) {
        std::shared_ptr<Socket> s =
            i % 3 == 0 ? c.Connect("127.0.0.1", listener.port(), To(queue))
                       : c.Connect("", 80, To(queue));
        if (i % 3 != 0) inline_made[t].push_back(s);
        all_made[t].push_back(std::move(s));
      }
    });
  }
  // The consumer drains while the producers push.
  std::vector<std::shared_ptr<Socket>> got =
      DrainN(*queue, kThreads * kPerThread);
  for (auto& p : producers) p.join();
  ASSERT_EQ(got.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<Socket*, size_t> position;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_FALSE(got[i]->connecting());
    EXPECT_TRUE(position.emplace(got[i].get(), i).second) << "twice: " << i;
  }
  for (int t = 0; t < kThreads; ++t) {
    for (auto& s : all_made[t]) EXPECT_EQ(position.count(s.get()), 1u);
    // One thread's inline completions keep their order.
    for (size_t i = 1; i < inline_made[t].size(); ++i) {
      EXPECT_LT(position[inline_made[t][i - 1].get()],
                position[inline_made[t][i].get()]);
    }
  }
  EXPECT_TRUE(queue->Drain().empty());
}

TEST(CompletionQueueTest, FdIsReadableWhileNonEmptyLevelTriggered) {
  auto queue = NewQueue();
  Connector connector;
  const int epfd = NewEpoll(queue->fd(), 0);
  EXPECT_EQ(EpollEvents(epfd), 0);
  auto a = connector.Connect("", 80, To(queue));
  auto b = connector.Connect("", 80, To(queue));
  EXPECT_EQ(EpollEvents(epfd), 1);
  EXPECT_EQ(EpollEvents(epfd), 1);  // level: still readable
  ASSERT_EQ(queue->Drain(1).size(), 1u);
  EXPECT_EQ(EpollEvents(epfd), 1);  // one left
  ASSERT_EQ(queue->Drain(1).size(), 1u);
  // Drain(1) emptied the queue: the readiness is gone.
  EXPECT_EQ(EpollEvents(epfd), 0);
  EXPECT_TRUE(queue->Drain().empty());
  EXPECT_EQ(EpollEvents(epfd), 0);
  auto c = connector.Connect("", 80, To(queue));
  EXPECT_EQ(EpollEvents(epfd), 1);
  EXPECT_EQ(queue->Drain().size(), 1u);
  EXPECT_EQ(EpollEvents(epfd), 0);
  close(epfd);
}

TEST(CompletionQueueTest, FdSignalsOncePerEdgeEdgeTriggered) {
  auto queue = NewQueue();
  Connector connector;
  const int epfd = NewEpoll(queue->fd(), EPOLLET);
  std::vector<std::shared_ptr<Socket>> made;
  for (int i = 0; i < 3; ++i)
    made.push_back(connector.Connect("", 80, To(queue)));
  EXPECT_EQ(EpollEvents(epfd), 1);
  // Pushes onto a non-empty queue write nothing: no new edge.
  made.push_back(connector.Connect("", 80, To(queue)));
  EXPECT_EQ(EpollEvents(epfd), 0);
  EXPECT_EQ(queue->Drain().size(), 4u);
  EXPECT_EQ(EpollEvents(epfd), 0);
  made.push_back(connector.Connect("", 80, To(queue)));  // a new edge
  EXPECT_EQ(EpollEvents(epfd), 1);
  EXPECT_EQ(queue->Drain().size(), 1u);
  close(epfd);
}

TEST(CompletionQueueTest, WaitReturnsOnCompletionAndTimesOut) {
  auto queue = NewQueue();
  EXPECT_FALSE(queue->Wait(absl::Milliseconds(10)));
  EXPECT_FALSE(queue->Wait(absl::ZeroDuration()));
  Listener listener;
  Connector connector;
  auto s = connector.Connect("127.0.0.1", listener.port(), To(queue));
  EXPECT_TRUE(queue->Wait(kLong));
  EXPECT_TRUE(queue->Wait(absl::ZeroDuration()));  // still there
  std::vector<std::shared_ptr<Socket>> got = queue->Drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], s);
  EXPECT_TRUE(s->error().ok());
  EXPECT_GE(s->fd(), 0);
  EXPECT_FALSE(queue->Wait(absl::Milliseconds(10)));
}

TEST(CompletionQueueTest, UndrainedQueueFreesItsSockets) {
  std::weak_ptr<Socket> weak;
  std::weak_ptr<CompletionQueue> weak_queue;
  {
    Connector connector;
    auto queue = NewQueue();
    weak_queue = queue;
    weak = connector.Connect("", 80, To(queue));
    EXPECT_FALSE(weak.expired());  // held by the queue only
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_TRUE(weak_queue.expired());
}

TEST(CompletionQueueTest, SocketsOutliveTheirQueue) {
  Listener listener;
  HangingListener hanging;
  Connector connector;
  std::shared_ptr<Socket> done;
  std::shared_ptr<Socket> pending;
  {
    auto queue = NewQueue();
    done = connector.Connect("127.0.0.1", listener.port(), To(queue));
    pending = connector.Connect("127.0.0.1", hanging.port(), To(queue));
    ASSERT_TRUE(done->Wait(kLong));
  }  // the pending socket holds the queue until it completes
  ASSERT_TRUE(pending->Close().ok());
  EXPECT_EQ(pending->error().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(done->error().ok());
}

class FailingEventFd : public internal::SocketOpsWrapper {
 public:
  FailingEventFd() : SocketOpsWrapper(internal::SocketOps::Default()) {}
  int EventFd(unsigned int, int) override {
    errno = EMFILE;
    return -1;
  }
};

TEST(CompletionQueueTest, CreateReportsEventFdFailure) {
  FailingEventFd ops;
  absl::StatusOr<std::shared_ptr<CompletionQueue>> q =
      CompletionQueue::CreateWithOps(&ops);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(q.status().message().find("eventfd"), absl::string_view::npos);
}

TEST(CompletionQueueTest, LeaksNoDescriptor) {
  const int before = CountOpenFds();
  {
    Listener listener;
    RefusingPort refusing;
    Connector connector;
    auto queue = NewQueue();
    std::vector<std::shared_ptr<Socket>> made;
    for (int i = 0; i < 20; ++i) {
      made.push_back(connector.Connect(
          "127.0.0.1", i % 2 == 0 ? listener.port() : refusing.port(),
          To(queue)));
    }
    std::vector<std::shared_ptr<Socket>> got = DrainN(*queue, made.size());
    EXPECT_EQ(got.size(), made.size());
    for (auto& s : got) (void)s->Close();
    // Some pushed, never drained: freed with the queue.
    for (int i = 0; i < 5; ++i)
      made.push_back(connector.Connect("", 80, To(queue)));
  }
  EXPECT_TRUE(WaitFor([&] { return CountOpenFds() == before; }))
      << CountOpenFds() << " open, " << before << " before";
}

}  // namespace
}  // namespace tether
