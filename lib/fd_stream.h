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

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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
  bool readable_open() const;
  bool writable_open() const;
  // kSocket: the socket while any direction is open, else -1.
  // kPipe: the read end if open, else the write end if open, else -1.
  int fd() const;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_FD_STREAM_H_
