#include "tether/socket.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/time/clock.h"
#include "lib/connect_state.h"
#include "lib/cpu_relax.h"
#include "lib/fd_stream.h"
#include "lib/posix_error.h"

namespace tether {
namespace internal {

ConnectResult::~ConnectResult() = default;

namespace {

// How long Wait() spins before it sleeps. A connect on loopback takes about
// 40 us and a condition-variable wake-up about as much again, so a short
// spin saves the caller's wake-up for the common fast connect.
constexpr absl::Duration kSpin = absl::Microseconds(60);

// Spans longer than this are not spun on: one pass over them already
// costs a good part of the spin (a spin pays off for a fast connect or two,
// not for a large set).
constexpr size_t kMaxSpinSockets = 64;

// Spins while every socket in `sockets` is connecting, for at most kSpin.
// Returns the index of a complete one, or sockets.size().
size_t SpinForAny(absl::Span<const std::shared_ptr<Socket>> sockets,
                  absl::Time deadline) {
  static const bool kMultiCore = std::thread::hardware_concurrency() > 1;
  if (!kMultiCore || sockets.size() > kMaxSpinSockets) return sockets.size();
  const absl::Time end = std::min(deadline, absl::Now() + kSpin);
  for (int i = 0;; ++i) {
    for (size_t k = 0; k < sockets.size(); ++k) {
      if (sockets[k] != nullptr && !sockets[k]->connecting()) return k;
    }
    if ((i & 63) == 63 && absl::Now() >= end) return sockets.size();
    CpuRelax();
  }
}

// The index of a complete socket, or sockets.size().
size_t FindComplete(absl::Span<const std::shared_ptr<Socket>> sockets) {
  for (size_t k = 0; k < sockets.size(); ++k) {
    if (sockets[k] != nullptr && !sockets[k]->connecting()) return k;
  }
  return sockets.size();
}

// Registers the thread's SharedWaiter on every socket and sleeps until one
// is complete or `deadline` passes. Returns its index, or sockets.size().
//
// The registration stays after we return (ConnectState::RegisterSticky()),
// so a thread that waits on the same sockets again (a harvest loop) pays
// one load per socket, with no lock and no unregistration; a completion
// fires one waiter. Only a socket whose slot another thread holds gets a
// classic registration under its mutex, undone before we return. Stale
// firings (a socket of an earlier call) only cause one more look.
size_t SleepForAny(absl::Span<const std::shared_ptr<Socket>> sockets,
                   absl::Time deadline,
                   absl::FunctionRef<ConnectState*(const Socket&)> state_of) {
  SharedWaiter* const me = ThreadWaiter();
  std::vector<ConnectState*> shared_slots;  // registered under their mutex
  size_t found = sockets.size();
  for (size_t k = 0; k < sockets.size() && found == sockets.size(); ++k) {
    if (sockets[k] == nullptr) continue;
    ConnectState* state = state_of(*sockets[k]);
    switch (state->RegisterSticky(me)) {
      case ConnectState::Sticky::kMine:
        break;
      case ConnectState::Sticky::kDone:
        found = k;
        break;
      case ConnectState::Sticky::kBusy:
        if (state->AddWaiter(&me->waiter)) {
          shared_slots.push_back(state);
        } else {
          found = k;
        }
        break;
    }
  }
  while (found == sockets.size() && me->waiter.WaitUntil(deadline)) {
    found = FindComplete(sockets);
  }
  for (ConnectState* state : shared_slots) state->RemoveWaiter(&me->waiter);
  return found < sockets.size() ? found : FindComplete(sockets);
}

}  // namespace
}  // namespace internal

using internal::ConnectResult;
using internal::FdStream;

Socket::Socket(internal::SocketKey) {}

Socket::~Socket() {
  // acquire: pairs with Publish()'s release; we are the last owner.
  delete result_.load(std::memory_order_acquire);
}

std::vector<Attempt> Socket::attempts() const { return state_->attempts(); }

bool Socket::Wait(absl::Duration timeout) const {
  if (!connecting()) return true;
  // A non-owning alias, so Wait() can share WaitAny()'s code.
  std::shared_ptr<Socket> self(std::shared_ptr<Socket>(),
                               const_cast<Socket*>(this));
  return WaitAny(absl::MakeConstSpan(&self, 1), timeout) == 0;
}

int Socket::fd() const {
  const ConnectResult* r = Load();
  return r == nullptr || r->stream == nullptr ? -1 : r->stream->fd();
}

absl::StatusOr<FdStream*> Socket::Stream() {
  if (connecting()) {
    // relaxed: an independent flag; nothing else is read because of it.
    if (!blocking_.load(std::memory_order_relaxed)) {
      return absl::UnavailableError("socket is still connecting");
    }
    while (!Wait(absl::InfiniteDuration())) {
    }
  }
  const ConnectResult* r = Load();
  if (!r->status.ok()) return r->status;
  return r->stream.get();
}

absl::StatusOr<size_t> Socket::Read(absl::Span<char> buffer) {
  absl::StatusOr<FdStream*> s = Stream();
  if (!s.ok()) return s.status();
  return (*s)->Read(buffer, blocking_.load(std::memory_order_relaxed));
}

absl::StatusOr<size_t> Socket::Write(absl::Span<const char> data) {
  absl::StatusOr<FdStream*> s = Stream();
  if (!s.ok()) return s.status();
  return (*s)->Write(data, blocking_.load(std::memory_order_relaxed));
}

absl::Status Socket::SetBlocking(bool blocking) {
  // relaxed: read by later I/O calls of whichever thread; no other data
  // depends on it.
  blocking_.store(blocking, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Socket::Close(Direction direction) {
  absl::StatusOr<FdStream*> s = Stream();
  if (!s.ok()) return s.status();
  return (*s)->Close(direction);
}

absl::Status Socket::Close() {
  if (connecting()) {
    state_->Cancel(internal::CancelledError(state_->target(), "by Close()"));
  }
  const ConnectResult* r = Load();  // Complete now, by us or by the worker.
  if (r->stream == nullptr) {
    // relaxed: only readable_open()/writable_open() read it.
    closed_.store(true, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  return r->stream->Close();
}

absl::StatusOr<int> Socket::Release() {
  absl::StatusOr<FdStream*> s = Stream();
  // relaxed: set by a Close() that found no stream; a Close racing this
  // call may be missed here, which makes it the one that lost the race.
  if (closed_.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError("socket is closed");
  }
  if (!s.ok()) return s.status();
  return (*s)->Detach();
}

bool Socket::readable_open() const {
  const ConnectResult* r = Load();
  if (r != nullptr && r->stream != nullptr) return r->stream->readable_open();
  return !closed_.load(std::memory_order_relaxed);
}

bool Socket::writable_open() const {
  const ConnectResult* r = Load();
  if (r != nullptr && r->stream != nullptr) return r->stream->writable_open();
  return !closed_.load(std::memory_order_relaxed);
}

size_t WaitAny(absl::Span<const std::shared_ptr<Socket>> sockets,
               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t k = internal::SpinForAny(sockets, deadline);
  if (k < sockets.size()) return k;
  return internal::SleepForAny(sockets, deadline,
                               [](const Socket& s) { return s.state_.get(); });
}

}  // namespace tether
