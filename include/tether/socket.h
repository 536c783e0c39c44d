// tether/socket.h: Socket, the channel a Connector makes, and its
// lock-free connect-state queries (Tcl TIP 427).
//
// Connector::Connect() returns a Socket at once; a worker thread resolves the
// host and connects. Meanwhile any thread may ask, at any time and without a
// lock, whether it is still connecting(), what its error() is, and its
// sockname()/peername() (empty while connecting).
//
// Thread safety: a Socket is safe for concurrent use from any number of
// threads. The queries connecting(), error(), error_code(), sockname(),
// peername() and fd() are lock-free and wait-free: each is one acquire load
// plus reads of data that never changes after it is published. The Channel
// methods follow the rules in channel.h.
//
// Memory ordering: if connecting() returns false, then every effect of the
// connect attempt, including the values later returned by error(),
// error_code(), sockname() and peername(), is visible to the calling thread
// (the worker publishes the final state with a release store; every query
// starts with an acquire load of it). The same holds after Wait() or WaitAny()
// report the socket complete, and inside on_complete.

#ifndef TETHER_INCLUDE_TETHER_SOCKET_H_
#define TETHER_INCLUDE_TETHER_SOCKET_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tether/address.h"
#include "tether/channel.h"

namespace tether {

namespace internal {
class ConnectState;
class ConnectorImpl;
class FdStream;
struct ConnectResult;  // below, with the implementation details
struct SocketKey;      // below, with the implementation details
}  // namespace internal

// One address the connector tried, as attempts() reports it.
struct Attempt {
  enum class Outcome {
    kInProgress,
    kConnected,
    kFailed,
    kTimedOut,
    kCancelled
  };
  SocketAddress address;
  Outcome outcome = Outcome::kInProgress;
  int error_code = 0;  // errno; 0 for kConnected and kInProgress;
                       // ETIMEDOUT for kTimedOut, ECANCELED for kCancelled
  absl::Time start;
  absl::Duration duration;  // so far, for kInProgress
};

class Socket final : public Channel {
 public:
  // Only a Connector makes Sockets (SocketKey is internal).
  explicit Socket(internal::SocketKey);
  // Releases the descriptor if still open. A connect still running keeps
  // its own reference to the Socket, so dropping the last user pointer does
  // not cancel it: call Close() for that.
  ~Socket() override;

  // True until the attempt is complete (connected, failed or cancelled).
  // Lock-free; never blocks; safe from any thread.
  [[nodiscard]] bool connecting() const {
    // acquire: pairs with the release in ConnectState::Publish(), so a false
    // answer comes with every effect of the connect.
    return result_.load(std::memory_order_acquire) == nullptr;
  }

  // OK while connecting and once connected; the failure otherwise. A
  // reference to an immutable published Status: no refcount is touched, and
  // reading it does not clear it (unlike Tcl's -error). When every address
  // failed it carries the first attempt's errno, and its message names every
  // address tried with its error. Lock-free; never blocks; safe from any
  // thread. The reference stays valid as long as the Socket.
  [[nodiscard]] const absl::Status& error() const;

  // errno of the failure (ECONNREFUSED, ETIMEDOUT for a timeout, ECANCELED
  // for a cancel); 0 while connecting, once connected, and for resolution
  // failures that have no errno. Lock-free; never blocks.
  [[nodiscard]] int error_code() const;

  // Local and remote address of the connection; nullopt while connecting or
  // after a failure. Lock-free; never blocks; copies 32 bytes, no allocation.
  [[nodiscard]] std::optional<SocketAddress> sockname() const;
  [[nodiscard]] std::optional<SocketAddress> peername() const;

  // Every address tried so far, in the order started, with its outcome and
  // timing. Takes a short internal lock (not lock-free); never blocks on the
  // network.
  [[nodiscard]] std::vector<Attempt> attempts() const;

  // Blocks until the connect is complete, or `timeout` passes. Returns
  // whether it is complete. May return before on_complete has finished.
  [[nodiscard]] bool Wait(absl::Duration timeout) const;

  // The connected descriptor; -1 while connecting, after a failure or a
  // cancel, and once both directions are closed. Lock-free; never blocks.
  // The caller must not close it.
  [[nodiscard]] int fd() const;

  // Hands the connected descriptor to the caller, who then owns it (and
  // must close it). Afterwards the Socket is closed: fd() is -1, both
  // directions are closed, and tether never touches the number again (no
  // shutdown(), no close(), no I/O). While connecting it waits like
  // blocking I/O does (kUnavailable when non-blocking); after a failed
  // connect it returns error(); after a Close() (a full one, or one that
  // cancelled the connect) or a previous Release(), kFailedPrecondition.
  // A half-closed socket can be released (its shutdown() stays in effect).
  // Safe against concurrent Read, Write and Close: a Read or Write blocked
  // in another thread returns kCancelled ("channel closed") promptly, and
  // Release() returns only once no tether call is using the descriptor any
  // more, so the caller may close it at once. A Close() racing Release()
  // either wins (Release() fails) or returns OK without touching it.
  [[nodiscard]] absl::StatusOr<int> Release();

