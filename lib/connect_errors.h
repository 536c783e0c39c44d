// lib/connect_errors.h: every message a connect reports, built here, in one
// shape (Go's OpError): the operation, the target once, then the cause.
//
//   connect 127.0.0.1:22: connection refused
//   connect [::1]:22: timed out
//   connect /run/app.sock: no such file or directory
//   connect "db.internal": [::1]:5432: connection refused; 10.0.0.7:5432: timed
//   out connect "db.internal": cancelled by Close() resolve "db.internal": Name
//   or service not known   (the resolver's own)
//
// The target is the address when it is known without resolving (a numeric
// host, Connect(SocketAddress)), else the host quoted. The errno goes to
// Socket::error_code(), never into the text; a cause from the control hook
// keeps that status's code.

// Thread safety: pure functions, callable from any thread.

#ifndef TETHER_LIB_CONNECT_ERRORS_H_
#define TETHER_LIB_CONNECT_ERRORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tether/address.h"

namespace tether {
namespace internal {

// `value` quoted and C-escaped, cut to 64 bytes: safe to put in a message.
std::string Quote(absl::string_view value);

// A connect's target as messages name it: "127.0.0.1:22", "[::1]:22",
// "/run/app.sock" (the address, when known), or "\"db.internal\"".
std::string TargetName(absl::string_view host, const SocketAddress* address);

// "connect <target>: <cause>", carrying `err` (errno) for error_code();
// `cause` defaults to strerror(err).
absl::Status ConnectError(absl::string_view target, int err,
                          absl::string_view cause = {});

// kCancelled (ECANCELED): "connect <target>: cancelled <why>".
absl::Status CancelledError(absl::string_view target, absl::string_view why);

// kCancelled (ECANCELED): "connect <target>: cancelled (connector is
// shutting down)", for a connect started or handed on during ~Connector.
absl::Status ShuttingDownError(absl::string_view target);

// kDeadlineExceeded (ETIMEDOUT): "connect <target>: timed out".
absl::Status DeadlineError(absl::string_view target);

// kResourceExhausted, with no errno (rule 2 maps EAGAIN to kUnavailable):
// "connect <target>: <cause>", e.g. no resolver thread could start.
absl::Status ResourceError(absl::string_view target, absl::string_view cause);

// The same for a deadline that passed while the connect was still waiting
// (issue 14): "connect <target>: timed out waiting for the resolver".
absl::Status ResolverDeadlineError(absl::string_view target);
// "connect <target>: timed out waiting for a worker (<busy> of <max>
// busy)", or, waiting in its destination's line, "... (<cap> of <cap> busy
// with this destination)".
absl::Status WorkerDeadlineError(absl::string_view target, int busy, int max,
                                 bool in_line);

// Why one attempt failed, without the target (the caller adds it): the
// errno's text, or "<step>: <errno's text>" when a step other than
// connect() failed (e.g. `bind_interface "eth9"`).
absl::Status AttemptError(int err, absl::string_view step = {});

// The control hook's failure: its status's code and message, prefixed with
// "control: ", carrying ECONNABORTED for error_code() unless it carries an
// errno already.
absl::Status ControlError(const absl::Status& status);

// A connect whose every attempt failed: the first attempt's code and errno;
// the message is "connect <target>: <cause>" when the one attempt was the
// target itself, else "connect <target>: " and each address with its cause.
struct FailedAttempt {
  SocketAddress address;
  absl::Status cause;  // AttemptError() or ControlError()
};
absl::Status AllAttemptsFailed(absl::string_view target,
                               const std::vector<FailedAttempt>& attempts);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_ERRORS_H_
