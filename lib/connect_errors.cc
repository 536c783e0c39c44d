#include "lib/connect_errors.h"

#include <string.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/posix_error.h"

namespace tether {
namespace internal {
namespace {

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r returns a pointer to the message (maybe not in buf).
  return strerror_r(err, buf, sizeof(buf));
}

}  // namespace

std::string Quote(absl::string_view value) {
  return absl::StrCat("\"", absl::CEscape(value.substr(0, 64)),
                      value.size() > 64 ? "...\"" : "\"");
}

std::string TargetName(absl::string_view host, const SocketAddress* address) {
  return address != nullptr ? address->ToString() : Quote(host);
}

absl::Status ConnectError(absl::string_view target, int err,
                          absl::string_view cause) {
  return ErrnoStatus(err, absl::StrCat("connect ", target, ": ",
                                       cause.empty() ? ErrnoText(err) : cause));
}

absl::Status CancelledError(absl::string_view target, absl::string_view why) {
  return ConnectError(target, ECANCELED, absl::StrCat("cancelled ", why));
}

absl::Status ShuttingDownError(absl::string_view target) {
  return CancelledError(target, "(connector is shutting down)");
}

absl::Status DeadlineError(absl::string_view target) {
  return ConnectError(target, ETIMEDOUT, "timed out");
}

absl::Status ResourceError(absl::string_view target, absl::string_view cause) {
  return absl::ResourceExhaustedError(
      absl::StrCat("connect ", target, ": ", cause));
}

absl::Status ResolverDeadlineError(absl::string_view target) {
  return ConnectError(target, ETIMEDOUT, "timed out waiting for the resolver");
}

absl::Status WorkerDeadlineError(absl::string_view target, int busy, int max,
                                 bool in_line) {
  return ConnectError(
      target, ETIMEDOUT,
      absl::StrCat("timed out waiting for a worker (", busy, " of ", max,
                   in_line ? " busy with this destination)" : " busy)"));
}

absl::Status AttemptError(int err, absl::string_view step) {
  return ErrnoStatus(err, step.empty()
                              ? ErrnoText(err)
                              : absl::StrCat(step, ": ", ErrnoText(err)));
}

absl::Status ControlError(const absl::Status& status) {
  const int err = ErrnoOf(status);
  return WithErrno(
      absl::Status(status.code(), absl::StrCat("control: ", status.message())),
      err != 0 ? err : ECONNABORTED);
}

absl::Status AllAttemptsFailed(absl::string_view target,
                               const std::vector<FailedAttempt>& attempts) {
  // Callers publish this only after an attempt; never index an empty list.
  if (attempts.empty()) return ConnectError(target, ECONNREFUSED);
  const absl::Status& first = attempts.front().cause;
  std::string message = absl::StrCat("connect ", target, ": ");
  if (attempts.size() == 1 && attempts.front().address.ToString() == target) {
    absl::StrAppend(&message, first.message());
  } else {
    for (size_t i = 0; i < attempts.size(); ++i) {
      absl::StrAppend(&message, i == 0 ? "" : "; ",
                      attempts[i].address.ToString(), ": ",
                      attempts[i].cause.message());
    }
  }
  return WithErrno(absl::Status(first.code(), message), ErrnoOf(first));
}

}  // namespace internal
}  // namespace tether
