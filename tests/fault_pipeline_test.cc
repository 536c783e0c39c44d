// Fault injection: the system calls of a Pipeline and of the eventfds
// behind FdStream and CompletionQueue fail.
//
// What is broken, through the OS seam (Pipeline::OpenWithOps,
// CompletionQueue::CreateWithOps): pipe2() for the first or the second pipe,
// ioctl(FIONBIO) on a parent's end, posix_spawnp(), waitpid() (EINTR, and
// ECHILD after someone else reaped the child), kill() in ~Pipeline,
// pidfd_open() (a kernel without pidfds), and eventfd() for a blocked
// Read's wake-up and for a CompletionQueue.
// Expected: Open() returns absl::ErrnoToStatusCode(errno) with a message
// naming the call and leaves no descriptor and no child behind; Close() and
// ~Pipeline retry EINTR, report a lost child, and never block forever;
// FdStream and CompletionQueue report the eventfd() failure. FaultTest
// checks after each test that every descriptor made through the seam was
// closed exactly once and that /proc/self/fd is as it was.

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_test.h"
#include "tests/testing/loopback.h"
#include "tether/channel.h"
#include "tether/completion_queue.h"
#include "tether/pipeline.h"

namespace tether {
namespace {

using testing::Action;
using testing::Call;
using testing::CallInfo;
using testing::OpenFds;

// Whether this process has no child at all, running or zombie.
bool NoChildLeft() {
  int status;
  return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

// Asserts that `s` failed with errno `err` and names `call`.
void ExpectErrno(const absl::Status& s, int err, absl::string_view call) {
  EXPECT_EQ(s.code(), absl::ErrnoToStatusCode(err)) << s;
  EXPECT_NE(s.message().find(call), absl::string_view::npos) << s;
}

class PipelineFaultTest : public testing::FaultTest {
 protected:
  absl::StatusOr<std::shared_ptr<Pipeline>> Open(
      std::vector<std::string> argv, OpenMode mode = OpenMode::kReadWrite) {
    return Pipeline::OpenWithOps(std::move(argv), mode, &ops_);
  }

  // Open() failed with `err` from `call`, before any child was started, and
  // left no descriptor behind.
  void ExpectOpenFailed(const absl::StatusOr<std::shared_ptr<Pipeline>>& p,
                        int err, absl::string_view call) {
    ASSERT_FALSE(p.ok());
    ExpectErrno(p.status(), err, call);
    EXPECT_EQ(ops_.calls(Call::kPosixSpawnp), 0);
    EXPECT_EQ(ops_.sockets_open(), 0);
    EXPECT_EQ(OpenFds(), fds_before_);
    EXPECT_TRUE(NoChildLeft());
  }
};

TEST_F(PipelineFaultTest, Pipe2FailsForTheFirstPipe) {
  ops_.FailNth(Call::kPipe2, 0, EMFILE);
  ExpectOpenFailed(Open({"cat"}), EMFILE, "pipe2");
  EXPECT_EQ(ops_.calls(Call::kPipe2), 1);
}

TEST_F(PipelineFaultTest, Pipe2FailsForTheSecondPipe) {
  ops_.FailNth(Call::kPipe2, 1, ENFILE);
  ExpectOpenFailed(Open({"cat"}), ENFILE, "pipe2");
  EXPECT_EQ(ops_.calls(Call::kPipe2), 2);
  EXPECT_EQ(ops_.sockets_opened(), 2);  // the first pipe, closed again
}

TEST_F(PipelineFaultTest, NonBlockingParentEndFails) {
  ops_.FailNth(Call::kSetNonBlocking, 1, EBADF);  // the second pipe's
  ExpectOpenFailed(Open({"cat"}), EBADF, "ioctl(FIONBIO)");
  EXPECT_EQ(ops_.sockets_opened(), 4);
}

TEST_F(PipelineFaultTest, PosixSpawnpFails) {
  ops_.FailAll(Call::kPosixSpawnp, EAGAIN);
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"cat"});
  ASSERT_FALSE(p.ok());
  ExpectErrno(p.status(), EAGAIN, "posix_spawnp \"cat\"");
  EXPECT_EQ(ops_.calls(Call::kPosixSpawnp), 1);
  EXPECT_EQ(ops_.sockets_open(), 0);
  EXPECT_EQ(OpenFds(), fds_before_);
  EXPECT_TRUE(NoChildLeft());
}

TEST_F(PipelineFaultTest, WaitPidEintrIsRetried) {
  ops_.SetBefore(Call::kWaitPid, [](const CallInfo& c) {
    return c.seq < 2 ? Action::Fail(EINTR) : Action::Pass();
  });
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"true"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->Close().ok());
  EXPECT_EQ(ops_.calls(Call::kWaitPid), 3);
  p->reset();
  EXPECT_TRUE(NoChildLeft());
}

// Someone else reaped the child (SIGCHLD ignored, or a waitpid(-1) of the
// application's): the real waitpid() runs, then reports ECHILD.
TEST_F(PipelineFaultTest, WaitPidEchildIsAChildLost) {
  ops_.SetBefore(Call::kWaitPid,
                 [](const CallInfo&) { return Action::RealThenFail(ECHILD); });
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"true"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::Status closed = (*p)->Close();
  ExpectErrno(closed, ECHILD, "waitpid");
  EXPECT_NE(closed.message().find("child process lost"),
            absl::string_view::npos)
      << closed;
  EXPECT_TRUE((*p)->Close().ok());  // reaped once; later closes are OK
  EXPECT_EQ(ops_.calls(Call::kWaitPid), 1);
  p->reset();
  EXPECT_TRUE(NoChildLeft());
}

