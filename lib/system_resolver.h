// lib/system_resolver.h: the getaddrinfo() Resolver, over a SocketOps.

#ifndef TETHER_LIB_SYSTEM_RESOLVER_H_
#define TETHER_LIB_SYSTEM_RESOLVER_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "lib/socket_ops.h"
#include "tether/resolver.h"

namespace tether {
namespace internal {

// A Resolver that answers numeric hosts (also "[::1]") without a lookup and
// asks getaddrinfo() through `ops` for the rest, validating each answer's
// family and length. Thread-safe. `ops` must outlive it.
std::shared_ptr<Resolver> NewSystemResolver(SocketOps* ops);

// Whether `resolver` is a system resolver and `host` numeric, so that
// resolving cannot block (the connector then resolves inline).
bool ResolvesInstantly(const Resolver& resolver, absl::string_view host);

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_SYSTEM_RESOLVER_H_
