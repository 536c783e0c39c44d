// libFuzzer target: SocketAddress::Parse.
//
// Input: two bytes of port, then the text to parse. Properties checked on
// every input: Parse never crashes; a rejection is kInvalidArgument with a
// bounded, NUL-free message; an accepted address is IPv4 or IPv6 with the
// given port, survives ip() -> Parse() and FromSockaddr(data(), size())
// round trips unchanged, and prints as ToString() == ip:port / [ip]:port.

#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tether/address.h"

namespace {

void Check(bool ok, const char* what, absl::string_view input) {
  if (ok) return;
  fprintf(stderr, "property violated: %s (input %zu bytes)\n", what,
          input.size());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint16_t port = static_cast<uint16_t>(data[0] | (data[1] << 8));
  const absl::string_view text(reinterpret_cast<const char*>(data + 2),
                               size - 2);
  absl::StatusOr<tether::SocketAddress> a =
      tether::SocketAddress::Parse(text, port);
  if (!a.ok()) {
    Check(a.status().code() == absl::StatusCode::kInvalidArgument,
          "rejection is kInvalidArgument", text);
    Check(a.status().message().size() < 512, "bounded message", text);
    Check(a.status().message().find('\0') == absl::string_view::npos,
          "NUL-free message", text);
    return 0;
  }
  Check(a->family() == AF_INET || a->family() == AF_INET6, "family", text);
  Check(a->port() == port, "port", text);
  Check(a->size() > 0, "size", text);
  const std::string ip = a->ip();
  Check(!ip.empty(), "ip", text);
  absl::StatusOr<tether::SocketAddress> again =
      tether::SocketAddress::Parse(ip, port);
  Check(again.ok() && *again == *a, "ip() parses back to the same address",
        text);
  absl::StatusOr<tether::SocketAddress> copy =
      tether::SocketAddress::FromSockaddr(a->data(), a->size());
  Check(copy.ok() && *copy == *a, "FromSockaddr round trip", text);
  const std::string expected = a->family() == AF_INET6
                                   ? absl::StrCat("[", ip, "]:", port)
                                   : absl::StrCat(ip, ":", port);
  Check(a->ToString() == expected, "ToString", text);
  Check(a->WithPort(static_cast<uint16_t>(port + 1)).port() ==
            static_cast<uint16_t>(port + 1),
        "WithPort", text);
  return 0;
}
