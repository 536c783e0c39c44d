#include "lib/registry.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "lib/connect_errors.h"

namespace tether {
namespace internal {

Registry::Registry(SocketOps* ops)
    : ops_(ops), cancel_fd_(ops->EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Registry::~Registry() {
  if (cancel_fd_ >= 0) ops_->Close(cancel_fd_);
}

bool Registry::Add(ConnectState* state) {
  MutexLock lock(&mu_);
  if (closed_) return false;
  state->registry_prev_ = tail_;
  state->registry_next_ = nullptr;
  (tail_ != nullptr ? tail_->registry_next_ : head_) = state;
  tail_ = state;
  state->registered_ = true;
  return true;
}

void Registry::Remove(ConnectState* state) {
  MutexLock lock(&mu_);
  // After CancelAll() the list is never used again.
  if (closed_ || !state->registered_) return;
  ConnectState* prev = state->registry_prev_;
  ConnectState* next = state->registry_next_;
  (prev != nullptr ? prev->registry_next_ : head_) = next;
  (next != nullptr ? next->registry_prev_ : tail_) = prev;
  state->registered_ = false;
}

void Registry::CancelAll() {
  PublishCancelAll();
  Wake();
}

void Registry::PublishCancelAll() {
  MutexLock lock(&mu_);
  closed_ = true;
  // Under mu_: a registered state's Socket is alive until Remove().
  for (ConnectState* s = head_; s != nullptr; s = s->registry_next_) {
    absl::Status status = CancelledError(s->target(), "by ~Connector");
    if (cancel_fd_ >= 0) {
      s->PublishFailure(std::move(status));  // The write below wakes them.
    } else {
      s->Cancel(std::move(status));  // shutdown() of each descriptor
    }
  }
}

void Registry::Wake() {
  if (cancel_fd_ >= 0) {
    const uint64_t one = 1;
    while (ops_->Write(cancel_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace internal
}  // namespace tether
