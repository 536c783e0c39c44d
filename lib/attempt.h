// lib/attempt.h: one attempt of a connect, the last step of the connect
// path (lib/connect_request.h): one address, one descriptor.
//
//   socket() (non-blocking) -> options (tcp_nodelay, keepalive,
//   bind_interface) -> the control hook -> bind() (local_address /
//   local_port) -> connect(), then poll() until it is done or interrupted
//   -> back to blocking, getsockname(), getpeername() -> publish.
//
// A new socket option is set here (SetOptions), and nowhere else.
//
// The attempt blocks its thread (a worker), never the caller. A canceller
// interrupts it by shutdown() of the attached descriptor (ConnectState::
// Cancel()) or, for ~Connector, through the Registry's eventfd, which poll()
// watches beside the socket.

// Thread safety: RunAttempt() may run for several attempts of one socket at
// once (a race), each on its own thread; they meet only in ConnectState,
// which is thread-safe.

#ifndef TETHER_LIB_ATTEMPT_H_
#define TETHER_LIB_ATTEMPT_H_

#include <cstddef>

#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "tether/address.h"

namespace tether {
namespace internal {

// Runs attempt `attempt` of `state` (recorded already with StartAttempt():
// a race records it before the hand-off to a worker) at `address`, bounded
// by the attempt and whole-connect limits. On success publishes the
// connected socket, interrupts the other attempts of a race, and returns
// true; on failure records why (ConnectState::FinishAttempt()).
bool RunAttempt(const ConnectEnv& env, const ConnectRequest& request,
                ConnectState& state, const SocketAddress& address,
                size_t attempt);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_ATTEMPT_H_
