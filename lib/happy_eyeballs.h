// lib/happy_eyeballs.h: racing a host's addresses, RFC 8305 (Happy
// Eyeballs), a step of the connect path (lib/connect_request.h) between the
// connect task and the attempts.

#ifndef TETHER_LIB_HAPPY_EYEBALLS_H_
#define TETHER_LIB_HAPPY_EYEBALLS_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "tether/address.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

// A race's state shared by its two resolutions (on the resolver pool) and
// its coordinator (on a worker).
struct RaceShared;
std::shared_ptr<RaceShared> NewRace();

// What an answer means for the coordinator: whether this answer is the one
// that hands it to a worker (the first answer with usable addresses, or
// the second answer), and the address whose destination line it waits in
// (none when nothing is usable).
struct RaceDispatch {
  bool now = false;
  std::optional<SocketAddress> first;
};

// Records one family's answer (on the resolver thread that got it) and
// wakes the coordinator.
RaceDispatch RecordAnswer(RaceShared& race, const ConnectRequest& request,
                          bool ipv6,
                          absl::StatusOr<std::vector<SocketAddress>> answer);

// The coordinator, on the connect's worker: takes the answers as they come
// (an IPv4 answer first waits up to the 50 ms Resolution Delay for IPv6),
// then races the addresses until one connects, all fail, or the socket is
// done (cancelled, past its deadline). Publishes the outcome. Attempts run
// on other workers when idle ones exist, else on this one.
void RunRace(const ConnectEnv& env,
             const std::shared_ptr<const ConnectRequest>& request,
             const std::shared_ptr<Socket>& socket, ConnectState& state,
             const std::shared_ptr<RaceShared>& race);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_HAPPY_EYEBALLS_H_
