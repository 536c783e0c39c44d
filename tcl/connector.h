// tcl/connector.h: the one tether::Connector of the process, for every
// interpreter and thread that loads the package (issue 19).
//
// One Connector per process, not per interpreter: its workers are a shared
// pool (created on demand, retired when idle), so a thousand interpreters
// cost no more threads than one. It is made on the first connect and
// destroyed by a Tcl exit handler (Tcl_Exit, Tcl_Finalize): that cancels
// every connect still pending and returns once the workers have exited.
// Interpreters never own it, so `interp delete` only closes that
// interpreter's channels, which cancels their own connects.
//
// Thread safety: every function here may be called from any thread.

#ifndef TETHER_TCL_CONNECTOR_H_
#define TETHER_TCL_CONNECTOR_H_

#include <memory>

#include "tether/connector.h"

namespace tether_tcl {

// The process's Connector, made on first use. Null while Tcl is finalizing
// (an exit handler is running). Holding the pointer keeps it alive.
std::shared_ptr<tether::Connector> SharedConnector();

// True from the start of the exit handler until the Connector it destroys
// is gone: completions then must not queue Tcl events (the notifiers are
// about to go).
bool Finalizing();

// The Connector's counters; all zero before the first connect.
tether::ConnectorStats SharedStats();

}  // namespace tether_tcl

#endif  // TETHER_TCL_CONNECTOR_H_
