// The dial options of issue 13, each through the OS seam and on real
// loopback sockets: control, keepalive, bind_interface,
// IP_BIND_ADDRESS_NO_PORT, deadline, Connect(SocketAddress), the int port,
// and the one message shape (contract rule 14).
//
// The seam tests run on FaultTest (tests/testing/fault_test.h): every
// descriptor and thread is counted back to its start value after each.

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tests/testing/mock_socket_ops.h"
#include "tether/connector.h"

namespace tether {
namespace {

using ::testing::_;
using testing::Call;
using testing::CallInfo;
using testing::FaultTest;
using testing::HangingListener;
using ::testing::HasSubstr;
using testing::Listener;
using ::testing::NiceMock;
using testing::RefusingPort;
using ::testing::Return;

constexpr absl::Duration kLong = absl::Seconds(20);

// The int value of an option on `fd`, or -1.
int GetInt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

// The setsockopt() calls (level, option) -> int value seen by the seam, and
// the order of the calls of one attempt.
class RecordingOps : public NiceMock<testing::MockSocketOps> {
 public:
  explicit RecordingOps(internal::SocketOps* target)
      : NiceMock<testing::MockSocketOps>(target) {
    ON_CALL(*this, SetSockOpt)
        .WillByDefault([this](int fd, int level, int name, const void* value,
                              socklen_t len) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            std::string v =
                len == sizeof(int)
                    ? std::to_string(*static_cast<const int*>(value))
                    : std::string(static_cast<const char*>(value), len);
            set_[{level, name}] = v;
            order_.push_back(absl::StrCat("setsockopt ", level, "/", name));
          }
          return this->target()->SetSockOpt(fd, level, name, value, len);
        });
    ON_CALL(*this, Bind)
        .WillByDefault([this](int fd, const sockaddr* a, socklen_t len) {
          Note("bind");
          return this->target()->Bind(fd, a, len);
        });
    ON_CALL(*this, Connect)
        .WillByDefault([this](int fd, const sockaddr* a, socklen_t len) {
          Note("connect");
          return this->target()->Connect(fd, a, len);
        });
  }

  void Note(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    order_.push_back(std::move(what));
  }
  // The value set for (level, name), or "" if never set.
  std::string Set(int level, int name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = set_.find({level, name});
    return it == set_.end() ? "" : it->second;
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<int, int>, std::string> set_;
  std::vector<std::string> order_;
};

class DialOptionsSeamTest : public FaultTest {
 protected:
  Connector& NewRecordingConnector() {
    ConnectorOptions o;
    o.socket_ops = &rec_;
    return NewConnector(nullptr, std::move(o));
  }
  RecordingOps rec_{&ops_};
};

TEST_F(DialOptionsSeamTest, KeepAliveSetsAllFourOptionsRoundedUp) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  ConnectOptions o;
  o.keepalive.enabled = true;
  o.keepalive.idle = absl::Milliseconds(1500);  // rounds up to 2 s
  o.keepalive.interval = absl::Seconds(3);
  o.keepalive.count = 4;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(rec_.Set(SOL_SOCKET, SO_KEEPALIVE), "1");
  EXPECT_EQ(rec_.Set(IPPROTO_TCP, TCP_KEEPIDLE), "2");
  EXPECT_EQ(rec_.Set(IPPROTO_TCP, TCP_KEEPINTVL), "3");
  EXPECT_EQ(rec_.Set(IPPROTO_TCP, TCP_KEEPCNT), "4");
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(DialOptionsSeamTest, KeepAliveOffByDefaultSetsNothing) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(rec_.Set(SOL_SOCKET, SO_KEEPALIVE), "");
  EXPECT_EQ(rec_.Set(SOL_SOCKET, SO_BINDTODEVICE), "");
  EXPECT_EQ(rec_.Set(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), "");
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(DialOptionsSeamTest, KeepAliveFailureFailsTheAttemptNamingIt) {
  Listener listener;
  ops_.SetBefore(Call::kSetSockOpt, [](const CallInfo& c) {
    return c.option == TCP_KEEPCNT ? testing::Action::Fail(ENOPROTOOPT)
                                   : testing::Action::Pass();
  });
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.keepalive.enabled = true;
  auto s = connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error_code(), ENOPROTOOPT);
  EXPECT_THAT(s->error().message(), HasSubstr("keepalive.count"));
}

TEST_F(DialOptionsSeamTest, BindInterfaceIsSetBeforeConnect) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  ConnectOptions o;
  o.bind_interface = "lo";
  auto s = connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(rec_.Set(SOL_SOCKET, SO_BINDTODEVICE), "lo");
  std::vector<std::string> order = rec_.order();
  auto connect = std::find(order.begin(), order.end(), "connect");
  auto device =
      std::find(order.begin(), order.end(),
                absl::StrCat("setsockopt ", SOL_SOCKET, "/", SO_BINDTODEVICE));
  EXPECT_LT(device, connect);
  if (s->error().ok()) {
    EXPECT_TRUE(s->Close().ok());
  }
}

