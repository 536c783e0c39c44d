// lib/system_resolver.h: the getaddrinfo() Resolver, over a SocketOps.

#ifndef TETHER_LIB_SYSTEM_RESOLVER_H_
#define TETHER_LIB_SYSTEM_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/strings/string_view.h"
#include "lib/socket_ops.h"
#include "tether/resolver.h"

namespace tether {
namespace internal {

// A Resolver that answers numeric hosts (also "[::1]") without a lookup and
// asks getaddrinfo() through `ops` for the rest, validating each answer's
// family and length. Thread-safe. `ops` must outlive it.
std::shared_ptr<Resolver> NewSystemResolver(SocketOps* ops);

// `host` as an address when it is numeric ("127.0.0.1", "::1", "[::1]"),
// as the system resolver would answer it without a lookup.
std::optional<SocketAddress> ParseNumericHost(absl::string_view host,
                                              uint16_t port);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_SYSTEM_RESOLVER_H_