// A child that ignores end-of-file and SIGTERM outlives the grace period;
// kill() reports a failure although the signal went out: the destructor
// sees the child gone within a second grace period and reaps it.
TEST_F(PipelineFaultTest, KillFailureStillReaps) {
  ops_.SetBefore(Call::kKill,
                 [](const CallInfo&) { return Action::RealThenFail(EPERM); });
  absl::StatusOr<std::shared_ptr<Pipeline>> p =
      Open({"sh", "-c", "trap '' TERM; exec sleep 100"});
  ASSERT_TRUE(p.ok()) << p.status();
  const auto start = std::chrono::steady_clock::now();
  p->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_EQ(ops_.calls(Call::kKill), 1);
  EXPECT_EQ(ops_.calls(Call::kWaitPid), 1);
  EXPECT_TRUE(NoChildLeft());
}

// kill() fails and the child runs on: ~Pipeline returns after two grace
// periods instead of blocking in waitpid() for as long as the child lives,
// and leaves the child to the application (here: the test reaps it).
TEST_F(PipelineFaultTest, KillFailureNeverBlocksTheDestructor) {
  ops_.FailAll(Call::kKill, EPERM);
  absl::StatusOr<std::shared_ptr<Pipeline>> p =
      Open({"sh", "-c", "trap '' TERM; exec sleep 100"});
  ASSERT_TRUE(p.ok()) << p.status();
  const pid_t pid = (*p)->pid();
  const auto start = std::chrono::steady_clock::now();
  p->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_EQ(ops_.calls(Call::kKill), 1);
  EXPECT_EQ(ops_.calls(Call::kWaitPid), 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);  // still ours, unreaped
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(NoChildLeft());
}

TEST_F(PipelineFaultTest, WithoutPidfdsTheDestructorPollsWaitId) {
  ops_.FailAll(Call::kPidFdOpen, ENOSYS);
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"cat"});
  ASSERT_TRUE(p.ok()) << p.status();
  p->reset();  // cat sees end-of-file and exits
  EXPECT_GE(ops_.calls(Call::kWaitId), 1);
  EXPECT_EQ(ops_.calls(Call::kKill), 0);
  EXPECT_TRUE(NoChildLeft());
}

// A blocking Read with nothing to read waits in poll() beside a wake-up
// eventfd; when that cannot be made the Read reports it.
TEST_F(PipelineFaultTest, BlockedReadReportsEventFdFailure) {
  ops_.FailAll(Call::kEventFd, EMFILE);
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"cat"});
  ASSERT_TRUE(p.ok()) << p.status();
  char buf[16];
  absl::StatusOr<size_t> n = (*p)->Read(absl::MakeSpan(buf));
  ASSERT_FALSE(n.ok());
  ExpectErrno(n.status(), EMFILE, "eventfd");
  EXPECT_EQ(ops_.calls(Call::kEventFd), 1);
  EXPECT_TRUE((*p)->Close().ok());
  p->reset();
  EXPECT_TRUE(NoChildLeft());
}

// The wake-up eventfd is made, signalled and closed through the seam, once.
TEST_F(PipelineFaultTest, WakeUpEventFdGoesThroughTheSeam) {
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Open({"cat"});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->SetBlocking(false).ok());
  char buf[16];
  EXPECT_EQ((*p)->Read(absl::MakeSpan(buf)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ops_.calls(Call::kEventFd), 0);  // non-blocking: no wait
  ASSERT_TRUE((*p)->SetBlocking(true).ok());
  std::thread reader([&] {
    EXPECT_EQ((*p)->Read(absl::MakeSpan(buf)).status().code(),
              absl::StatusCode::kCancelled);
  });
  ASSERT_TRUE(testing::WaitFor([&] { return ops_.calls(Call::kPoll) >= 1; }));
  EXPECT_TRUE((*p)->Close(Direction::kRead).ok());  // wakes the reader
  reader.join();
  EXPECT_EQ(ops_.calls(Call::kEventFd), 1);
  EXPECT_TRUE((*p)->Close().ok());
  p->reset();
  EXPECT_TRUE(NoChildLeft());
}

TEST_F(PipelineFaultTest, CompletionQueueReportsEventFdFailure) {
  ops_.FailAll(Call::kEventFd, EMFILE);
  absl::StatusOr<std::shared_ptr<CompletionQueue>> q =
      CompletionQueue::CreateWithOps(&ops_);
  ASSERT_FALSE(q.ok());
  ExpectErrno(q.status(), EMFILE, "eventfd");
  EXPECT_EQ(OpenFds(), fds_before_);
}

// The queue's eventfd is closed through the seam, exactly once (FaultTest).
TEST_F(PipelineFaultTest, CompletionQueueClosesItsEventFdThroughTheSeam) {
  absl::StatusOr<std::shared_ptr<CompletionQueue>> q =
      CompletionQueue::CreateWithOps(&ops_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(ops_.eventfds_open(), 1);
  EXPECT_TRUE((*q)->Drain().empty());  // read() through the seam
  EXPECT_EQ(ops_.calls(Call::kRead), 1);
  q->reset();
  EXPECT_EQ(ops_.eventfds_open(), 0);
}

}  // namespace
}  // namespace tether
