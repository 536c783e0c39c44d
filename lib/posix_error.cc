#include "lib/posix_error.h"

#include <string.h>

#include <cerrno>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace internal {
namespace {

constexpr absl::string_view kErrnoPayload = "tether/errno";

}  // namespace

absl::Status PosixError(absl::string_view context, int err) {
  char buf[128];
  // GNU strerror_r returns a pointer to the message (maybe not in buf).
  const char* text = strerror_r(err, buf, sizeof(buf));
  return ErrnoStatus(err, absl::StrCat(context, ": ", text));
}

absl::Status ErrnoStatus(int err, absl::string_view message) {
  // errno 0 is no error code at all (e.g. EAI_SYSTEM with errno unset): a
  // failure must never become an OK status.
  return WithErrno(absl::Status(err == 0 ? absl::StatusCode::kUnknown
                                         : absl::ErrnoToStatusCode(err),
                                message),
                   err);
}

absl::Status WithErrno(absl::Status status, int err) {
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  return status;
}

void DropErrno(absl::Status& status) { status.ErasePayload(kErrnoPayload); }

int ErrnoOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayload);
  int err = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &err)) {
    return 0;
  }
  return err;
}

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

}  // namespace internal
}  // namespace tether
