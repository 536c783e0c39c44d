// lib/completion_queue_access.h: the producer side of a CompletionQueue,
// for ConnectState (and the push benchmark). Not part of the public API.

#ifndef TETHER_LIB_COMPLETION_QUEUE_ACCESS_H_
#define TETHER_LIB_COMPLETION_QUEUE_ACCESS_H_

#include "tether/completion_queue.h"

namespace tether {
namespace internal {

struct CompletionQueueAccess {
  // Queues node->socket (set by the caller). REQUIRES: `node` is not in any
  // queue; it stays untouched by the caller until Drain() returns its socket
  // (or the queue is destroyed).
  static void Push(CompletionQueue& queue, CompletionNode* node) {
    queue.Push(node);
  }
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_COMPLETION_QUEUE_ACCESS_H_
