// lib/posix_error.h: the one place errno becomes an absl::Status.

#ifndef TETHER_LIB_POSIX_ERROR_H_
#define TETHER_LIB_POSIX_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tether {
namespace internal {

// A status with code absl::ErrnoToStatusCode(err) (kUnknown for 0) and the
// message
// "<context>: <strerror(err)>", carrying `err` so ErrnoOf() can recover it
// (Go's OpError{Op, Addr, Err}: put the operation and address in `context`).
absl::Status PosixError(absl::string_view context, int err);

// A status with code absl::ErrnoToStatusCode(err) and `message`, carrying
// `err` like PosixError().
absl::Status ErrnoStatus(int err, absl::string_view message);

// `status` (not OK), carrying `err` like PosixError(); its code unchanged.
absl::Status WithErrno(absl::Status status, int err);

// The errno a PosixError() status carries; 0 for any other status.
int ErrnoOf(const absl::Status& status);

// Drops the errno `status` carries, for a status users see (ToString()
// would show it as a payload): the errno goes to Socket::error_code().
void DropErrno(absl::Status& status);

// "ECONNREFUSED" for ECONNREFUSED; "E?" when unknown.
const char* ErrnoName(int err);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_POSIX_ERROR_H_
