// tests/testing/held_sockets.h: sockets that stay connecting until closed.
//
// Their Connector has one worker, held inside a FakeResolver that answers
// nobody until the HeldSockets goes; every other connect waits in the
// pool's queue. Close() on one completes it (kCancelled) at once.

#ifndef TETHER_TESTS_TESTING_HELD_SOCKETS_H_
#define TETHER_TESTS_TESTING_HELD_SOCKETS_H_

#include <memory>
#include <vector>

#include "tests/testing/fake_resolver.h"
#include "tether/completion_queue.h"
#include "tether/connector.h"

namespace tether {
namespace testing {

class HeldSockets {
 public:
  // `n` connecting sockets, each with `queue` (may be null).
  explicit HeldSockets(int n, std::shared_ptr<CompletionQueue> queue = nullptr);
  ~HeldSockets();
  HeldSockets(const HeldSockets&) = delete;
  HeldSockets& operator=(const HeldSockets&) = delete;

  // One more connecting socket (with the queue).
  std::shared_ptr<Socket> Make();

  std::vector<std::shared_ptr<Socket>> sockets;

 private:
  const std::shared_ptr<FakeResolver> resolver_;
  const std::shared_ptr<CompletionQueue> queue_;
  std::unique_ptr<Connector> connector_;
};

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_HELD_SOCKETS_H_