TEST_F(DialOptionsSeamTest, BindInterfaceEpermNamesTheInterface) {
  Listener listener;
  ops_.SetBefore(Call::kSetSockOpt, [](const CallInfo& c) {
    return c.option == SO_BINDTODEVICE ? testing::Action::Fail(EPERM)
                                       : testing::Action::Pass();
  });
  Connector& connector = NewConnector();
  ConnectOptions o;
  o.bind_interface = "eth7";
  auto s = connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error_code(), EPERM);
  EXPECT_EQ(s->error().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s->error().message(),
              HasSubstr(absl::StrCat("connect 127.0.0.1:", listener.port(),
                                     ": bind_interface \"eth7\": ")));
}

TEST_F(DialOptionsSeamTest, ControlRunsAfterSocketBeforeBindAndConnect) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  ConnectOptions o;
  o.local_address = "127.0.0.1";
  o.tcp_nodelay = true;
  std::atomic<int> calls{0};
  SocketAddress seen;
  o.control = [&](int fd, const SocketAddress& target) {
    rec_.Note("control");
    seen = target;
    calls.fetch_add(1);
    EXPECT_GE(fd, 0);
    return absl::OkStatus();
  };
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen, listener.address());
  std::vector<std::string> order = rec_.order();
  auto at = [&](const std::string& what) {
    return std::find(order.begin(), order.end(), what) - order.begin();
  };
  // The library's own options first (the hook may override them), then
  // the hook, then bind() and connect().
  EXPECT_LT(at(absl::StrCat("setsockopt ", IPPROTO_TCP, "/", TCP_NODELAY)),
            at("control"));
  EXPECT_LT(at("control"), at("bind"));
  EXPECT_LT(at("bind"), at("connect"));
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(DialOptionsSeamTest, NoPortBindSetsBindAddressNoPort) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  ConnectOptions o;
  o.local_address = "127.0.0.1";
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(rec_.Set(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), "1");
  EXPECT_EQ(GetInt((*s)->fd(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), 1);
  EXPECT_NE((*s)->sockname()->port(), 0);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(DialOptionsSeamTest, ExplicitLocalPortDoesNotSetBindAddressNoPort) {
  Listener listener;
  Connector& connector = NewRecordingConnector();
  // A free port: bind one, note it, release it.
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  SocketAddress any = *SocketAddress::Parse("127.0.0.1", 0);
  ASSERT_EQ(bind(probe, any.data(), any.size()), 0);
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(probe, reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t port =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
          ->port();
  close(probe);
  ConnectOptions o;
  o.local_address = "127.0.0.1";
  o.local_port = port;
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(rec_.Set(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), "");
  EXPECT_EQ((*s)->sockname()->port(), port);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST_F(DialOptionsSeamTest, ControlFailureFailsEachAttemptWithItsStatus) {
  RefusingPort unused;  // any two loopback addresses will do
  Listener listener;
  auto resolver = std::make_shared<testing::FakeResolver>();
  resolver->SetAnswer(
      Family::kAny,
      std::vector<SocketAddress>{listener.address(), listener.address()});
  Connector& connector = NewConnector(resolver);
  ConnectOptions o = testing::Serial();
  std::atomic<int> calls{0};
  o.control = [&](int, const SocketAddress&) {
    calls.fetch_add(1);
    return absl::PermissionDeniedError("policy says no");
  };
  auto s = connector.Connect("two.test", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(calls.load(), 2);  // every attempt, and nothing connected
  EXPECT_EQ(s->error().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s->error_code(), ECONNABORTED);
  EXPECT_THAT(s->error().message(), HasSubstr("connect \"two.test\": " +
                                              listener.address().ToString() +
                                              ": control: policy says no; "));
  std::vector<Attempt> a = s->attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].outcome, Attempt::Outcome::kFailed);
  EXPECT_EQ(a[0].error_code, ECONNABORTED);
}

TEST_F(DialOptionsSeamTest, NoEventfdFallsBackToShutdownOnDestruction) {
  // The Registry cannot make its eventfd: ~Connector still interrupts a
  // hanging connect, by shutdown() of its descriptor.
  NiceMock<testing::MockSocketOps> mock(&ops_);
  ON_CALL(mock, EventFd(_, _)).WillByDefault([](unsigned, int) {
    errno = EMFILE;
    return -1;
  });
  EXPECT_CALL(mock, Shutdown(_, SHUT_RDWR)).Times(::testing::AtLeast(1));
  HangingListener hanging;
  ConnectorOptions co;
  co.socket_ops = &mock;
  Connector& connector = NewConnector(nullptr, std::move(co));
  auto s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(testing::WaitFor([&] { return !s->attempts().empty(); }, kLong));
  const absl::Time start = absl::Now();
  connector_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_FALSE(s->connecting());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(s->error().message(),
              HasSubstr(absl::StrCat("connect 127.0.0.1:", hanging.port(),
                                     ": cancelled by ~Connector")));
}

// --- Real loopback.

// Connect() with `o` fails at once (bad input is decided in Connect()) with
// kInvalidArgument naming `named`.
void ExpectRejected(Connector& connector, ConnectOptions o,
                    absl::string_view named) {
  auto s = connector.Connect("127.0.0.1", 9, std::move(o));
  ASSERT_FALSE(s->connecting());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s->error().message(), HasSubstr(named));
}

TEST(DialOptionsTest, KeepAliveValuesReachTheKernel) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.keepalive = {true, absl::Seconds(30), absl::Seconds(7), 5};
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  const int fd = (*s)->fd();
  EXPECT_EQ(GetInt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 7);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPCNT), 5);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST(DialOptionsTest, KeepAliveOutOfRangeIsInvalidArgument) {
  Connector connector;
  for (KeepAlive k :
       {KeepAlive{true, absl::ZeroDuration()},
        KeepAlive{true, absl::Seconds(1), absl::Hours(10)},
        KeepAlive{true, absl::Seconds(1), absl::Seconds(1), 0},
        KeepAlive{true, absl::Seconds(1), absl::Seconds(1), 128}}) {
    ConnectOptions o;
    o.keepalive = k;
    ExpectRejected(connector, std::move(o), "keepalive.");
  }
}

