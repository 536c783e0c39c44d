// Regressions found by issue 8 (fault injection, fuzzing, soak). Each test
// here failed against lib/ when it was written; see the issue's report.

#include <errno.h>
#include <netdb.h>

#include <memory>

#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::RefusingPort;

constexpr absl::Duration kLong = absl::Seconds(20);

class Issue8Test : public testing::FaultTest {};

TEST_F(Issue8Test, ZeroPortIsInvalidArgument) {
  // connector.h: "Bad arguments (... a zero port) give a Socket already
  // complete with kInvalidArgument naming the bad value."
  Connector& connector = NewConnector();
  bool inline_callback = false;
  ConnectOptions o;
  o.on_complete = [&](Socket&) { inline_callback = true; };
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", 0, std::move(o));
  EXPECT_TRUE(inline_callback);
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_EQ(s->error().code(), absl::StatusCode::kInvalidArgument)
      << s->error();
  EXPECT_EQ(ops_.sockets_opened(), 0);
}

TEST_F(Issue8Test, EaiSystemWithoutErrnoIsStillAnError) {
  // getaddrinfo() reports EAI_SYSTEM but errno is 0.
  ops_.SetBefore(Call::kGetAddrInfo, [](const CallInfo&) {
    return Action::FailGai(EAI_SYSTEM, 0);
  });
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s =
      connector.Connect("fault.test", 80, testing::Serial());
  ASSERT_TRUE(s->Wait(kLong));
  EXPECT_FALSE(s->error().ok()) << "a failed resolution published as OK";
  EXPECT_FALSE(s->peername().has_value());
  char c;
  // Must not crash (an OK result without a stream).
  absl::StatusOr<size_t> n = s->Read(absl::MakeSpan(&c, 1));
  EXPECT_FALSE(n.ok());
  EXPECT_TRUE(s->Close().ok());
}

}  // namespace
}  // namespace tether
