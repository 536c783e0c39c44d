#include "tether/address.h"

#include <arpa/inet.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

using ::testing::HasSubstr;

TEST(SocketAddressTest, ParsesIPv4) {
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse("127.0.0.1", 80);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->ip(), "127.0.0.1");
  EXPECT_EQ(a->port(), 80);
  EXPECT_EQ(a->ToString(), "127.0.0.1:80");
  EXPECT_EQ(a->size(), sizeof(sockaddr_in));
}

TEST(SocketAddressTest, IPv4NamesMatchInetNtop) {
  // ip() formats IPv4 itself (not through inet_ntop()); it must agree with
  // inet_ntop() on every byte value, in every position.
  for (int v = 0; v < 256; ++v) {
    for (int pos = 0; pos < 4; ++pos) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(65535);
      auto* b = reinterpret_cast<unsigned char*>(&sin.sin_addr);
      for (int i = 0; i < 4; ++i)
        b[i] = static_cast<unsigned char>(i == pos ? v : 255 - v);
      char want[INET_ADDRSTRLEN];
      ASSERT_NE(inet_ntop(AF_INET, &sin.sin_addr, want, sizeof(want)), nullptr);
      absl::StatusOr<SocketAddress> a = SocketAddress::FromSockaddr(
          reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
      ASSERT_TRUE(a.ok()) << a.status();
      EXPECT_EQ(a->ip(), want);
      EXPECT_EQ(a->ToString(), std::string(want) + ":65535");
    }
  }
}

TEST(SocketAddressTest, ParsesIPv6) {
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse("::1", 443);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->family(), AF_INET6);
  EXPECT_EQ(a->ip(), "::1");
  EXPECT_EQ(a->ToString(), "[::1]:443");
  EXPECT_EQ(a->size(), sizeof(sockaddr_in6));
}

TEST(SocketAddressTest, RejectsNamesAndGarbageNamingTheValue) {
  for (const char* bad :
       {"localhost", "", "1.2.3", "::g", "1.2.3.4 ", "[::1]"}) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(bad, 1);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(a.status().message(), HasSubstr(std::string("\"") + bad));
  }
}

TEST(SocketAddressTest, RejectsNulBytes) {
  absl::StatusOr<SocketAddress> a =
      SocketAddress::Parse(absl::string_view("1.2.3.4\0x", 9), 1);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SocketAddressTest, RoundTripsThroughSockaddr) {
  SocketAddress a = *SocketAddress::Parse("::1", 9);
  absl::StatusOr<SocketAddress> b =
      SocketAddress::FromSockaddr(a.data(), a.size());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a, *b);
  EXPECT_NE(a, a.WithPort(10));
  EXPECT_EQ(a.WithPort(10).port(), 10);
}

TEST(SocketAddressTest, FromSockaddrRejectsShortAndForeignAddresses) {
  SocketAddress a = *SocketAddress::Parse("127.0.0.1", 9);
  EXPECT_FALSE(SocketAddress::FromSockaddr(a.data(), 4).ok());
  sockaddr foreign = {};
  foreign.sa_family = AF_PACKET;
  EXPECT_FALSE(SocketAddress::FromSockaddr(&foreign, sizeof(foreign)).ok());
  sockaddr_un too_long = {};
  too_long.sun_family = AF_UNIX;
  EXPECT_FALSE(
      SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&too_long),
                                  sizeof(too_long) + 1)
          .ok());
  EXPECT_FALSE(SocketAddress::FromSockaddr(a.data(), 1).ok());
  EXPECT_FALSE(SocketAddress::FromSockaddr(nullptr, 0).ok());
}

TEST(SocketAddressTest, DefaultIsEmpty) {
  SocketAddress a;
  EXPECT_EQ(a.family(), AF_UNSPEC);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a, SocketAddress());
}

}  // namespace
}  // namespace tether
