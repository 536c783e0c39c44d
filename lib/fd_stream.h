// lib/fd_stream.h: half-closable I/O on one socket or on a pair of pipes.
//
// FdStream implements the mechanics behind every Channel: per-direction
// close (shutdown() on a socket, close() of that pipe on a pipeline),
// blocking and non-blocking Read/Write on descriptors that are always
// non-blocking underneath (poll() waits for readiness, so a concurrent Close
// can wake the waiter), and the guarantee that a descriptor number is
// released only when no I/O call is still inside it (no fd-reuse race).
//
// Thread safety: safe for concurrent use. One thread may Read while another
// Writes; Close (either form) may be called from any thread at any time,
// and a Read or Write blocked in that direction returns kCancelled
// ("channel closed") promptly.

#ifndef TETHER_LIB_FD_STREAM_H_
#define TETHER_LIB_FD_STREAM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lib/mutex.h"
#include "lib/socket_ops.h"
#include "tether/channel.h"

namespace tether {
namespace internal {

class FdStream {
 public:
  enum class Kind { kSocket, kPipe };

  // Takes ownership of the descriptors. kSocket: read_fd == write_fd, one
  // connected stream socket (blocking or not: I/O uses MSG_DONTWAIT).
  // kPipe: the parent's ends, distinct, each O_NONBLOCK; -1 for a
  // direction that was never open (it reports "wasn't opened for ...").
  FdStream(Kind kind, int read_fd, int write_fd, SocketOps* ops);
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;
  // Closes what is still open. REQUIRES: no call in progress.
  ~FdStream();

  absl::StatusOr<size_t> Read(absl::Span<char> buffer, bool blocking);
  absl::StatusOr<size_t> Write(absl::Span<const char> data, bool blocking);
  absl::Status Close(Direction direction);
  absl::Status Close();
  // kSocket only: hands the descriptor over instead of closing it. Both
  // directions close as for Close() (blocked calls return kCancelled), but
  // the number is never shut down or closed by this stream: it is returned
  // once no call is inside it any more (blocked ones are woken first, so
  // this is prompt). kFailedPrecondition when already closed.
  [[nodiscard]] absl::StatusOr<int> Detach();
  bool readable_open() const;
  bool writable_open() const;
  // kSocket: the socket while any direction is open, else -1.
  // kPipe: the read end if open, else the write end if open, else -1.
  int fd() const;

 private:
  // One descriptor number and who is using it. `state` is kClosedBit (set
  // once, by the Close that leaves the descriptor unused) plus the number
  // of I/O calls inside it; whoever sees it become exactly kClosedBit
  // (closed and empty) close()s the number, so that happens exactly once
  // and never under a call still using it. Detach() sets kReleasedBit with
  // kClosedBit: then nobody closes it, and the last call to leave wakes
  // Detach() instead.
  struct Descriptor {
    int fd = -1;
    std::atomic<uint32_t> state{0};  // written by Enter/Leave/MarkClosed
  };
  static constexpr uint32_t kClosedBit = uint32_t{1} << 31;
  static constexpr uint32_t kReleasedBit = uint32_t{1} << 30;
  static constexpr unsigned kReadBit = 1;
  static constexpr unsigned kWriteBit = 2;

  static unsigned Bit(Direction direction);
  // kSocket: 0 for both directions. kPipe: 0 reads, 1 writes.
  int IndexOf(Direction direction) const;
  bool IsOpen(Direction direction) const;

  [[nodiscard]] bool Enter(int index);
  void Leave(int index);
  [[nodiscard]] absl::Status MarkClosed(int index);
  [[nodiscard]] absl::Status Release(int index);
  [[nodiscard]] absl::Status CloseSocketSide(Direction direction,
                                             unsigned still_open);

  [[nodiscard]] absl::StatusOr<size_t> Transfer(Direction direction,
                                                bool blocking,
                                                absl::Span<char> in,
                                                absl::Span<const char> out);
  [[nodiscard]] absl::StatusOr<size_t> TransferInside(
      Direction direction, bool blocking, absl::Span<char> in,
      absl::Span<const char> out);
  ssize_t TryOnce(Direction direction, absl::Span<char> in,
                  absl::Span<const char> out);
  [[nodiscard]] absl::Status WaitReady(Direction direction);
  [[nodiscard]] absl::StatusOr<int> WakeFd(Direction direction);
  void Wake(Direction direction);
  void CloseWakeFd(int direction_index);

  const Kind kind_;
  SocketOps* const ops_;
  Descriptor descriptors_[2];  // kSocket uses [0] only
  // kReadBit | kWriteBit while open; cleared (once per bit) by Close.
  std::atomic<unsigned> open_;  // written by Close
  Mutex wake_mu_;
  // Per direction (0 read, 1 write): an eventfd that Close signals to wake
  // calls blocked in poll(); made on first need, closed with the
  // descriptor that direction uses.
  int wake_fds_[2] ABSL_GUARDED_BY(wake_mu_) = {-1, -1};
  // Signalled (under wake_mu_) by the last call to leave a detached
  // descriptor; Detach() waits on it.
  CondVar unused_{&wake_mu_};
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_FD_STREAM_H_
