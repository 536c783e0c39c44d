// Tests for WaitAny() (lib/socket.cc) over large sets (issue 16): each
// completion is found, whichever thread completes it and however many
// threads wait on the same sockets; registrations left behind by earlier
// calls neither leak nor misreport. Sockets stay connecting because their
// Connector's only worker is held in a fake resolver; completions are
// Close() calls. Waits are bounded.

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/held_sockets.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

constexpr absl::Duration kLong = absl::Seconds(20);

using testing::HeldSockets;

TEST(WaitAnyTest, HarvestsEveryCompletionOfALargeSet) {
  constexpr int kSockets = 2000;
  constexpr int kCompleted = 200;
  HeldSockets held(kSockets);
  std::vector<std::shared_ptr<Socket>> live = held.sockets;
  std::thread closer([&] {
    for (int i = 0; i < kCompleted; ++i) {
      (void)held.sockets[(i * 7919) % kSockets]->Close();
    }
  });
  std::set<Socket*> found;
  const absl::Time deadline = absl::Now() + kLong;
  while (static_cast<int>(found.size()) < kCompleted &&
         absl::Now() < deadline) {
    const size_t k = WaitAny(live, deadline - absl::Now());
    if (k == live.size()) break;
    EXPECT_FALSE(live[k]->connecting());
    EXPECT_EQ(live[k]->error().code(), absl::StatusCode::kCancelled);
    EXPECT_TRUE(found.insert(live[k].get()).second);
    live[k] = live.back();  // the harvest loop drops what it found
    live.pop_back();
  }
  closer.join();
  EXPECT_EQ(static_cast<int>(found.size()), kCompleted);
  // Nothing else is complete: a short wait times out.
  EXPECT_EQ(WaitAny(live, absl::Milliseconds(5)), live.size());
}

TEST(WaitAnyTest, SeveralThreadsWaitOnTheSameSockets) {
  constexpr int kSockets = 300;
  HeldSockets held(kSockets);
  std::atomic<int> registered{0};
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int t = 0; t < 3; ++t) {
    waiters.emplace_back([&] {
      // Each waiter first times out once, leaving its registrations (the
      // first thread's in the sockets' slots, the others' in their lists).
      EXPECT_EQ(WaitAny(held.sockets, absl::Milliseconds(1)),
                held.sockets.size());
      registered.fetch_add(1);
      EXPECT_EQ(WaitAny(held.sockets, kLong), 123u);
      woken.fetch_add(1);
    });
  }
  ASSERT_TRUE(testing::WaitFor([&] { return registered.load() == 3; }));
  (void)held.sockets[123]->Close();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(woken.load(), 3);
}

TEST(WaitAnyTest, SocketsOutliveTheThreadsThatWaitedOnThem) {
  HeldSockets held(100);
  std::thread waiter([&] {
    EXPECT_EQ(WaitAny(held.sockets, absl::Milliseconds(1)),
              held.sockets.size());
  });  // exits with its waiter still registered on every socket
  waiter.join();
  (void)held.sockets[7]->Close();  // fires a waiter whose thread is gone
  EXPECT_EQ(WaitAny(held.sockets, kLong), 7u);
  EXPECT_TRUE(held.sockets[7]->Wait(absl::ZeroDuration()));
}

}  // namespace
}  // namespace tether
