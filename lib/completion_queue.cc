// lib/completion_queue.cc: a multi-producer, single-consumer queue of
// completed sockets with an eventfd for readiness.
//
// How this works
//
// Producers (whoever publishes a socket's final state, see
// ConnectState::PublishLocked()) push the socket's own CompletionNode onto
// head_, a Treiber stack, with one compare-and-swap: no lock, no allocation.
// The push that finds the stack empty writes the eventfd; later pushes
// (the consumer has not taken the stack yet) make no system call.
//
// Every system call on the eventfd (eventfd, write, read, poll, close) goes
// through ops_ (the seam; CreateWithOps() for tests).
//
// The consumer (Drain(), Wait(), under consumer_->mu) takes the whole stack
// with one exchange, reverses it (the stack is newest first; the queue
// returns oldest first) and appends it to its private list `taken`, from
// which Drain() returns at most `max` sockets. Completion order is the
// order of the successful CASes.
//
// Readiness. The eventfd is cleared (read) only when Drain() leaves nothing
// taken, and after the read the consumer looks at head_ again: a push that
// raced the Drain (found the stack empty after the exchange, and wrote the
// eventfd before our read consumed it) is still in head_, so the consumer
// writes the eventfd again. Every push is thus either returned by this
// Drain or leaves fd() readable. The reverse race (a push that wrote the
// eventfd after our look) leaves fd() readable with that socket queued; a
// push whose CAS came before our exchange but whose write() comes after our
// read leaves fd() readable with nothing queued (the rare spurious wake-up
// the header mentions), which the next Drain() clears.

#include "tether/completion_queue.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/time/clock.h"
#include "lib/mutex.h"
#include "lib/posix_error.h"
#include "lib/socket_ops.h"

namespace tether {
namespace internal {

struct CompletionConsumer {
  Mutex mu;
  // Taken from head_, oldest first: first is the next to return.
  CompletionNode* first ABSL_GUARDED_BY(mu) = nullptr;
  CompletionNode* last ABSL_GUARDED_BY(mu) = nullptr;
};

namespace {

// Appends everything pushed so far to `c`'s list, oldest first.
void TakeAll(std::atomic<CompletionNode*>& head, CompletionConsumer& c)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.mu) {
  // acquire: pairs with the release CAS of every push in the list, so each
  // node's next and socket (and the socket's published state) are visible.
  CompletionNode* newest = head.exchange(nullptr, std::memory_order_acquire);
  CompletionNode* oldest = nullptr;
  for (CompletionNode* n = newest; n != nullptr;) {
    CompletionNode* next = n->next;
    n->next = oldest;
    oldest = n;
    n = next;
  }
  if (oldest == nullptr) return;
  if (c.last == nullptr) {
    c.first = oldest;
  } else {
    c.last->next = oldest;
  }
  c.last = newest;  // the newest is the tail once reversed
}

// Makes `fd` (an eventfd) readable.
void SignalEventFd(SocketOps* ops, int fd) {
  const uint64_t one = 1;
  // Cannot block (EFD_NONBLOCK); cannot overflow: the consumer resets it.
  while (ops->Write(fd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

// Clears `fd`'s readiness once the consumer holds nothing: one read()
// resets an eventfd to zero (EINTR retried). A push whose eventfd write the
// read consumed is in `head` (its CAS happened before its write, which
// happened before our read), so fd is made readable again for it.
void ClearReadiness(const std::atomic<CompletionNode*>& head, SocketOps* ops,
                    int fd) {
  uint64_t count;
  while (ops->Read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
  // acquire: pairs with the push's release CAS (see above).
  if (head.load(std::memory_order_acquire) != nullptr) SignalEventFd(ops, fd);
}

// Whether anything can be drained now.
bool NonEmpty(const std::atomic<CompletionNode*>& head,
              const CompletionConsumer& c) ABSL_SHARED_LOCKS_REQUIRED(c.mu) {
  // acquire: as in TakeAll(); a socket seen here is drainable.
  return c.first != nullptr || head.load(std::memory_order_acquire) != nullptr;
}

int PollMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  // Rounded up, so a wait never ends (and spins) just before the deadline.
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      int64_t{1} << 30));
}

}  // namespace
}  // namespace internal

using internal::CompletionNode;
using internal::MutexLock;

absl::StatusOr<std::shared_ptr<CompletionQueue>> CompletionQueue::Create() {
  return CreateWithOps(internal::SocketOps::Default());
}

absl::StatusOr<std::shared_ptr<CompletionQueue>> CompletionQueue::CreateWithOps(
    internal::SocketOps* ops) {
  const int fd = ops->EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return internal::PosixError("eventfd", errno);
  return std::shared_ptr<CompletionQueue>(new CompletionQueue(ops, fd));
}

CompletionQueue::CompletionQueue(internal::SocketOps* ops, int fd)
    : ops_(ops),
      fd_(fd),
      consumer_(std::make_unique<internal::CompletionConsumer>()) {}

CompletionQueue::~CompletionQueue() {
  // The sockets still queued are dropped after the walk: each node lives
  // inside its socket, so a node must not be read once its socket may be
  // gone.
  std::vector<std::shared_ptr<Socket>> left = Drain();
  left.clear();
  // never retried: on Linux the number is gone even on EINTR
  ops_->Close(fd_);
}

void CompletionQueue::Push(CompletionNode* node) {
  // relaxed: only the first guess; the CAS publishes.
  CompletionNode* head = head_.load(std::memory_order_relaxed);
  do {
    node->next = head;
    // release on success: pairs with TakeAll()'s acquire exchange, making
    // node->next, node->socket and the socket's state visible to Drain().
    // relaxed on failure: we only retry with the new head.
  } while (!head_.compare_exchange_weak(head, node, std::memory_order_release,
                                        std::memory_order_relaxed));
  // The empty to non-empty edge.
  if (head == nullptr) internal::SignalEventFd(ops_, fd_);
}

std::vector<std::shared_ptr<Socket>> CompletionQueue::Drain(size_t max) {
  std::vector<std::shared_ptr<Socket>> out;
  internal::CompletionConsumer& c = *consumer_;
  MutexLock lock(&c.mu);
  internal::TakeAll(head_, c);
  while (c.first != nullptr && out.size() < max) {
    CompletionNode* node = c.first;
    c.first = node->next;  // read before the socket (which owns node) moves
    out.push_back(std::move(node->socket));
  }
  if (c.first != nullptr) return out;  // fd() stays readable
  c.last = nullptr;
  internal::ClearReadiness(head_, ops_, fd_);
  return out;
}

bool CompletionQueue::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  internal::CompletionConsumer& c = *consumer_;
  for (;;) {
    {
      MutexLock lock(&c.mu);
      if (internal::NonEmpty(head_, c)) return true;
    }
    pollfd p = {fd_, POLLIN, 0};
    const int rc = ops_->Poll(&p, 1, internal::PollMillis(deadline));
    MutexLock lock(&c.mu);
    if (rc == 0 && absl::Now() >= deadline) return internal::NonEmpty(head_, c);
    // A spurious readiness (see the top comment) would make poll() return
    // at once forever: clear it.
    if (rc > 0 && !internal::NonEmpty(head_, c)) {
      internal::ClearReadiness(head_, ops_, fd_);
    }
  }
}

}  // namespace tether
