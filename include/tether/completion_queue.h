// tether/completion_queue.h: completed connects, for event loops (epoll,
// poll, libuv, Asio, ...).
//
//   auto queue = tether::CompletionQueue::Create();      // StatusOr
//   tether::ConnectOptions options;
//   options.completion_queue = *queue;
//   connector.Connect("example.com", 443, std::move(options));
//   ...  // the loop waits on (*queue)->fd() with the rest of its descriptors
//   for (auto& socket : (*queue)->Drain()) {
//     if (socket->error().ok()) int fd = *socket->Release();  // now the loop's
//   }
//
// Every Socket whose ConnectOptions::completion_queue names this queue is
// pushed to it exactly once, when it completes (connected, failed or
// cancelled; sockets that fail inside Connect() on bad input, and sockets
// cancelled by ~Connector, included): after its final state is published
// and before its on_complete runs. Sockets of several Connectors may share
// one queue, and the queue may outlive them all (it keeps each undrained
// Socket alive).
//
// Readiness: fd() (an eventfd) is readable while completed sockets wait to
// be drained, and stops being readable once a Drain() has emptied the queue.
// The producer writes the eventfd only on the empty to non-empty edge, so a
// burst of completions costs one system call, and none while the consumer
// has not drained the previous ones yet. fd() is rarely readable with
// nothing to drain (a completion racing a Drain()); that Drain() returns
// nothing and clears it. With edge-triggered epoll (EPOLLET) the loop gets
// one event per edge: drain until Drain(max) returns fewer than `max`
// sockets, as with any edge-triggered descriptor. With level-triggered
// epoll, poll() or select(), draining part of the queue is fine: the fd
// stays readable.
//
// Thread safety: any number of threads (tether's workers, the deadline
// timer, a thread calling Close() or ~Connector) push concurrently without a
// lock: a push is one compare-and-swap on the queue's head plus, on the
// empty to non-empty edge only, one write() to the eventfd. Drain() and
// Wait() are the consumer's: they are safe to call from any thread
// (internally serialised by a mutex that producers never take), but the
// order in which two concurrent consumers receive sockets is unspecified.
//
// Memory ordering: a socket returned by Drain() is complete: every effect
// of its connect, including what error(), sockname(), peername(), fd() and
// attempts() return, is visible to the draining thread (the push is a
// release CAS made after the socket's release publication by the same
// thread; Drain() takes the list with an acquire exchange).

#ifndef TETHER_INCLUDE_TETHER_COMPLETION_QUEUE_H_
#define TETHER_INCLUDE_TETHER_COMPLETION_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/socket.h"

namespace tether {

namespace internal {
class SocketOps;
struct CompletionConsumer;
struct CompletionQueueAccess;

// A link of a CompletionQueue. Each Socket has one, inside its connect
// state: a socket is pushed at most once, so a push allocates nothing.
struct CompletionNode {
  CompletionNode* next = nullptr;  // written by the pusher before its CAS
  std::shared_ptr<Socket> socket;  // set by the pusher; moved out by Drain()
};
}  // namespace internal

class CompletionQueue {
 public:
  // A new, empty queue with its own eventfd (close-on-exec, non-blocking).
  // Returns the eventfd()'s error (e.g. kResourceExhausted for EMFILE);
  // never throws.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<CompletionQueue>>
  Create();

  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;
  // Closes fd() and drops the sockets still queued. REQUIRES: no Drain() or
  // Wait() in progress (holding the shared_ptr while calling guarantees it).
  ~CompletionQueue();

  // The eventfd to wait on for readability (EPOLLIN / POLLIN). Owned by the
  // queue: never read, write or close it. Lock-free.
  [[nodiscard]] int fd() const { return fd_; }

  // The completed sockets queued so far, in completion order, at most `max`
  // of them. Never blocks. Once it has returned every queued socket it
  // clears fd()'s readiness (until the next completion).
  [[nodiscard]] std::vector<std::shared_ptr<Socket>> Drain(
      size_t max = SIZE_MAX);

  // Blocks until something can be drained or `timeout` passes; returns
  // whether something can be drained. For callers without an event loop.
  [[nodiscard]] bool Wait(absl::Duration timeout);

  // Creates a queue whose every system call on its eventfd goes through
  // `ops`, which must outlive the queue (tests inject faults there). Not
  // part of the stable API.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<CompletionQueue>>
  CreateWithOps(internal::SocketOps* ops);

 private:
  friend struct internal::CompletionQueueAccess;  // Push(), for ConnectState
  CompletionQueue(internal::SocketOps* ops, int fd);

  // Adds node->socket at the tail (completion order). Lock-free; signals
  // fd() only when the queue was empty. Any thread.
  void Push(internal::CompletionNode* node);

  internal::SocketOps* const ops_;  // the seam; outlives the queue
  const int fd_;
  // Newest first (a Treiber stack): pushed by CAS (release), taken by the
  // consumer with one exchange (acquire). Written by producers and Drain().
  std::atomic<internal::CompletionNode*> head_{nullptr};
  static_assert(std::atomic<internal::CompletionNode*>::is_always_lock_free,
                "the push must be lock-free");
  // The consumer's side (what Drain() took from head_ but has not returned
  // yet, under a mutex that producers never take). Defined in the .cc.
  const std::unique_ptr<internal::CompletionConsumer> consumer_;
};

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_COMPLETION_QUEUE_H_
