// lib/fd_stream.cc: half-closable I/O on a socket or a pair of pipes.
//
// How this works
//
// Descriptors. A kSocket stream has one descriptor (descriptors_[0]) that
// serves both directions; a kPipe stream has one per direction ([0] reads,
// [1] writes; -1 when never open). Every descriptor is used non-blocking:
// sockets through recv/send with MSG_DONTWAIT (send adds MSG_NOSIGNAL),
// pipes through read/write on O_NONBLOCK ends. "Blocking" mode is a loop:
// try the call; on EAGAIN poll() the descriptor together with the
// direction's wake-up eventfd; retry. Every system call on the descriptors
// and the eventfds goes through ops_ (the seam); only the signal-mask
// bookkeeping of WriteToPipe calls the OS directly.
//
// Open directions. open_ holds kReadBit | kWriteBit. Close(d) clears d's bit
// with one atomic RMW, so exactly one caller closes each direction, and a
// second close sees the bit gone ("channel wasn't opened for ..."). On a
// socket, a Close that leaves the other direction open is shutdown(); the
// Close that leaves nothing open releases the descriptor with close() (Tcl's
// TcpClose2Proc / TcpCloseProc split; a shutdown() there could only add a
// spurious ENOTCONN once the connection is gone). On pipes each direction
// releases its own descriptor.
//
// Waking blocked calls. Close(d) clears the bit, then signals d's eventfd
// (if one was made) under wake_mu_. A waiter makes the eventfd under the
// same mutex and re-checks the bit there, so either it sees the close or the
// close sees (and signals) its eventfd: no lost wake-up. The eventfd is
// never drained: a direction never reopens. The woken call sees the bit
// gone and returns kCancelled ("channel closed"). So does a call that fails
// or sees end of stream while its direction is being closed (the shutdown()
// can reach the kernel before the call sees the bit).
//
// No fd-reuse race. Each descriptor has a state word: kClosedBit plus the
// number of calls inside it. An I/O call (or a shutdown()) enters with a
// CAS that fails once kClosedBit is set, so nothing enters after the close.
// The close that leaves a descriptor unused sets kClosedBit; if no call is
// inside it closes the number at once, otherwise the last call to leave
// does (Release). The state word reaches "closed and empty" once, so the
// number, and the eventfds that belong to it, are closed exactly once and
// never while a call may still use them. close() is never retried: on Linux
// the number is gone even when it fails with EINTR.
//
// Handing the number over (Detach, for Socket::Release). It closes both
// directions like Close() (so blocked calls wake and return kCancelled, and
// later ones fail), then sets kReleasedBit with kClosedBit: the number is
// never shut down or closed here. Instead Detach waits, on a condition
// variable signalled by the last call to leave, until no call is inside the
// number, and only then returns it: the new owner may close it at once
// without a tether call still using it.
//
// SIGPIPE. Sockets use MSG_NOSIGNAL. A write() to a pipe whose reader has
// gone raises SIGPIPE at the writing thread, so WriteToPipe blocks SIGPIPE in
// that thread around the write and, on EPIPE, consumes the signal with
// sigtimedwait() before restoring the mask (unless one was already pending
// before, which then stays pending as it was).

#include "lib/fd_stream.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/posix_error.h"

