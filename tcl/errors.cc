// tcl/errors.cc: tether's absl::Status in Tcl's terms.

#include "tcl/errors.h"

#include <tcl.h>

#include <cerrno>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace tether_tcl {
namespace {

// The payload under which tether's failures carry their errno (tether's
// lib/posix_error.cc); read here, never written.
constexpr char kErrnoPayload[] = "tether/errno";

}  // namespace

int StatusErrno(const absl::Status& status) {
  auto payload = status.GetPayload(kErrnoPayload);
  int err = 0;
  if (payload.has_value() && absl::SimpleAtoi(std::string(*payload), &err) &&
      err != 0) {
    return err;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kUnavailable:
      return EAGAIN;
    case absl::StatusCode::kCancelled:
      return ECANCELED;
    case absl::StatusCode::kFailedPrecondition:
      return ENOTCONN;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kDeadlineExceeded:
      return ETIMEDOUT;
    default:
      return EIO;
  }
}

int DriverErrno(const tether::Socket& socket, const absl::Status& status) {
  if (!socket.connecting() && !socket.error().ok()) return ENOTCONN;
  return StatusErrno(status);
}

std::string ConnectErrorText(const tether::Socket& socket) {
  if (socket.error_code() != 0) return Tcl_ErrnoMsg(socket.error_code());
  const std::string message(socket.error().message());
  if (socket.error().code() == absl::StatusCode::kInvalidArgument) {
    return message;
  }
  const size_t colon = message.rfind(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

}  // namespace tether_tcl
