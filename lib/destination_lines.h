// lib/destination_lines.h: per-destination isolation (issue 14,
// api-contract rule 12).
//
// A connect that has addresses to try holds one slot of its destination
// (its first address and port, or Unix path) while it holds a worker. A
// destination has `cap` slots; a connect that finds none free waits in that
// destination's own line, holding no thread, and is handed the slot (and
// submitted to the worker pool) by the connect that frees it. Connects to
// other destinations never queue behind it.
//
// Entries of connects cancelled while they wait stay in the line until
// they reach its front, where they are dropped without taking a worker;
// the max_queued slot such a connect held is freed at once by its
// canceller (ConnectState::HandOverCallback()).
//
// Thread safety: safe for concurrent use.

#ifndef TETHER_LIB_DESTINATION_LINES_H_
#define TETHER_LIB_DESTINATION_LINES_H_

#include <cstddef>
#include <list>
#include <memory>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "lib/mutex.h"
#include "tether/address.h"

namespace tether {
namespace internal {

class ConnectTask;

class DestinationLines {
 public:
  // REQUIRES: cap >= 1.
  explicit DestinationLines(int cap) : cap_(cap) {}
  DestinationLines(const DestinationLines&) = delete;
  DestinationLines& operator=(const DestinationLines&) = delete;

  // Takes a slot of `destination` for `task`: true when it got one; false
  // when the task now waits in its line (a later Leave() hands it the
  // slot). Destinations are told apart by SocketAddress::operator==.
  [[nodiscard]] bool Enter(const SocketAddress& destination,
                           const std::shared_ptr<ConnectTask>& task);
  // Frees a slot of `destination`, or hands it to the first task waiting in
  // its line, which is returned (null when none waits).
  [[nodiscard]] std::shared_ptr<ConnectTask> Leave(
      const SocketAddress& destination);

  int cap() const { return cap_; }

 private:
  struct Line {
    int holding = 0;  // slots taken
    // A list, not a deque: an empty list allocates nothing, and a line is
    // made for the first connect to each destination (and erased after the
    // last); waiting is rare.
    std::list<std::shared_ptr<ConnectTask>> waiting;
  };
  // Hashes what operator== compares, without formatting the address.
  struct Hash {
    size_t operator()(const SocketAddress& a) const;
  };

  const int cap_;
  Mutex mu_;
  // Only destinations with a slot taken; erased when the last one frees.
  std::unordered_map<SocketAddress, Line, Hash> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_DESTINATION_LINES_H_
