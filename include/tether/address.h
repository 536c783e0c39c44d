// tether/address.h: SocketAddress, an IPv4 or IPv6 address with a port, or
// a Unix-domain socket's path.
//
// Thread safety: SocketAddress is a value type. Const methods may be called
// concurrently; a mutation needs external synchronization, like an `int`.

#ifndef TETHER_INCLUDE_TETHER_ADDRESS_H_
#define TETHER_INCLUDE_TETHER_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

// Which address families a connect (or a resolution) may use.
enum class Family { kAny, kIPv4, kIPv6 };

class SocketAddress {
 public:
  // An empty address: family() is AF_UNSPEC and size() is 0.
  SocketAddress();
  // Copies an IP address's 28 bytes, not the whole sockaddr_un: a query
  // (Socket::sockname()) copies no more than before Unix addresses.
  SocketAddress(const SocketAddress& other) { CopyFrom(other); }
  SocketAddress& operator=(const SocketAddress& other) {
    CopyFrom(other);
    return *this;
  }

  // Parses a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "fe80::1%lo")
  // address. Returns kInvalidArgument, naming `ip`, for anything else
  // (host names included: resolving names is the Resolver's job).
  static absl::StatusOr<SocketAddress> Parse(absl::string_view ip,
                                             uint16_t port);

  // A Unix-domain address: a filesystem path, or "@name" for Linux's
  // abstract namespace. kInvalidArgument, naming `path`, for "", "@", a
  // path with a NUL byte, or one too long for sockaddr_un (at most 107
  // bytes; 106 after the "@").
  static absl::StatusOr<SocketAddress> Unix(absl::string_view path);

  // Copies a kernel socket address. Returns kInvalidArgument unless `addr`
  // is a complete AF_INET, AF_INET6 or AF_UNIX address of `len` bytes (an
  // unbound Unix socket's name, the family alone, is a Unix address whose
  // path is "").
  static absl::StatusOr<SocketAddress> FromSockaddr(const sockaddr* addr,
                                                    socklen_t len);

  // AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC for an empty address.
  [[nodiscard]] int family() const { return storage_.any.sa_family; }
  // "127.0.0.1", "::1" ("fe80::1%eth0" with a scope); "" when empty or Unix.
  [[nodiscard]] std::string ip() const;
  // 0 when empty or Unix.
  [[nodiscard]] uint16_t port() const;
  // "127.0.0.1:80", "[::1]:80"; a Unix address's path ("@name" when
  // abstract); "<unspecified>" when empty.
  [[nodiscard]] std::string ToString() const;

  // A copy of this address with another port (unchanged when Unix or empty).
  [[nodiscard]] SocketAddress WithPort(uint16_t port) const;

  // The address in the form bind() and connect() take.
  [[nodiscard]] const sockaddr* data() const { return &storage_.any; }
  [[nodiscard]] socklen_t size() const;

  // Same family, address, port (and IPv6 scope), or the same Unix path; two
  // empty addresses are equal. The IPv6 flow label is ignored.
  bool operator==(const SocketAddress& other) const;
  bool operator!=(const SocketAddress& other) const {
    return !(*this == other);
  }

 private:
  // An IP address is the first 32 bytes (unix_size_, then at most a
  // sockaddr_in6): two 16-byte moves, as before Unix addresses existed.
  void CopyFrom(const SocketAddress& other) {
    constexpr size_t kIpBytes = 32;
    if (other.family() == AF_UNIX) {
      memcpy(static_cast<void*>(this), &other, sizeof(SocketAddress));
    } else {
      memcpy(static_cast<void*>(this), &other, kIpBytes);
    }
  }

  union Storage {
    sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
    sockaddr_un un;
  };
  // The length of a Unix address (an abstract name is not NUL-terminated);
  // 0 for the other families. First, so CopyFrom() covers it.
  socklen_t unix_size_ = 0;
  Storage storage_;
};

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_ADDRESS_H_
