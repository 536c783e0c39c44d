// lib/connect_request.h: one Connect()'s request, validated once, and the
// rules every step of the connect applies to it.
//
// The connect path runs one way (docs/design.md, "The connect path"):
//
//   ConnectorImpl (lib/connector.cc): validates (MakeRequest), registers,
//       queues or runs inline
//     -> ConnectTask (lib/connect_task.h): resolves; one address at a time
//     -> Happy Eyeballs (lib/happy_eyeballs.h): resolves both families,
//        races the addresses
//     -> one attempt (lib/attempt.h): socket, options, control, bind,
//        connect, names
//
// Each step includes only the headers of the steps after it; this one and
// lib/connect_errors.h (every message) are shared by all.

#ifndef TETHER_LIB_CONNECT_REQUEST_H_
#define TETHER_LIB_CONNECT_REQUEST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/address.h"
#include "tether/connector.h"
#include "tether/resolver.h"

namespace tether {
namespace internal {

class ConnectState;
struct Counters;
class DestinationLines;
class Registry;
class ResolverPool;
class SocketOps;
class Timer;
class WorkerPool;

// One connect's arguments, as the steps use them. Immutable once made (so
// safe to read from any thread);
// shared (std::shared_ptr<const ConnectRequest>) by the task and the
// attempts of a race.
struct ConnectRequest {
  // User-provided, so make_shared<ConnectRequest>() does not zero-fill all
  // 600 bytes before the members' own initializers run.
  ConnectRequest() {}

  std::string host;  // as given; "" for Connect(SocketAddress)
  uint16_t port = 0;
  // Known without resolving (a numeric host with the default resolver, or
  // Connect(SocketAddress)): the one address tried.
  std::optional<SocketAddress> address;
  // How messages name the target (connect_errors.h, TargetName()).
  std::string target;
  // The caller's options, with on_complete and completion_queue moved out
  // (the Socket's ConnectState owns them).
  ConnectOptions options;
  // The earlier of options.deadline and Connect()'s time + options.timeout.
  absl::Time deadline = absl::InfiniteFuture();
  // options.local_address parsed, with options.local_port.
  std::optional<SocketAddress> local;

  // Whether the addresses are raced (RFC 8305) rather than tried in turn.
  bool races() const {
    return options.family == Family::kAny &&
           options.happy_eyeballs_delay > absl::ZeroDuration();
  }
};

// What Connect() was asked: a host and port, or an address.
struct Destination {
  absl::string_view host;
  int port = 0;
  const SocketAddress* address = nullptr;  // Connect(SocketAddress)
};

// Validates `destination` and `options` (on_complete and completion_queue
// already moved out) and makes the request (in place: it is 600 bytes, and
// made for every connect). kInvalidArgument naming the bad
// value for bad input. `numeric_skips_resolver`: whether a numeric host is
// connected to without asking the resolver (the default resolver would
// only echo it).
absl::StatusOr<std::shared_ptr<const ConnectRequest>> MakeRequest(
    const Destination& destination, ConnectOptions&& options,
    bool numeric_skips_resolver);

// What a connect's steps need from its Connector. The pointers are valid on
// a worker and on the thread of a Connector call; a resolver thread, which
// may outlive the Connector, uses them only while it holds a reference
// locked from `owner` (the ConnectorImpl).
struct ConnectEnv {
  WorkerPool* pool;
  Timer* timer;
  Resolver* resolver;
  SocketOps* ops;
  Counters* counters;
  Registry* registry;
  ResolverPool* resolvers;
  DestinationLines* lines;
  std::shared_ptr<Resolver> resolver_ref;  // `resolver`, for resolver threads
  std::weak_ptr<void> owner;               // the ConnectorImpl
  int max_workers;                         // for messages
};

// True when the socket is done; publishes the deadline's failure first when
// the deadline has passed (the timer may be late: issue 12, item 6).
bool PublishIfPastDeadline(const ConnectRequest& request, ConnectState& state);

// The addresses bind() can use with the request's local address (all of
// them without one). kInvalidArgument when none is left.
absl::StatusOr<std::vector<SocketAddress>> UsableAddresses(
    const ConnectRequest& request, std::vector<SocketAddress> addresses);

// Publishes the failure of a connect whose every attempt failed
// (connect_errors.h, AllAttemptsFailed()), unless the deadline passed: then
// that is the error, whoever publishes it.
void PublishFailed(const ConnectRequest& request, ConnectState& state);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_REQUEST_H_
