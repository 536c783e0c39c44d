// Tests for lib/fd_stream.cc: half-close on sockets and pipes, blocking and
// non-blocking I/O, Close waking blocked calls, and descriptor lifetime.
//
// No test sleeps and hopes: a call that must be "blocked" first reports that
// it reached poll() through a SocketOps wrapper, and every wait is bounded.

#include "lib/fd_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "lib/posix_error.h"
#include "lib/socket_ops.h"
#include "tether/channel.h"

namespace tether {
namespace internal {
namespace {

using Kind = FdStream::Kind;
constexpr auto kBound = std::chrono::seconds(10);  // generous upper bound

// A one-shot event with a bounded wait (std primitives: visible to TSan).
class Latch {
 public:
  void Set() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Reports each poll() (so a test knows a call is about to block), can hold
// the caller before the real poll(), and counts close() per watched fd.
class WatchingOps : public SocketOpsWrapper {
 public:
  WatchingOps() : SocketOpsWrapper(SocketOps::Default()) {}
  int Poll(pollfd* fds, nfds_t nfds, int timeout_ms) override {
    polling_.Set();
    if (hold_) {
      EXPECT_TRUE(gate_.WaitFor(kBound));
    }
    return SocketOpsWrapper::Poll(fds, nfds, timeout_ms);
  }
  int Close(int fd) override {
    if (fd == watched_fd_) watched_closes_.fetch_add(1);
    return SocketOpsWrapper::Close(fd);
  }
  Latch& polling() { return polling_; }
  void HoldPolls() { hold_ = true; }
  void ReleasePolls() { gate_.Set(); }
  void Watch(int fd) { watched_fd_ = fd; }
  int watched_closes() const { return watched_closes_.load(); }

 private:
  Latch polling_;
  Latch gate_;
  bool hold_ = false;  // set before any thread starts
  int watched_fd_ = -1;
  std::atomic<int> watched_closes_{0};
};

int CountOpenFds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

std::pair<int, int> SocketPair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {fds[0], fds[1]};
}

// A connected loopback TCP pair {client, server}.
std::pair<int, int> TcpPair() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(listen(listener, 1), 0);
  EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), len), 0);
  const int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  return {client, server};
}

// {read end, write end}, both non-blocking.
std::pair<int, int> Pipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  return {fds[0], fds[1]};
}

std::unique_ptr<FdStream> SocketStream(int fd,
                                       SocketOps* ops = SocketOps::Default()) {
  return std::make_unique<FdStream>(Kind::kSocket, fd, fd, ops);
}

absl::StatusOr<size_t> WriteString(FdStream& s, absl::string_view text) {
  return s.Write(absl::MakeConstSpan(text.data(), text.size()), true);
}

// Reads until end of stream (blocking).
std::string ReadAll(FdStream& s) {
  std::string out;
  char buf[4096];
  while (true) {
    absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(buf), true);
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) return out;
    out.append(buf, *n);
  }
}

void ExpectNotOpen(const absl::Status& status, absl::string_view which) {
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.message(),
            absl::StrCat("channel wasn't opened for ", which));
}

// Client half-closes after its request; the server reads to end of stream,
// replies and closes; the client still reads the reply.
void HalfCloseRoundTrip(std::pair<int, int> fds) {
  auto client = SocketStream(fds.first);
  auto server = SocketStream(fds.second);
  ASSERT_TRUE(WriteString(*client, "request").ok());
  ASSERT_TRUE(client->Close(Direction::kWrite).ok());
  EXPECT_FALSE(client->writable_open());
  EXPECT_TRUE(client->readable_open());
  EXPECT_EQ(client->fd(), fds.first);
  EXPECT_EQ(ReadAll(*server), "request");  // then end of stream
  ASSERT_TRUE(WriteString(*server, "reply").ok());
  ASSERT_TRUE(server->Close().ok());
  EXPECT_EQ(ReadAll(*client), "reply");
  EXPECT_TRUE(client->Close().ok());
  EXPECT_EQ(client->fd(), -1);
  EXPECT_TRUE(client->Close().ok());  // idempotent
}

