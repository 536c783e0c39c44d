// tcl/channel.h: a Tcl channel backed by a tether::Socket (issue 19).
//
// OpenClientChannel() starts a connect on the process's Connector
// (tcl/connector.h) and wraps the Socket in a Tcl_Channel of type "tether":
// inputProc/outputProc are Socket::Read/Write, close2Proc is the half-close
// (Tcl_CloseEx, TIP 332), getOptionProc answers -connecting, -error,
// -sockname and -peername from the Socket's lock-free state (TIP 427).
//
// How events reach the channel's thread: the connect's on_complete runs on a
// tether thread and never touches Tcl's interpreter or the channel. It queues
// one Tcl_Event (Tcl_ThreadQueueEvent + Tcl_ThreadAlert) to the thread that
// owns the channel, naming the channel by a number, not by a pointer. That
// thread looks the number up in its own table of open tether channels (a
// closed channel is no longer there, so a late event is dropped) and arms
// the readiness sources for what the channel watches: a Tcl file handler on
// the connected descriptor, or, for a failed connect, a 0 ms timer that
// reports it readable and writable for as long as it is watched (as a
// failed socket's descriptor is, level-triggered, in Tcl's own driver).
//
// Thread safety: a channel is used only by the thread that owns it (Tcl's
// rule). The only state shared with tether's threads is Link (below), under
// its mutex. A channel moved to another thread (thread::transfer) updates
// Link::thread in its threadActionProc.

#ifndef TETHER_TCL_CHANNEL_H_
#define TETHER_TCL_CHANNEL_H_

#include <tcl.h>

#include <string>

#include "tether/address.h"

namespace tether_tcl {

// A client socket request, with every argument already checked.
struct ClientRequest {
  std::string host;
  int port = 0;               // 1..65535
  std::string local_address;  // numeric, or "" for any (Tcl -myaddr)
  int local_port = 0;         // 0..65535 (Tcl -myport)
  tether::Family family = tether::Family::kAny;  // that of local_address
  bool async = false;                            // Tcl -async
};

// Starts the connect and returns a new channel, not yet registered in any
// interpreter. Without `async` it waits for the connect (on a worker thread;
// this thread only blocks) and, when the connect fails, returns null with
// "couldn't open socket: ..." and errorCode in `interp`. With `async` it
// returns at once, before name resolution; only bad arguments fail it.
Tcl_Channel OpenClientChannel(Tcl_Interp* interp, const ClientRequest& request);

}  // namespace tether_tcl

#endif  // TETHER_TCL_CHANNEL_H_
