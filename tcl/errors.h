// tcl/errors.h: tether's absl::Status as Tcl wants it: an errno for the
// channel driver, a message in Tcl's words for -error and `socket`.

#ifndef TETHER_TCL_ERRORS_H_
#define TETHER_TCL_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "tether/socket.h"

namespace tether_tcl {

// The errno a channel driver proc reports for `status`, returned by an I/O
// or close call on `socket`. A connect that failed gives ENOTCONN, as Tcl's
// own driver does ("socket is not connected"); "would block" gives EAGAIN.
int DriverErrno(const tether::Socket& socket, const absl::Status& status);

// The errno carried by `status` (tether attaches it to every failure that
// has one), else one chosen from its code.
int StatusErrno(const absl::Status& status);

// The text Tcl gives for a failed connect: Tcl_ErrnoMsg() of its errno
// ("connection refused"), else the resolver's words ("Name or service not
// known") without tether's "resolve \"host\": " prefix. REQUIRES: the
// connect is complete and failed.
std::string ConnectErrorText(const tether::Socket& socket);

}  // namespace tether_tcl

#endif  // TETHER_TCL_ERRORS_H_