namespace tether {
namespace internal {
namespace {

absl::Status NotOpen(Direction direction) {
  return absl::FailedPreconditionError(
      direction == Direction::kRead ? "channel wasn't opened for reading"
                                    : "channel wasn't opened for writing");
}

// write() to a pipe that never raises SIGPIPE in the process: SIGPIPE is
// blocked in this thread for the call and a SIGPIPE that the call raised is
// consumed before the old mask returns. Returns write()'s result and errno.
ssize_t WriteToPipe(SocketOps* ops, int fd, absl::Span<const char> data) {
  sigset_t sigpipe, pending, old_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  const ssize_t n = ops->Write(fd, data.data(), data.size());
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    const timespec zero = {0, 0};
    while (sigtimedwait(&sigpipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = err;
  return n;
}

}  // namespace

FdStream::FdStream(Kind kind, int read_fd, int write_fd, SocketOps* ops)
    : kind_(kind), ops_(ops) {
  if (kind == Kind::kSocket) write_fd = read_fd;
  const int fds[2] = {read_fd, kind == Kind::kSocket ? -1 : write_fd};
  for (int i = 0; i < 2; ++i) {
    descriptors_[i].fd = fds[i];
    // relaxed: construction; the object is published to other threads by
    // whatever shares it.
    descriptors_[i].state.store(fds[i] < 0 ? kClosedBit : 0,
                                std::memory_order_relaxed);
  }
  const unsigned open =
      (read_fd >= 0 ? kReadBit : 0) | (write_fd >= 0 ? kWriteBit : 0);
  open_.store(open, std::memory_order_relaxed);  // relaxed: as above
}

FdStream::~FdStream() {
  Close().IgnoreError();
  // Both descriptors are released by now (no call is in progress), and with
  // them their eventfds; this is only a safety net.
  CloseWakeFd(0);
  CloseWakeFd(1);
}

unsigned FdStream::Bit(Direction direction) {
  return direction == Direction::kRead ? kReadBit : kWriteBit;
}

int FdStream::IndexOf(Direction direction) const {
  return kind_ == Kind::kSocket || direction == Direction::kRead ? 0 : 1;
}

bool FdStream::IsOpen(Direction direction) const {
  // acquire: pairs with the acq_rel RMW in Close(), so a caller that sees
  // the direction closed also sees what the closer did before closing.
  return (open_.load(std::memory_order_acquire) & Bit(direction)) != 0;
}

bool FdStream::readable_open() const { return IsOpen(Direction::kRead); }

bool FdStream::writable_open() const { return IsOpen(Direction::kWrite); }

int FdStream::fd() const {
  // acquire: as in IsOpen().
  const unsigned open = open_.load(std::memory_order_acquire);
  if (kind_ == Kind::kSocket) return open != 0 ? descriptors_[0].fd : -1;
  if ((open & kReadBit) != 0) return descriptors_[0].fd;
  return (open & kWriteBit) != 0 ? descriptors_[1].fd : -1;
}

// ---------------------------------------------------------------------------
// The descriptor state word.

bool FdStream::Enter(int index) {
  std::atomic<uint32_t>& state = descriptors_[index].state;
  // relaxed: only the first guess for the CAS, which re-reads on failure.
  uint32_t s = state.load(std::memory_order_relaxed);
  do {
    if ((s & kClosedBit) != 0) return false;
    // acquire on success: keeps our syscalls on the number after the
    // increment that makes the closer wait for us. relaxed on failure: we
    // only retry.
  } while (!state.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                        std::memory_order_relaxed));
  return true;
}

void FdStream::Leave(int index) {
  // acq_rel: release makes our syscalls happen-before the close() done by
  // whoever releases the number; acquire (when we are that one) pairs with
  // the release of MarkClosed() and of the other leavers.
  const uint32_t before =
      descriptors_[index].state.fetch_sub(1, std::memory_order_acq_rel);
  if (before == (kClosedBit | 1)) Release(index).IgnoreError();
  if (before == (kClosedBit | kReleasedBit | 1)) {
    MutexLock lock(&wake_mu_);  // Detach() checks the count under it
    unused_.SignalAll();
  }
}

absl::Status FdStream::MarkClosed(int index) {
  // acq_rel: acquire pairs with the release in Leave(), so every call that
  // already left happens-before our close(); release pairs with the acquire
  // of the last leaver when calls are still inside.
  const uint32_t before =
      descriptors_[index].state.fetch_or(kClosedBit, std::memory_order_acq_rel);
  if (before != 0) return absl::OkStatus();  // the last leaver releases it
  return Release(index);
}

absl::Status FdStream::Release(int index) {
  const int fd = descriptors_[index].fd;
  const int rc = ops_->Close(fd);  // never retried: see the top comment
  const int err = errno;
  if (kind_ == Kind::kSocket) CloseWakeFd(1);
  CloseWakeFd(index);
  if (rc == 0 || err == EINTR) return absl::OkStatus();
  return PosixError("close", err);
}

// ---------------------------------------------------------------------------
// Closing.

absl::Status FdStream::Close(Direction direction) {
  const unsigned bit = Bit(direction);
  // acq_rel: the RMW order alone decides who closes each direction; release
  // pairs with the acquire in IsOpen(), acquire orders us after an earlier
  // Close of the other direction (its shutdown() before our close()).
  const unsigned before = open_.fetch_and(~bit, std::memory_order_acq_rel);
  if ((before & bit) == 0) return NotOpen(direction);
  Wake(direction);
  if (kind_ == Kind::kPipe) return MarkClosed(IndexOf(direction));
  return CloseSocketSide(direction, before & ~bit);
}

absl::Status FdStream::Close() {
  // acq_rel: as in Close(Direction).
  const unsigned before = open_.exchange(0, std::memory_order_acq_rel);
  if ((before & kReadBit) != 0) Wake(Direction::kRead);
  if ((before & kWriteBit) != 0) Wake(Direction::kWrite);
  if (before == 0) return absl::OkStatus();
  if (kind_ == Kind::kSocket) return MarkClosed(0);
  // Both attempted; the read side's error wins (Tcl TcpClose2Proc).
  absl::Status read =
      (before & kReadBit) != 0 ? MarkClosed(0) : absl::OkStatus();
  absl::Status write =
      (before & kWriteBit) != 0 ? MarkClosed(1) : absl::OkStatus();
  return read.ok() ? write : read;
}

absl::StatusOr<int> FdStream::Detach() {
  if (kind_ != Kind::kSocket) {
    return absl::FailedPreconditionError("only a socket can be released");
  }
  // acq_rel: as in Close(); whoever clears the last bits owns the number.
  const unsigned before = open_.exchange(0, std::memory_order_acq_rel);
  if (before == 0) return absl::FailedPreconditionError("socket is closed");
  if ((before & kReadBit) != 0) Wake(Direction::kRead);
  if ((before & kWriteBit) != 0) Wake(Direction::kWrite);
  std::atomic<uint32_t>& state = descriptors_[0].state;
  // acq_rel: as in MarkClosed(). No Close set kClosedBit before (it does
  // only with the last open bit, which we cleared).
  state.fetch_or(kClosedBit | kReleasedBit, std::memory_order_acq_rel);
  {
    MutexLock lock(&wake_mu_);
    // acquire: pairs with Leave()'s release, so every call's use of the
    // number happens-before the caller's.
    while ((state.load(std::memory_order_acquire) &
            ~(kClosedBit | kReleasedBit)) != 0) {
      unused_.Wait();
    }
  }
  CloseWakeFd(0);
  CloseWakeFd(1);
  return descriptors_[0].fd;
}

absl::Status FdStream::CloseSocketSide(Direction direction,
                                       unsigned still_open) {
  if (still_open == 0) return MarkClosed(0);
  // A concurrent Close of the other direction may release the number
  // meanwhile: then there is nothing left to shut down.
  if (!Enter(0)) return absl::OkStatus();
  const int rc = ops_->Shutdown(
      descriptors_[0].fd, direction == Direction::kRead ? SHUT_RD : SHUT_WR);
  const int err = errno;
  Leave(0);
  return rc == 0 ? absl::OkStatus() : PosixError("shutdown", err);
}

// ---------------------------------------------------------------------------
// Wake-up eventfds.

absl::StatusOr<int> FdStream::WakeFd(Direction direction) {
  const int i = direction == Direction::kRead ? 0 : 1;
  MutexLock lock(&wake_mu_);
  // Checked under wake_mu_: Close clears the bit before taking wake_mu_ to
  // signal, so either we see the bit gone or Close sees our eventfd.
  if (!IsOpen(direction)) return absl::CancelledError("channel closed");
  if (wake_fds_[i] < 0) {
    wake_fds_[i] = ops_->EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fds_[i] < 0) return PosixError("eventfd", errno);
  }
  return wake_fds_[i];
}

void FdStream::Wake(Direction direction) {
  const int i = direction == Direction::kRead ? 0 : 1;
  MutexLock lock(&wake_mu_);
  if (wake_fds_[i] < 0) return;  // nobody has waited yet
  const uint64_t one = 1;
  // Cannot block (EFD_NONBLOCK) and cannot overflow after one signal.
  while (ops_->Write(wake_fds_[i], &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void FdStream::CloseWakeFd(int direction_index) {
  MutexLock lock(&wake_mu_);
  if (wake_fds_[direction_index] < 0) return;
  // never retried: see the top comment
  ops_->Close(wake_fds_[direction_index]);
  wake_fds_[direction_index] = -1;
}

// ---------------------------------------------------------------------------
// I/O.

absl::StatusOr<size_t> FdStream::Read(absl::Span<char> buffer, bool blocking) {
  return Transfer(Direction::kRead, blocking, buffer, {});
}

absl::StatusOr<size_t> FdStream::Write(absl::Span<const char> data,
                                       bool blocking) {
  return Transfer(Direction::kWrite, blocking, {}, data);
}

absl::StatusOr<size_t> FdStream::Transfer(Direction direction, bool blocking,
                                          absl::Span<char> in,
                                          absl::Span<const char> out) {
  const int index = IndexOf(direction);
  if (!IsOpen(direction) || !Enter(index)) return NotOpen(direction);
  absl::StatusOr<size_t> result = TransferInside(direction, blocking, in, out);
  Leave(index);
  return result;
}

// REQUIRES: inside the direction's descriptor (Enter succeeded).
absl::StatusOr<size_t> FdStream::TransferInside(Direction direction,
                                                bool blocking,
                                                absl::Span<char> in,
                                                absl::Span<const char> out) {
  const char* op = direction == Direction::kRead ? "read" : "write";
  while (true) {
    if (!IsOpen(direction)) return absl::CancelledError("channel closed");
    const ssize_t n = TryOnce(direction, in, out);
    const int err = errno;
    // A Close during the call may show as end of stream or EPIPE (after
    // its shutdown()); report it as the close it is.
    if (n <= 0 && !IsOpen(direction)) {
      return absl::CancelledError("channel closed");
    }
    if (n >= 0) return static_cast<size_t>(n);
    if (err == EINTR) continue;
    if ((err != EAGAIN && err != EWOULDBLOCK) || !blocking) {
      return PosixError(op, err);
    }
    absl::Status ready = WaitReady(direction);
    if (!ready.ok()) return ready;
  }
}

ssize_t FdStream::TryOnce(Direction direction, absl::Span<char> in,
                          absl::Span<const char> out) {
  const int fd = descriptors_[IndexOf(direction)].fd;
  if (kind_ == Kind::kSocket) {
    if (direction == Direction::kRead) {
      return ops_->Recv(fd, in.data(), in.size(), MSG_DONTWAIT);
    }
    return ops_->Send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (direction == Direction::kRead)
    return ops_->Read(fd, in.data(), in.size());
  return WriteToPipe(ops_, fd, out);
}

// Waits until the descriptor is ready for `direction` or the direction is
// closed. REQUIRES: inside the direction's descriptor.
absl::Status FdStream::WaitReady(Direction direction) {
  absl::StatusOr<int> wake = WakeFd(direction);
  if (!wake.ok()) return wake.status();
  pollfd fds[2] = {};
  fds[0].fd = descriptors_[IndexOf(direction)].fd;
  fds[0].events = direction == Direction::kRead ? POLLIN : POLLOUT;
  fds[1].fd = *wake;
  fds[1].events = POLLIN;
  int rc;
  while ((rc = ops_->Poll(fds, 2, -1)) < 0 && errno == EINTR) {
  }
  return rc < 0 ? PosixError("poll", errno) : absl::OkStatus();
}

}  // namespace internal
}  // namespace tether
