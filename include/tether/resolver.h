// tether/resolver.h: the name-resolution seam.
//
// A Connector asks its Resolver for the addresses of every host it connects
// to, numeric hosts included, and connects to exactly the addresses (and
// ports) the resolver returns. Replace it through
// `ConnectorOptions::resolver` to add a cache, a static table, or a fake for
// tests.
//
// Thread safety: implementations must be safe for concurrent calls from any
// number of threads. Calls happen on the Connector's worker threads, never
// inside Connector::Connect(). For Happy Eyeballs the connector may call
// Resolve(kIPv6) and Resolve(kIPv4) for one host at the same time.

#ifndef TETHER_INCLUDE_TETHER_RESOLVER_H_
#define TETHER_INCLUDE_TETHER_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tether/address.h"

namespace tether {

class Resolver {
 public:
  virtual ~Resolver() = default;

  // Returns the addresses of `host` in preference order, each carrying
  // `port`, restricted to `family`. On failure returns a non-OK status whose
  // message names `host`. May block; it is never called on a caller's thread.
  virtual absl::StatusOr<std::vector<SocketAddress>> Resolve(
      absl::string_view host, uint16_t port, Family family) = 0;

  // The getaddrinfo() resolver (AI_ADDRCONFIG, RFC 6724 order). Numeric hosts
  // are answered without any lookup. Shared and stateless; never null.
  static std::shared_ptr<Resolver> Default();
};

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_RESOLVER_H_
