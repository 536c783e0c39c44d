// Issue 14 with the real resolver, stuck: getaddrinfo() against a name
// server that never answers. A forked child makes its own network and mount
// namespaces (unshare, as root; skipped otherwise), brings up loopback with
// a second address (so AI_ADDRCONFIG still asks for IPv4), binds a silent
// "name server" on UDP and TCP 127.0.0.1:53 that never reads, and
// bind-mounts a resolv.conf naming it over /etc/resolv.conf. Nothing leaves
// the machine: the only name server is on the namespace's own loopback.
//
// Then Connect("name.invalid", 80) with a 300 ms timeout must report
// kDeadlineExceeded ("waiting for the resolver") at 300 ms, and
// ~Connector right after must return within 100 ms, while the resolver
// threads are still inside getaddrinfo() (5 s per try). The child then
// exits with those threads still blocked, which the process survives.
// Limits carry the slack documented at kSlack; the measured times go to
// the XML report.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tether/connector.h"

namespace tether {
namespace {

#if defined(TETHER_TSAN) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
constexpr int kSlack = 10;  // sanitizers: every syscall and thread start
#else
constexpr int kSlack = 3;  // 2 loaded cores shared with other builds
#endif

constexpr int kSkip = 77;

struct Report {
  int code = -1;  // absl::StatusCode of the socket
  int64_t timeout_ms = -1;
  int64_t destroy_ms = -1;
  char message[256] = {};
};

bool Shell(const char* cmd) {
  return std::system((std::string(cmd) + " >/dev/null 2>&1").c_str()) == 0;
}

// A silent name server: bound, never read or accepted from.
bool BindSilent(int type) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    return false;
  }
  return type != SOCK_STREAM || listen(fd, 16) == 0;
}

bool MakeNamespaces() {
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return false;
  }
  // A second address on lo: glibc's AI_ADDRCONFIG ignores only
  // 127.0.0.1, so IPv4 lookups are still sent (to the silent server).
  if (!Shell("ip link set lo up") ||
      !Shell("ip addr add 10.214.0.1/32 dev lo")) {
    return false;
  }
  char path[] = "/tmp/issue14_resolv_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return false;
  const char conf[] = "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n";
  bool ok = write(fd, conf, sizeof(conf) - 1) == sizeof(conf) - 1;
  close(fd);
  ok = ok && mount(path, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
  unlink(path);  // the mount keeps it
  return ok && BindSilent(SOCK_DGRAM) && BindSilent(SOCK_STREAM);
}

int Child(int out) {
  if (!MakeNamespaces()) return kSkip;
  Report r;
  auto connector = std::make_unique<Connector>();
  ConnectOptions o;
  o.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  std::shared_ptr<Socket> s =
      connector->Connect("name.invalid", 80, std::move(o));
  if (!s->Wait(absl::Seconds(20))) return 2;
  r.timeout_ms = absl::ToInt64Milliseconds(absl::Now() - start);
  r.code = static_cast<int>(s->error().code());
  std::snprintf(r.message, sizeof(r.message), "%s",
                std::string(s->error().message()).c_str());
  const absl::Time destroy = absl::Now();
  connector.reset();
  r.destroy_ms = absl::ToInt64Milliseconds(absl::Now() - destroy);
  return write(out, &r, sizeof(r)) == sizeof(r) ? 0 : 3;
}

TEST(Issue14NetnsTest, StuckNameServerTimesOutAndShutdownDoesNotWait) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root for unshare(CLONE_NEWNET | CLONE_NEWNS)";
  }
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[0]);
    _exit(Child(p[1]));  // resolver threads still blocked: _exit ends them
  }
  close(p[1]);
  Report r;
  const ssize_t n = read(p[0], &r, sizeof(r));
  close(p[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kSkip) {
    GTEST_SKIP() << "cannot make network and mount namespaces here "
                    "(unshare, iproute2)";
  }
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(r)));
  RecordProperty("timeout_ms", std::to_string(r.timeout_ms));
  RecordProperty("destructor_ms", std::to_string(r.destroy_ms));
  EXPECT_EQ(r.code, static_cast<int>(absl::StatusCode::kDeadlineExceeded))
      << r.message;
  EXPECT_NE(std::strstr(r.message, "timed out waiting for the resolver"),
            nullptr)
      << r.message;
  EXPECT_GE(r.timeout_ms, 299);
  EXPECT_LT(r.timeout_ms, 300 + 20 * kSlack);
  EXPECT_LT(r.destroy_ms, 100 * kSlack);
}

}  // namespace
}  // namespace tether
