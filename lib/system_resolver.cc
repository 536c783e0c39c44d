#include "lib/system_resolver.h"

#include <netdb.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/connect_errors.h"
#include "lib/posix_error.h"

namespace tether {
namespace internal {
namespace {

// "[::1]" -> "::1"; anything else unchanged.
absl::string_view StripBrackets(absl::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// Whether `af` is an IP family `family` allows (getaddrinfo() may answer
// anything, even AF_UNIX).
bool FamilyMatches(int af, Family family) {
  return (af == AF_INET && family != Family::kIPv6) ||
         (af == AF_INET6 && family != Family::kIPv4);
}

int ToAf(Family family) {
  switch (family) {
    case Family::kIPv4:
      return AF_INET;
    case Family::kIPv6:
      return AF_INET6;
    case Family::kAny:
      break;
  }
  return AF_UNSPEC;
}

// Converts a getaddrinfo() failure; `err` is errno at the time of the call.
absl::Status GaiError(absl::string_view host, int code, int err) {
  std::string context = absl::StrCat("resolve ", Quote(host));
  switch (code) {
    case EAI_SYSTEM:
      return PosixError(context, err);
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
      return absl::NotFoundError(
          absl::StrCat(context, ": ", gai_strerror(code)));
    case EAI_AGAIN:
    case EAI_FAIL:
      return absl::UnavailableError(
          absl::StrCat(context, ": ", gai_strerror(code)));
    case EAI_MEMORY:
      return absl::ResourceExhaustedError(
          absl::StrCat(context, ": ", gai_strerror(code)));
    default:
      return absl::UnknownError(
          absl::StrCat(context, ": ", gai_strerror(code)));
  }
}

class SystemResolver final : public Resolver {
 public:
  explicit SystemResolver(SocketOps* ops) : ops_(ops) {}

  absl::StatusOr<std::vector<SocketAddress>> Resolve(absl::string_view host,
                                                     uint16_t port,
                                                     Family family) override {
    if (std::optional<SocketAddress> numeric = ParseNumericHost(host, port)) {
      if (!FamilyMatches(numeric->family(), family)) {
        return std::vector<SocketAddress>{};
      }
      return std::vector<SocketAddress>{*numeric};
    }
    return Lookup(host, port, family);
  }

 private:
  absl::StatusOr<std::vector<SocketAddress>> Lookup(absl::string_view host,
                                                    uint16_t port,
                                                    Family family) {
    addrinfo hints = {};
    hints.ai_family = ToAf(family);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    std::string node(host);
    addrinfo* list = nullptr;
    errno = 0;
    int code = ops_->GetAddrInfo(node.c_str(), nullptr, &hints, &list);
    if (code != 0) return GaiError(host, code, errno);
    std::vector<SocketAddress> out;
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      // Validate each answer before use: family and length.
      absl::StatusOr<SocketAddress> a =
          SocketAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
      if (!a.ok() || !FamilyMatches(a->family(), family)) continue;
      out.push_back(a->WithPort(port));
    }
    ops_->FreeAddrInfo(list);
    return out;
  }

  SocketOps* const ops_;
};

}  // namespace

std::shared_ptr<Resolver> NewSystemResolver(SocketOps* ops) {
  return std::make_shared<SystemResolver>(ops);
}

std::optional<SocketAddress> ParseNumericHost(absl::string_view host,
                                              uint16_t port) {
  absl::StatusOr<SocketAddress> a =
      SocketAddress::Parse(StripBrackets(host), port);
  if (!a.ok()) return std::nullopt;
  return *a;
}

}  // namespace internal

std::shared_ptr<Resolver> Resolver::Default() {
  static const std::shared_ptr<Resolver>* const resolver =
      new std::shared_ptr<Resolver>(
          internal::NewSystemResolver(internal::SocketOps::Default()));
  return *resolver;
}

}  // namespace tether