TEST(FdStreamTest, HalfCloseRoundTripOverSocketPair) {
  HalfCloseRoundTrip(SocketPair());
}

TEST(FdStreamTest, HalfCloseRoundTripOverTcp) { HalfCloseRoundTrip(TcpPair()); }

TEST(FdStreamTest, DoubleHalfCloseSaysWasntOpened) {
  auto [a, b] = SocketPair();
  auto s = SocketStream(a);
  close(b);
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  ExpectNotOpen(s->Close(Direction::kWrite), "writing");
  ASSERT_TRUE(s->Close(Direction::kRead).ok());
  ExpectNotOpen(s->Close(Direction::kRead), "reading");
  EXPECT_TRUE(s->Close().ok());
}

TEST(FdStreamTest, CloseAfterHalfCloseReleasesDescriptor) {
  auto [a, b] = SocketPair();
  auto s = SocketStream(a);
  ASSERT_TRUE(s->Close(Direction::kRead).ok());
  EXPECT_EQ(s->fd(), a);
  EXPECT_TRUE(s->Close().ok());
  EXPECT_EQ(s->fd(), -1);
  EXPECT_FALSE(s->readable_open());
  EXPECT_FALSE(s->writable_open());
  // The peer sees the descriptor gone: end of stream.
  char c;
  EXPECT_EQ(recv(b, &c, 1, 0), 0);
  close(b);
}

TEST(FdStreamTest, IoAfterHalfCloseFailsWithPrecondition) {
  auto [a, b] = SocketPair();
  auto s = SocketStream(a);
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  ExpectNotOpen(WriteString(*s, "x").status(), "writing");
  ASSERT_TRUE(s->Close(Direction::kRead).ok());
  char buf[8];
  ExpectNotOpen(s->Read(absl::MakeSpan(buf), true).status(), "reading");
  close(b);
}

TEST(FdStreamTest, NonBlockingReadWithNoDataIsUnavailable) {
  auto [a, b] = SocketPair();
  auto s = SocketStream(a);
  char buf[8];
  absl::StatusOr<size_t> n = s->Read(absl::MakeSpan(buf), false);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable) << n.status();
  auto [r, w] = Pipe();
  FdStream p(Kind::kPipe, r, w, SocketOps::Default());
  n = p.Read(absl::MakeSpan(buf), false);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable) << n.status();
  close(b);
}

TEST(FdStreamTest, NonBlockingWriteToFullSocketIsUnavailable) {
  auto [a, b] = SocketPair();
  auto s = SocketStream(a);
  const std::string chunk(64 * 1024, 'x');
  absl::StatusOr<size_t> n = size_t{0};
  for (int i = 0; i < 10000 && n.ok(); ++i) {
    n = s->Write(absl::MakeConstSpan(chunk), false);
  }
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable) << n.status();
  close(b);
}

TEST(FdStreamTest, CloseWakesBlockedReadWithCancelled) {
  auto [a, b] = SocketPair();
  WatchingOps ops;
  auto s = SocketStream(a, &ops);
  absl::Status status;
  Latch done;
  std::thread reader([&] {
    char buf[8];
    status = s->Read(absl::MakeSpan(buf), true).status();
    done.Set();
  });
  ASSERT_TRUE(ops.polling().WaitFor(kBound));  // the reader is in poll()
  ASSERT_TRUE(s->Close().ok());
  EXPECT_TRUE(done.WaitFor(std::chrono::seconds(5)));
  reader.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(status.message(), "channel closed");
  close(b);
}

TEST(FdStreamTest, HalfCloseWakesBlockedWriteWithCancelled) {
  auto [a, b] = SocketPair();
  WatchingOps ops;
  auto s = SocketStream(a, &ops);
  absl::Status status;
  std::thread writer([&] {
    const std::string chunk(64 * 1024, 'x');
    absl::StatusOr<size_t> n;
    while ((n = s->Write(absl::MakeConstSpan(chunk), true)).ok()) {
    }
    status = n.status();
  });
  ASSERT_TRUE(ops.polling().WaitFor(kBound));  // the buffer is full
  ASSERT_TRUE(s->Close(Direction::kWrite).ok());
  writer.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_TRUE(s->readable_open());
  close(b);
}

