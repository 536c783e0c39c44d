#include "lib/connect_request.h"

#include <net/if.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/connect_errors.h"
#include "lib/connect_state.h"
#include "lib/system_resolver.h"

namespace tether {
namespace internal {
namespace {

constexpr size_t kMaxHostLength = 255;
// Linux's bounds (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
constexpr absl::Duration kMaxKeepAliveTime = absl::Seconds(32767);
constexpr int kMaxKeepAliveCount = 127;

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

absl::Status CheckHost(absl::string_view host) {
  if (host.empty()) return Invalid("host is empty");
  if (host.find('\0') != absl::string_view::npos) {
    return Invalid(absl::StrCat("host contains a NUL byte: ", Quote(host)));
  }
  if (host.size() > kMaxHostLength) {
    return Invalid(absl::StrCat("host is too long (", host.size(),
                                " bytes, at most ", kMaxHostLength,
                                "): ", Quote(host)));
  }
  return absl::OkStatus();
}

absl::Status CheckPort(int port) {
  if (port >= 1 && port <= 65535) return absl::OkStatus();
  return Invalid(absl::StrCat("port ", port, " is out of range [1, 65535]"));
}

absl::Status CheckDuration(absl::string_view name, absl::Duration d,
                           bool zero_ok) {
  if (d > absl::ZeroDuration() || (zero_ok && d == absl::ZeroDuration())) {
    return absl::OkStatus();
  }
  return Invalid(absl::StrCat(name, " must be ",
                              zero_ok ? "non-negative" : "positive", ", got ",
                              absl::FormatDuration(d)));
}

absl::Status CheckKeepAlive(const KeepAlive& k) {
  if (!k.enabled) return absl::OkStatus();
  for (auto [name, d] : {std::pair{"keepalive.idle", k.idle},
                         std::pair{"keepalive.interval", k.interval}}) {
    if (d <= absl::ZeroDuration() || d > kMaxKeepAliveTime) {
      return Invalid(absl::StrCat(name, " must be in (0, ",
                                  absl::FormatDuration(kMaxKeepAliveTime),
                                  "], got ", absl::FormatDuration(d)));
    }
  }
  if (k.count < 1 || k.count > kMaxKeepAliveCount) {
    return Invalid(absl::StrCat("keepalive.count must be in [1, ",
                                kMaxKeepAliveCount, "], got ", k.count));
  }
  return absl::OkStatus();
}

absl::Status CheckInterface(absl::string_view name) {
  if (name.size() < IFNAMSIZ && name.find('\0') == absl::string_view::npos) {
    return absl::OkStatus();
  }
  return Invalid(absl::StrCat("bad bind_interface ", Quote(name),
                              ": not an interface name (at most ", IFNAMSIZ - 1,
                              " bytes, no NUL)"));
}

bool FamilyAllows(Family family, int af) {
  return family == Family::kAny || (family == Family::kIPv4 && af == AF_INET) ||
         (family == Family::kIPv6 && af == AF_INET6);
}

const char* FamilyName(int af) {
  return af == AF_INET ? "IPv4" : af == AF_INET6 ? "IPv6" : "Unix";
}

// The local address and the target (when known) must fit the requested
// family and each other: checked here, so such a connect fails in
// Connect() instead of after a worker took it.
absl::Status CheckFamilies(const ConnectRequest& r) {
  const ConnectOptions& o = r.options;
  if (r.address.has_value() && r.address->family() == AF_UNIX) {
    if (!o.local_address.empty() || o.local_port != 0) {
      return Invalid(absl::StrCat(
          "local_address/local_port cannot be used with Unix socket ",
          r.target));
    }
    return absl::OkStatus();
  }
  if (r.address.has_value() && !FamilyAllows(o.family, r.address->family())) {
    // What resolving a name with no address of that family gives.
    return absl::NotFoundError(absl::StrCat(
        "connect ", r.target, ": an ", FamilyName(r.address->family()),
        " address, but the requested family is ",
        FamilyName(r.address->family() == AF_INET ? AF_INET6 : AF_INET)));
  }
  if (!r.local.has_value()) return absl::OkStatus();
  const int local = r.local->family();
  if (!FamilyAllows(o.family, local)) {
    return Invalid(absl::StrCat("local_address ", Quote(o.local_address),
                                " does not match the requested family"));
  }
  if (r.address.has_value() && r.address->family() != local) {
    return Invalid(absl::StrCat("local_address ", Quote(o.local_address),
                                " is ", FamilyName(local), " but ", r.target,
                                " is ", FamilyName(r.address->family())));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ConnectRequest>> MakeRequest(
    const Destination& destination, ConnectOptions&& options,
    bool numeric_skips_resolver) {
  auto request = std::make_shared<ConnectRequest>();
  ConnectRequest& r = *request;
  if (destination.address != nullptr) {
    if (destination.address->family() == AF_UNSPEC) {
      return Invalid("address is empty (AF_UNSPEC)");
    }
    if (destination.address->family() != AF_UNIX) {
      absl::Status port = CheckPort(destination.address->port());
      if (!port.ok()) return port;
    }
    r.address = *destination.address;
    r.port = r.address->port();
  } else {
    absl::Status s = CheckHost(destination.host);
    if (s.ok()) s = CheckPort(destination.port);
    if (!s.ok()) return s;
    r.host = std::string(destination.host);
    r.port = static_cast<uint16_t>(destination.port);
    if (numeric_skips_resolver) r.address = ParseNumericHost(r.host, r.port);
  }
  r.target = TargetName(r.host, r.address ? &*r.address : nullptr);
  absl::Status s =
      CheckDuration("attempt_timeout", options.attempt_timeout, false);
  if (s.ok()) s = CheckDuration("timeout", options.timeout, false);
  if (s.ok()) {
    s = CheckDuration("happy_eyeballs_delay", options.happy_eyeballs_delay,
                      true);
  }
  if (s.ok()) s = CheckKeepAlive(options.keepalive);
  if (s.ok()) s = CheckInterface(options.bind_interface);
  if (!s.ok()) return s;
  if (!options.local_address.empty()) {
    absl::StatusOr<SocketAddress> local =
        SocketAddress::Parse(options.local_address, options.local_port);
    if (!local.ok()) {
      return Invalid(absl::StrCat("bad local_address ",
                                  Quote(options.local_address),
                                  ": not a numeric IP address"));
    }
    r.local = *local;
  }
  r.deadline = options.timeout == absl::InfiniteDuration()
                   ? options.deadline
                   : std::min(options.deadline, absl::Now() + options.timeout);
  r.options = std::move(options);
  s = CheckFamilies(r);
  if (!s.ok()) return s;
  return request;
}

bool PublishIfPastDeadline(const ConnectRequest& request, ConnectState& state) {
  if (state.done()) return true;
  if (absl::Now() < request.deadline) return false;
  // The timer publishes this on time, unless it is late: then whoever
  // notices first does, rather than looping until it catches up.
  state.Cancel(DeadlineError(request.target));
  return true;
}

absl::StatusOr<std::vector<SocketAddress>> UsableAddresses(
    const ConnectRequest& request, std::vector<SocketAddress> addresses) {
  if (request.local.has_value()) {
    const int family = request.local->family();
    addresses.erase(std::remove_if(addresses.begin(), addresses.end(),
                                   [family](const SocketAddress& a) {
                                     return a.family() != family;
                                   }),
                    addresses.end());
  }
  if (!addresses.empty()) return addresses;
  if (!request.local.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("resolve ", request.target, ": no addresses"));
  }
  return Invalid(absl::StrCat("local_address ", request.local->ip(), " is ",
                              FamilyName(request.local->family()), " but ",
                              request.target,
                              " has no address of that family"));
}

void PublishFailed(const ConnectRequest& request, ConnectState& state) {
  if (PublishIfPastDeadline(request, state)) return;
  state.PublishFailure(AllAttemptsFailed(request.target, state.failures()));
}

}  // namespace internal
}  // namespace tether
