// Fault injection: close() fails.
//
// What is broken: close() reports EINTR (or EIO) after the kernel has
// released the descriptor, which is what Linux does: the number is gone and
// may already belong to another thread's new descriptor. Expected: close()
// is never retried (exactly one close() per socket, FaultTest counts them),
// EINTR is not an error for the caller, EIO is reported once, and the
// connect's own outcome (connected, refused, cancelled) is unaffected.

#include <errno.h>

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::ExpectFailedWith;
using testing::HangingListener;
using testing::Listener;
using testing::RefusingPort;
using testing::WaitFor;
using Outcome = Attempt::Outcome;

constexpr absl::Duration kLong = absl::Seconds(20);

class CloseFaultTest : public testing::FaultTest {
 protected:
  void CloseReports(int err) {
    ops_.SetBefore(Call::kClose, [err](const CallInfo&) {
      return Action::RealThenFail(err);
    });
  }
};

TEST_F(CloseFaultTest, EintrOnAConnectedSocketIsNotRetried) {
  Listener listener;
  CloseReports(EINTR);
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->Close().ok());  // EINTR: the descriptor is gone anyway
  EXPECT_EQ((*s)->fd(), -1);
  EXPECT_EQ(ops_.calls(Call::kClose), 1);
  EXPECT_TRUE((*s)->Close().ok());  // a second Close does nothing
  EXPECT_EQ(ops_.calls(Call::kClose), 1);
}

TEST_F(CloseFaultTest, EintrAfterHalfClosesIsNotRetried) {
  Listener listener;
  CloseReports(EINTR);
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->Close(Direction::kWrite).ok());
  EXPECT_EQ(ops_.calls(Call::kClose), 0);  // shutdown(), not close()
  EXPECT_TRUE((*s)->Close(Direction::kRead).ok());
  EXPECT_EQ(ops_.calls(Call::kClose), 1);
}

TEST_F(CloseFaultTest, EintrOnAFailedAttemptIsNotRetried) {
  RefusingPort refusing;
  CloseReports(EINTR);
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", refusing.port());
  ASSERT_TRUE(s->Wait(kLong));
  // The refusal is reported, not the close() error.
  ExpectFailedWith(*s, ECONNREFUSED, {refusing.address().ToString()});
  EXPECT_TRUE(WaitFor([&] { return ops_.calls(Call::kClose) == 1; }));
}

TEST_F(CloseFaultTest, EintrOnACancelledAttemptIsNotRetried) {
  HangingListener hanging;
  CloseReports(EINTR);
  Connector& connector = NewConnector();
  std::shared_ptr<Socket> s = connector.Connect("127.0.0.1", hanging.port());
  ASSERT_TRUE(WaitFor([&] { return ops_.calls(Call::kConnect) == 1; }));
  ASSERT_TRUE(s->Close().ok());
  EXPECT_EQ(s->error().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(
      WaitFor([&] { return s->attempts()[0].outcome == Outcome::kCancelled; }));
  EXPECT_TRUE(WaitFor([&] { return ops_.calls(Call::kClose) == 1; }));
}

TEST_F(CloseFaultTest, EioOnAConnectedSocketIsReportedOnce) {
  Listener listener;
  CloseReports(EIO);
  Connector& connector = NewConnector();
  absl::StatusOr<std::shared_ptr<Socket>> s =
      connector.ConnectAndWait("127.0.0.1", listener.port());
  ASSERT_TRUE(s.ok()) << s.status();
  absl::Status closed = (*s)->Close();
  EXPECT_EQ(closed.code(), absl::ErrnoToStatusCode(EIO)) << closed;
  EXPECT_NE(closed.message().find("close"), absl::string_view::npos) << closed;
  EXPECT_EQ((*s)->fd(), -1);
  EXPECT_FALSE((*s)->readable_open());
  EXPECT_TRUE((*s)->Close().ok());  // already closed: OK, no second close()
  EXPECT_EQ(ops_.calls(Call::kClose), 1);
}

}  // namespace
}  // namespace tether