  // Channel. While connecting, blocking calls (Read, Write, WriteAll,
  // ReadToEnd and the half-closes) first wait for the connect to finish;
  // non-blocking ones return kUnavailable. After a failed connect they
  // return error(). Close() on a connecting socket cancels the attempt
  // (error() becomes kCancelled) and interrupts the connect in progress.
  [[nodiscard]] absl::StatusOr<size_t> Read(absl::Span<char> buffer) override;
  [[nodiscard]] absl::StatusOr<size_t> Write(
      absl::Span<const char> data) override;
  [[nodiscard]] absl::Status SetBlocking(bool blocking) override;
  [[nodiscard]] absl::Status Close(Direction direction) override;
  [[nodiscard]] absl::Status Close() override;
  [[nodiscard]] bool readable_open() const override;
  [[nodiscard]] bool writable_open() const override;

 private:
  friend class internal::ConnectState;
  friend class internal::ConnectorImpl;
  friend size_t WaitAny(absl::Span<const std::shared_ptr<Socket>> sockets,
                        absl::Duration timeout);

  const internal::ConnectResult* Load() const {
    // acquire: pairs with the release in ConnectState::Publish().
    return result_.load(std::memory_order_acquire);
  }
  // The stream for I/O, waiting for the connect if `blocking_`.
  absl::StatusOr<internal::FdStream*> Stream();

  // Written once (null -> result) by ConnectState::Publish(); read by every
  // query. The pointee is immutable after publication; owned by the Socket.
  std::atomic<const internal::ConnectResult*> result_{nullptr};
  static_assert(
      std::atomic<const internal::ConnectResult*>::is_always_lock_free,
      "queries must be lock-free");
  const absl::Status ok_;             // what error() returns while connecting
  std::atomic<bool> blocking_{true};  // written by SetBlocking()
  std::atomic<bool> closed_{false};   // written by Close() without a stream
  // Attempts, waiters, on_complete and cancellation; set once, by the
  // Connector, before the Socket is shared.
  std::unique_ptr<internal::ConnectState> state_;
};

// Blocks until one of `sockets` is complete (not connecting) and returns its
// index, or returns sockets.size() when `timeout` passes first. Null entries
// are ignored. Thread-safe. Cost: like poll(2), O(n) per call in the span's
// length (each socket is looked at, and while sleeping one shared waiter is
// registered on each); a completion wakes only that one waiter. For large
// sets, or inside an event loop, a CompletionQueue costs O(1) per completion.
size_t WaitAny(absl::Span<const std::shared_ptr<Socket>> sockets,
               absl::Duration timeout);

// ---------------------------------------------------------------------------
// Implementation details follow; nothing below is part of the API.
// ---------------------------------------------------------------------------

namespace internal {

// The final state of a connect, built by one thread, then published once
// through Socket::result_ and never modified afterwards.
struct ConnectResult {
  absl::Status status;  // OK when connected
  int error_code = 0;   // errno of the failure, 0 if none
  // Empty (AF_UNSPEC) unless connected. Not std::optional: a query then
  // reads the family it copies anyway instead of an engaged flag stored
  // after the 116-byte address, on another cache line. 16-byte aligned, so
  // an IP address's copy is two aligned 16-byte loads.
  alignas(16) SocketAddress sockname;
  alignas(16) SocketAddress peername;
  std::unique_ptr<FdStream> stream;  // the connected descriptor's I/O
  ~ConnectResult();
};

struct SocketKey {  // Only tether's internals can make a Socket.
  explicit SocketKey() = default;
};

}  // namespace internal

// The lock-free queries, inline (one acquire load in Load(), then reads of
// the immutable published result); defined here because they need
// ConnectResult.

inline const absl::Status& Socket::error() const {
  const internal::ConnectResult* r = Load();
  return r == nullptr ? ok_ : r->status;
}

inline int Socket::error_code() const {
  const internal::ConnectResult* r = Load();
  return r == nullptr ? 0 : r->error_code;
}

inline std::optional<SocketAddress> Socket::sockname() const {
  const internal::ConnectResult* r = Load();
  if (r == nullptr || r->sockname.family() == AF_UNSPEC) return std::nullopt;
  return r->sockname;
}

inline std::optional<SocketAddress> Socket::peername() const {
  const internal::ConnectResult* r = Load();
  if (r == nullptr || r->peername.family() == AF_UNSPEC) return std::nullopt;
  return r->peername;
}

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_SOCKET_H_