// The number is not close()d while a call is inside it; the last call to
// leave closes it, exactly once.
TEST(FdStreamTest, DescriptorOutlivesCloseWhileCallIsInside) {
  auto [a, b] = SocketPair();
  WatchingOps ops;
  ops.HoldPolls();
  ops.Watch(a);
  auto s = SocketStream(a, &ops);
  absl::Status status;
  std::thread reader([&] {
    char buf[8];
    status = s->Read(absl::MakeSpan(buf), true).status();
  });
  ASSERT_TRUE(ops.polling().WaitFor(kBound));  // inside, held before poll()
  ASSERT_TRUE(s->Close().ok());
  EXPECT_EQ(s->fd(), -1);
  EXPECT_EQ(ops.watched_closes(), 0);
  EXPECT_EQ(fcntl(a, F_GETFD), FD_CLOEXEC);  // still ours
  ops.ReleasePolls();
  reader.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(ops.watched_closes(), 1);
  s.reset();
  EXPECT_EQ(ops.watched_closes(), 1);
  close(b);
}

// Racing closes of every form, with a reader inside: each direction is
// closed by exactly one caller and the number is closed exactly once.
TEST(FdStreamTest, RacingClosesReleaseDescriptorOnce) {
  for (int i = 0; i < 100; ++i) {
    auto [a, b] = SocketPair();
    WatchingOps ops;
    ops.Watch(a);
    auto s = SocketStream(a, &ops);
    std::atomic<int> read_closes{0}, write_closes{0};
    std::thread reader([&] {
      char buf[8];
      absl::StatusOr<size_t> n = s->Read(absl::MakeSpan(buf), true);
      // The peer never writes: closed before the call, or during it.
      EXPECT_TRUE(absl::IsFailedPrecondition(n.status()) ||
                  absl::IsCancelled(n.status()))
          << n.status();
    });
    std::thread r([&] { read_closes += s->Close(Direction::kRead).ok(); });
    std::thread w([&] { write_closes += s->Close(Direction::kWrite).ok(); });
    std::thread all([&] { EXPECT_TRUE(s->Close().ok()); });
    for (std::thread* t : {&reader, &r, &w, &all}) t->join();
    EXPECT_LE(read_closes.load(), 1);
    EXPECT_LE(write_closes.load(), 1);
    EXPECT_EQ(ops.watched_closes(), 1);
    EXPECT_EQ(s->fd(), -1);
    close(b);
  }
}

// A pipe-backed stream as a parent sees a child: writes go to the child's
// stdin (to_child), reads come from its stdout (from_child).
TEST(FdStreamTest, PipeHalfCloseRoundTrip) {
  auto [to_child_r, to_child_w] = Pipe();
  auto [from_child_r, from_child_w] = Pipe();
  FdStream s(Kind::kPipe, from_child_r, to_child_w, SocketOps::Default());
  EXPECT_EQ(s.fd(), from_child_r);
  ASSERT_TRUE(WriteString(s, "input").ok());
  ASSERT_TRUE(s.Close(Direction::kWrite).ok());
  ExpectNotOpen(s.Close(Direction::kWrite), "writing");
  char buf[16];
  EXPECT_EQ(read(to_child_r, buf, sizeof(buf)), 5);
  EXPECT_EQ(read(to_child_r, buf, sizeof(buf)), 0);  // the child sees EOF
  ASSERT_EQ(write(from_child_w, "output", 6), 6);
  close(from_child_w);
  EXPECT_EQ(ReadAll(s), "output");
  EXPECT_TRUE(s.Close().ok());
  EXPECT_EQ(s.fd(), -1);
  close(to_child_r);
}

