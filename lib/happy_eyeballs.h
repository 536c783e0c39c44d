// lib/happy_eyeballs.h: racing a host's addresses, RFC 8305 (Happy
// Eyeballs), a step of the connect path (lib/connect_request.h) between the
// connect task and the attempts.

#ifndef TETHER_LIB_HAPPY_EYEBALLS_H_
#define TETHER_LIB_HAPPY_EYEBALLS_H_

#include <memory>

#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

// Resolves the request's host for IPv6 and IPv4 concurrently, then races
// the addresses until one connects, all fail, or the socket is done
// (cancelled, past its deadline). Publishes the outcome. Runs on the
// connect's worker (the coordinator); attempts and resolutions run on other
// workers when idle ones exist, else on this one.
void ResolveAndRace(const ConnectEnv& env,
                    const std::shared_ptr<const ConnectRequest>& request,
                    const std::shared_ptr<Socket>& socket, ConnectState& state);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_HAPPY_EYEBALLS_H_
