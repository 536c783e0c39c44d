// Many lock-free readers against one publisher: the invariants of
// lib/connect_state.h, checked from reader threads while workers publish.
// Its value is under ThreadSanitizer, which checks the memory orderings.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Listener;
using testing::RefusingPort;

// Checks what a reader may see at any instant; returns false on a breach.
bool Consistent(const Socket& s, bool* was_done) {
  if (s.connecting()) {
    // Once complete, never connecting again (the state is published once).
    return !*was_done;
  }
  *was_done = true;
  if (s.error().ok()) {
    return s.sockname().has_value() && s.peername().has_value() &&
           s.error_code() == 0;
  }
  return !s.sockname().has_value() && !s.peername().has_value() &&
         s.error_code() != 0 && s.fd() == -1;
}

TEST(QueryConcurrencyTest, ReadersSeeOnlyWholePublishedStates) {
  Listener listener;
  RefusingPort refusing;
  Connector connector;
  constexpr int kSockets = 200;
  std::vector<std::shared_ptr<Socket>> sockets;
  for (int i = 0; i < kSockets; ++i) {
    sockets.push_back(connector.Connect(
        "127.0.0.1", i % 2 == 0 ? listener.port() : refusing.port()));
  }
  std::atomic<int> breaches{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 8; ++r) {
    readers.emplace_back([&] {
      std::vector<bool> done(kSockets, false);
      int remaining = kSockets;
      while (remaining > 0) {
        remaining = 0;
        for (int i = 0; i < kSockets; ++i) {
          bool d = done[i];
          if (!Consistent(*sockets[i], &d)) breaches++;
          done[i] = d;
          if (!d) ++remaining;
        }
      }
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(breaches.load(), 0);
  for (int i = 0; i < kSockets; ++i) {
    EXPECT_EQ(sockets[i]->error().ok(), i % 2 == 0);
  }
}

}  // namespace
}  // namespace tether