TEST(DialOptionsTest, BindInterfaceLoopbackConnects) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.bind_interface = "lo";
  auto s = connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  if (s->error_code() == EPERM) GTEST_SKIP() << "needs CAP_NET_RAW";
  ASSERT_TRUE(s->error().ok()) << s->error();
  char name[IFNAMSIZ] = "";
  socklen_t len = sizeof(name);
  ASSERT_EQ(getsockopt(s->fd(), SOL_SOCKET, SO_BINDTODEVICE, name, &len), 0);
  EXPECT_STREQ(name, "lo");
  EXPECT_TRUE(s->Close().ok());
}

TEST(DialOptionsTest, BindInterfaceThatDoesNotExistNamesIt) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.bind_interface = "tether-none0";
  auto s = connector.Connect("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  // ENODEV as root; EPERM without CAP_NET_RAW: either way it is named.
  EXPECT_THAT(s->error_code(), ::testing::AnyOf(ENODEV, EPERM));
  EXPECT_THAT(s->error().message(),
              HasSubstr("bind_interface \"tether-none0\": "));
}

TEST(DialOptionsTest, ControlSetsAnOptionTheSocketKeeps) {
  Listener listener;
  Connector connector;
  ConnectOptions o;
  o.control = [](int fd, const SocketAddress&) {
    int tos = 0x10;
    return setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) == 0
               ? absl::OkStatus()
               : absl::InternalError("IP_TOS");
  };
  auto s = connector.ConnectAndWait("127.0.0.1", listener.port(), std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(GetInt((*s)->fd(), IPPROTO_IP, IP_TOS), 0x10);
  EXPECT_TRUE((*s)->Close().ok());
}

TEST(DialOptionsTest, ControlRunsForEveryAttemptOfARaceConcurrently) {
  // Two hanging addresses raced with a 10 ms delay: both attempts run at
  // once, and the hook is called for each, on its own thread.
  HangingListener a;
  HangingListener b;
  auto resolver = std::make_shared<testing::FakeResolver>();
  resolver->SetAnswer(Family::kIPv4,
                      std::vector<SocketAddress>{a.address(), b.address()});
  resolver->SetAnswer(Family::kIPv6, std::vector<SocketAddress>{});
  ConnectorOptions co;
  co.resolver = resolver;
  Connector connector(std::move(co));
  ConnectOptions o;
  o.happy_eyeballs_delay = absl::Milliseconds(10);
  o.timeout = absl::Milliseconds(300);
  std::mutex mu;
  std::vector<SocketAddress> targets;
  o.control = [&](int, const SocketAddress& t) {
    std::lock_guard<std::mutex> lock(mu);
    targets.push_back(t);
    return absl::OkStatus();
  };
  auto s = connector.Connect("race.test", 1, std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(targets,
              ::testing::UnorderedElementsAre(a.address(), b.address()));
}

TEST(DialOptionsTest, DeadlineEarlierThanTimeoutWins) {
  HangingListener hanging;
  Connector connector;
  ConnectOptions o;
  o.timeout = absl::Hours(1);
  o.deadline = absl::Now() + absl::Milliseconds(50);
  auto s = connector.Connect("127.0.0.1", hanging.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));  // long before the hour
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s->error().message(),
            absl::StrCat("connect 127.0.0.1:", hanging.port(), ": timed out"));
}

