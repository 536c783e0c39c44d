#include "tether/address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stddef.h>
#include <string.h>

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/connect_errors.h"

namespace tether {
namespace {

constexpr size_t kMaxIpLength = INET6_ADDRSTRLEN + IF_NAMESIZE;
constexpr socklen_t kUnixPathOffset = offsetof(sockaddr_un, sun_path);

absl::Status BadIp(absl::string_view ip) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a numeric IP address: ", internal::Quote(ip)));
}

}  // namespace

SocketAddress::SocketAddress() {
  static_assert(offsetof(SocketAddress, storage_) + sizeof(sockaddr_in6) <= 32,
                "CopyFrom() copies an IP address's first 32 bytes");
  memset(&storage_, 0, sizeof(storage_));
}

absl::StatusOr<SocketAddress> SocketAddress::Unix(absl::string_view path) {
  const bool abstract = !path.empty() && path.front() == '@';
  // A filesystem path needs its NUL terminator; an abstract name is the
  // bytes after sun_path[0] == '\0', counted by the length alone.
  const size_t bytes = path.size() + (abstract ? 0 : 1);
  absl::string_view why;
  if (path.empty() || path == "@") {
    why = "is empty";
  } else if (!abstract && path.find('\0') != absl::string_view::npos) {
    why = "contains a NUL byte";
  } else if (bytes > sizeof(sockaddr_un::sun_path)) {
    why = "is too long for sockaddr_un";
  }
  if (!why.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unix socket path ", internal::Quote(path), " ", why));
  }
  SocketAddress a;
  a.storage_.un.sun_family = AF_UNIX;
  memcpy(a.storage_.un.sun_path, path.data(), path.size());
  if (abstract) a.storage_.un.sun_path[0] = '\0';
  a.unix_size_ = kUnixPathOffset + static_cast<socklen_t>(bytes);
  return a;
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view ip,
                                                   uint16_t port) {
  if (ip.empty() || ip.size() > kMaxIpLength ||
      ip.find('\0') != absl::string_view::npos) {
    return BadIp(ip);
  }
  std::string text(ip);
  SocketAddress a;
  if (inet_pton(AF_INET, text.c_str(), &a.storage_.v4.sin_addr) == 1) {
    a.storage_.v4.sin_family = AF_INET;
    a.storage_.v4.sin_port = htons(port);
    return a;
  }
  std::string::size_type pct = text.find('%');
  std::string host = text.substr(0, pct);
  if (inet_pton(AF_INET6, host.c_str(), &a.storage_.v6.sin6_addr) != 1) {
    return BadIp(ip);
  }
  if (pct != std::string::npos) {
    unsigned index = if_nametoindex(text.c_str() + pct + 1);
    if (index == 0) return BadIp(ip);
    a.storage_.v6.sin6_scope_id = index;
  }
  a.storage_.v6.sin6_family = AF_INET6;
  a.storage_.v6.sin6_port = htons(port);
  return a;
}

absl::StatusOr<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* addr,
                                                          socklen_t len) {
  SocketAddress a;
  if (addr != nullptr && addr->sa_family == AF_INET &&
      len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    memcpy(&a.storage_.v4, addr, sizeof(sockaddr_in));
    return a;
  }
  if (addr != nullptr && addr->sa_family == AF_INET6 &&
      len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    memcpy(&a.storage_.v6, addr, sizeof(sockaddr_in6));
    return a;
  }
  if (addr != nullptr && addr->sa_family == AF_UNIX &&
      len >= static_cast<socklen_t>(sizeof(sa_family_t)) &&
      len <= static_cast<socklen_t>(sizeof(sockaddr_un))) {
    memcpy(&a.storage_.un, addr, len);
    char* path = a.storage_.un.sun_path;
    if (len > kUnixPathOffset && path[0] != '\0') {
      // A filesystem path, with or without its NUL counted: stored with it,
      // as Unix() makes it, so equal paths compare (and print) equal.
      const size_t n = strnlen(path, len - kUnixPathOffset);
      if (n < sizeof(a.storage_.un.sun_path)) path[n] = '\0';
      len = kUnixPathOffset + static_cast<socklen_t>(std::min(
                                  n + 1, sizeof(a.storage_.un.sun_path)));
    }
    a.unix_size_ = len;
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not an IPv4, IPv6 or Unix socket address (family ",
      addr == nullptr ? -1 : addr->sa_family, ", ", len, " bytes)"));
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET) {
    // Not inet_ntop(), which formats through sprintf: the name of every
    // connect to a numeric IPv4 host is made here.
    const auto* b =
        reinterpret_cast<const unsigned char*>(&storage_.v4.sin_addr);
    return absl::StrCat(b[0], ".", b[1], ".", b[2], ".", b[3]);
  }
  if (family() != AF_INET6) return "";
  inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buf, sizeof(buf));
  char ifname[IF_NAMESIZE];
  if (storage_.v6.sin6_scope_id != 0 &&
      if_indextoname(storage_.v6.sin6_scope_id, ifname) != nullptr) {
    return absl::StrCat(buf, "%", ifname);
  }
  return buf;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
  return 0;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6) return absl::StrCat("[", ip(), "]:", port());
  if (family() == AF_INET) return absl::StrCat(ip(), ":", port());
  if (family() != AF_UNIX) return "<unspecified>";
  if (unix_size_ <= kUnixPathOffset) return "";  // unnamed (unbound)
  const char* path = storage_.un.sun_path;
  if (path[0] == '\0') {
    return absl::StrCat(
        "@", absl::string_view(path + 1, unix_size_ - kUnixPathOffset - 1));
  }
  return std::string(path, strnlen(path, unix_size_ - kUnixPathOffset));
}

SocketAddress SocketAddress::WithPort(uint16_t port) const {
  SocketAddress a = *this;
  if (family() == AF_INET) a.storage_.v4.sin_port = htons(port);
  if (family() == AF_INET6) a.storage_.v6.sin6_port = htons(port);
  return a;
}

socklen_t SocketAddress::size() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return unix_size_;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    return storage_.v4.sin_port == other.storage_.v4.sin_port &&
           storage_.v4.sin_addr.s_addr == other.storage_.v4.sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    return storage_.v6.sin6_port == other.storage_.v6.sin6_port &&
           storage_.v6.sin6_scope_id == other.storage_.v6.sin6_scope_id &&
           memcmp(&storage_.v6.sin6_addr, &other.storage_.v6.sin6_addr,
                  sizeof(in6_addr)) == 0;
  }
  if (family() == AF_UNIX) {
    return unix_size_ == other.unix_size_ &&
           memcmp(storage_.un.sun_path, other.storage_.un.sun_path,
                  unix_size_ - kUnixPathOffset) == 0;
  }
  return true;
}

}  // namespace tether