TEST(FdStreamTest, PipeDirectionNeverOpen) {
  auto [r, w] = Pipe();
  FdStream s(Kind::kPipe, -1, w, SocketOps::Default());
  EXPECT_FALSE(s.readable_open());
  EXPECT_TRUE(s.writable_open());
  EXPECT_EQ(s.fd(), w);
  char buf[4];
  ExpectNotOpen(s.Read(absl::MakeSpan(buf), true).status(), "reading");
  ExpectNotOpen(s.Close(Direction::kRead), "reading");
  EXPECT_TRUE(s.Close().ok());
  EXPECT_TRUE(s.Close().ok());
  close(r);
}

bool SigpipePending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

// With SIGPIPE at its default action, a raised one would kill the test.
TEST(FdStreamTest, WriteToPipeWithoutReaderIsEpipeNotSignal) {
  auto [r, w] = Pipe();
  close(r);
  FdStream s(Kind::kPipe, -1, w, SocketOps::Default());
  absl::StatusOr<size_t> n = WriteString(s, "x");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(ErrnoOf(n.status()), EPIPE) << n.status();
  EXPECT_FALSE(SigpipePending());
}

TEST(FdStreamTest, WriteToGoneSocketPeerIsErrorNotSignal) {
  auto [a, b] = TcpPair();
  close(b);
  auto s = SocketStream(a);
  absl::StatusOr<size_t> n;
  for (int i = 0; i < 100 && (n = WriteString(*s, "data")).ok(); ++i) {
    // The first write may succeed and draw the peer's RST.
    char c;
    if (i == 0) (void)recv(a, &c, 1, MSG_DONTWAIT);
  }
  ASSERT_FALSE(n.ok());
  const int err = ErrnoOf(n.status());
  EXPECT_TRUE(err == EPIPE || err == ECONNRESET) << n.status();
  EXPECT_FALSE(SigpipePending());
}

void Pump(FdStream& s, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const size_t chunk = std::min<size_t>(7000, data.size() - sent);
    absl::StatusOr<size_t> n =
        s.Write(absl::MakeConstSpan(data.data() + sent, chunk), true);
    ASSERT_TRUE(n.ok()) << n.status();
    sent += *n;
  }
}

std::string Drain(FdStream& s, size_t size) {
  std::string out;
  char buf[5000];
  while (out.size() < size) {
    absl::StatusOr<size_t> n = s.Read(absl::MakeSpan(buf), true);
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(FdStreamTest, ConcurrentReadersAndWritersMoveOneMebibyteEachWay) {
  auto [a, b] = SocketPair();
  auto left = SocketStream(a);
  auto right = SocketStream(b);
  const std::string to_right = RandomBytes(1 << 20, 1);
  const std::string to_left = RandomBytes(1 << 20, 2);
  std::string got_left, got_right;
  std::thread w1([&] { Pump(*left, to_right); });
  std::thread w2([&] { Pump(*right, to_left); });
  std::thread r1([&] { got_right = Drain(*right, to_right.size()); });
  std::thread r2([&] { got_left = Drain(*left, to_left.size()); });
  for (std::thread* t : {&w1, &w2, &r1, &r2}) t->join();
  EXPECT_TRUE(got_right == to_right);
  EXPECT_TRUE(got_left == to_left);
}

TEST(FdStreamTest, NoDescriptorLeft) {
  const int before = CountOpenFds();
  {
    auto [a, b] = SocketPair();
    WatchingOps ops;
    auto s = SocketStream(a, &ops);
    auto peer = SocketStream(b);
    std::string got;
    std::thread reader([&] { got = Drain(*s, 2); });  // waits: an eventfd
    ASSERT_TRUE(ops.polling().WaitFor(kBound));
    ASSERT_TRUE(WriteString(*peer, "hi").ok());
    reader.join();
    EXPECT_EQ(got, "hi");
    ASSERT_TRUE(s->Close(Direction::kWrite).ok());
    ASSERT_TRUE(s->Close(Direction::kRead).ok());
    auto [r, w] = Pipe();
    FdStream p(Kind::kPipe, r, w, SocketOps::Default());
    ASSERT_TRUE(p.Close(Direction::kRead).ok());
  }  // peer and p close in their destructors
  EXPECT_EQ(CountOpenFds(), before);
}

}  // namespace
}  // namespace internal
}  // namespace tether