TEST(DialOptionsTest, TimeoutEarlierThanDeadlineWins) {
  HangingListener hanging;
  Connector connector;
  ConnectOptions o;
  o.timeout = absl::Milliseconds(50);
  o.deadline = absl::Now() + absl::Hours(1);
  auto s = connector.Connect("127.0.0.1", hanging.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(DialOptionsTest, DeadlineInThePastTimesOutAtOnce) {
  HangingListener hanging;
  Connector connector;
  ConnectOptions o;
  o.deadline = absl::InfinitePast();
  auto s = connector.Connect("127.0.0.1", hanging.port(), std::move(o));
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(DialOptionsTest, PortOutsideTheRangeIsInvalidArgumentNamingIt) {
  Connector connector;
  for (int port : {83616, -1, 0, 65536}) {
    auto s = connector.Connect("127.0.0.1", port);
    ASSERT_FALSE(s->connecting());
    EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s->error().message(),
                HasSubstr(absl::StrCat("port ", port, " is out of range")));
    auto w = connector.ConnectAndWait("localhost", port);
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(DialOptionsTest, ConnectToAnAddressSkipsTheResolver) {
  Listener listener;
  auto resolver = std::make_shared<testing::FakeResolver>();  // answers none
  ConnectorOptions co;
  co.resolver = resolver;
  Connector connector(std::move(co));
  auto s = connector.Connect(listener.address());
  ASSERT_TRUE(s->Wait(kLong));
  ASSERT_TRUE(s->error().ok()) << s->error();
  EXPECT_EQ(s->peername(), listener.address());
  ASSERT_EQ(s->attempts().size(), 1u);
  EXPECT_EQ(resolver->calls(), 0);
  EXPECT_TRUE(s->Close().ok());
}

TEST(DialOptionsTest, ConnectToAnEmptyAddressOrPortZeroIsInvalid) {
  Connector connector;
  auto s = connector.Connect(SocketAddress());
  ASSERT_FALSE(s->connecting());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument);
  s = connector.Connect(*SocketAddress::Parse("127.0.0.1", 0));
  ASSERT_FALSE(s->connecting());
  EXPECT_THAT(s->error().message(), HasSubstr("port 0 is out of range"));
}

TEST(DialOptionsTest, LongInterfaceOrWrongFamilyLocalAddressFailInConnect) {
  Connector connector;
  ConnectOptions too_long;
  too_long.bind_interface = "sixteen-bytes-ab";
  ExpectRejected(connector, std::move(too_long), "\"sixteen-bytes-ab\"");
  ConnectOptions wrong_family;
  wrong_family.local_address = "::1";
  ExpectRejected(connector, std::move(wrong_family), "\"::1\" is IPv6");
}

TEST(DialOptionsTest, MessagesHaveOneShapeAndNoPayload) {
  RefusingPort refusing;
  Connector connector;
  auto s = connector.Connect("127.0.0.1", refusing.port());
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().message(),
            absl::StrCat("connect 127.0.0.1:", refusing.port(),
                         ": Connection refused"));
  EXPECT_EQ(s->error_code(), ECONNREFUSED);
  EXPECT_FALSE(absl::StrContains(s->error().ToString(), "tether/errno"))
      << s->error().ToString();

  // A name with two addresses: the host once, then each address.
  auto resolver = std::make_shared<testing::FakeResolver>();
  resolver->SetAnswer(
      Family::kAny,
      std::vector<SocketAddress>{refusing.address(), refusing.address()});
  ConnectorOptions co;
  co.resolver = resolver;
  Connector named(std::move(co));
  s = named.Connect("db.test", refusing.port(), testing::Serial());
  ASSERT_TRUE(s->Wait(kLong));
  const std::string a = refusing.address().ToString();
  EXPECT_EQ(s->error().message(),
            absl::StrCat("connect \"db.test\": ", a, ": Connection refused; ",
                         a, ": Connection refused"));

  // Cancelled by Close().
  HangingListener hanging;
  s = connector.Connect("127.0.0.1", hanging.port());
  EXPECT_TRUE(s->Close().ok());
  EXPECT_EQ(s->error().message(),
            absl::StrCat("connect 127.0.0.1:", hanging.port(),
                         ": cancelled by Close()"));
}

}  // namespace
}  // namespace tether
