// tether/channel.h: a half-closable byte channel (Tcl TIP 332).
//
// A Channel carries bytes in two directions that close independently:
// Close(Direction::kWrite) tells the peer "no more data" (it reads
// end-of-stream) while the reply is still readable here. The close of the
// last open direction releases the descriptor (and, for a Pipeline, reaps
// the child).
//
// Thread safety: one thread may Read while another Writes, and Close (either
// form) may be called from any thread at any time, also while a Read or Write
// is blocked: the blocked call returns promptly with kCancelled
// ("channel closed"), and a descriptor number is never released while an I/O
// call is still using it. Two concurrent Reads (or two concurrent Writes) are
// safe but their bytes interleave unpredictably.

#ifndef TETHER_INCLUDE_TETHER_CHANNEL_H_
#define TETHER_INCLUDE_TETHER_CHANNEL_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tether {

// One direction of a Channel, for the half-close Close(Direction).
enum class Direction { kRead, kWrite };

class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  virtual ~Channel() = default;

  // Reads up to buffer.size() bytes. Returns the count read; 0 means end of
  // stream. In blocking mode (the default) waits for data; in non-blocking
  // mode returns kUnavailable when there is none. After Close(kRead):
  // kFailedPrecondition "channel wasn't opened for reading".
  [[nodiscard]] virtual absl::StatusOr<size_t> Read(
      absl::Span<char> buffer) = 0;

  // Writes up to data.size() bytes and returns the count written (possibly
  // short). Never raises SIGPIPE: a write to a peer that has gone returns an
  // error status. Non-blocking mode returns kUnavailable when nothing fits.
  // After Close(kWrite): kFailedPrecondition
  // "channel wasn't opened for writing".
  [[nodiscard]] virtual absl::StatusOr<size_t> Write(
      absl::Span<const char> data) = 0;

  // Selects blocking (the default) or non-blocking I/O for later calls.
  [[nodiscard]] virtual absl::Status SetBlocking(bool blocking) = 0;

  // Half-close: closes one direction. Returns kFailedPrecondition
  // ("channel wasn't opened for writing" / "reading") when that direction is
  // already closed or was never open. Closing the last open direction
  // releases the descriptor.
  [[nodiscard]] virtual absl::Status Close(Direction direction) = 0;

  // Closes whatever is still open; finishes the job on a half-closed
  // channel. When both directions close at once, both are attempted and the
  // read side's error is reported first. Calling it again returns OK.
  // Most callers should just use this.
  [[nodiscard]] virtual absl::Status Close() = 0;

  // True from creation until that direction is closed by a Close call.
  [[nodiscard]] virtual bool readable_open() const = 0;
  [[nodiscard]] virtual bool writable_open() const = 0;

  // Writes all of `data`, looping over short writes. REQUIRES: blocking
  // mode (in non-blocking mode it returns kUnavailable as soon as the
  // channel is full, without saying how much was written).
  [[nodiscard]] absl::Status WriteAll(absl::Span<const char> data);
  // WriteAll("text") writes the characters of a string literal without its
  // terminating NUL (a Span made from the array would include it). A
  // non-const char array is written whole.
  template <size_t N>
  [[nodiscard]] absl::Status WriteAll(const char (&literal)[N]) {
    return WriteAll(absl::Span<const char>(literal, N > 0 ? N - 1 : 0));
  }
  template <size_t N>
  [[nodiscard]] absl::Status WriteAll(char (&buffer)[N]) {
    return WriteAll(absl::Span<const char>(buffer, N));
  }

  // Reads until end of stream and returns everything read. REQUIRES:
  // blocking mode (in non-blocking mode it returns kUnavailable when no
  // data is ready, discarding what it read). Returns
  // kResourceExhausted once more than `max_bytes` arrive (the excess is not
  // kept), or the first Read error.
  [[nodiscard]] absl::StatusOr<std::string> ReadToEnd(size_t max_bytes);
};

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_CHANNEL_H_
