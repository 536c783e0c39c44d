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

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "lib/mutex.h"

namespace tether {
namespace internal {

class ConnectTask;

class DestinationLines {
 public:
  // REQUIRES: cap >= 1.
  explicit DestinationLines(int cap) : cap_(cap) {}
  DestinationLines(const DestinationLines&) = delete;
  DestinationLines& operator=(const DestinationLines&) = delete;

  // Takes a slot of `key` for `task`: true when it got one; false when the
  // task now waits in `key`'s line (a later Leave() hands it the slot).
  [[nodiscard]] bool Enter(const std::string& key,
                           const std::shared_ptr<ConnectTask>& task);
  // Frees a slot of `key`, or hands it to the first task waiting in its
  // line, which is returned (null when none waits).
  [[nodiscard]] std::shared_ptr<ConnectTask> Leave(const std::string& key);

  int cap() const { return cap_; }

 private:
  struct Line {
    int holding = 0;  // slots taken
    std::deque<std::shared_ptr<ConnectTask>> waiting;
  };

  const int cap_;
  Mutex mu_;
  // Only destinations with a slot taken; erased when the last one frees.
  std::unordered_map<std::string, Line> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_DESTINATION_LINES_H_
