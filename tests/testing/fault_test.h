// tests/testing/fault_test.h: the fixture every fault-injection test uses.
//
// FaultTest owns a FaultInjectingSocketOps (ops_) over the real OS and a
// Connector built on it (NewConnector). After each test it destroys the
// connector and asserts that nothing leaked:
//   * every socket made through the seam was closed, exactly once, and no
//     close() hit a number the seam did not hand out (no double close);
//   * /proc/self/fd and /proc/self/task are back to their counts at SetUp;
// and records the number of faults injected, and the leak counts, as test
// properties ("faults_injected", "sockets_leaked", "fds_leaked",
// "threads_leaked") in the test's XML report.
//
// Declare sockets and servers inside the test body (or reset them) so they
// are gone before TearDown().

#ifndef TETHER_TESTS_TESTING_FAULT_TEST_H_
#define TETHER_TESTS_TESTING_FAULT_TEST_H_

#include <string.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_injecting_socket_ops.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace tether {
namespace testing {

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_before_ = IdleThreadCount();
    fds_before_ = OpenFds();
  }

  void TearDown() override {
    connector_.reset();  // joins every worker; sockets were the test's
    EXPECT_EQ(ops_.sockets_open(), 0)
        << "sockets still open: " << absl::StrJoin(ops_.open_sockets(), ",");
    EXPECT_EQ(ops_.eventfds_open(), 0) << "eventfd still open";
    EXPECT_EQ(ops_.stray_closes(), 0) << "close() of an unknown descriptor";
    std::vector<int> closes = ops_.close_calls_per_socket();
    for (size_t i = 0; i < closes.size(); ++i) {
      EXPECT_EQ(closes[i], 1)
          << "socket #" << i << " closed " << closes[i] << " times";
    }
    EXPECT_TRUE(
        WaitFor([&] { return OpenFds() == fds_before_; }, absl::Seconds(5)))
        << "descriptors before: " << absl::StrJoin(fds_before_, ",")
        << " after: " << absl::StrJoin(OpenFds(), ",");
    EXPECT_TRUE(WaitFor([&] { return CountThreads() == threads_before_; },
                        absl::Seconds(5)))
        << "threads before: " << threads_before_
        << " after: " << CountThreads();
    RecordProperty("faults_injected", std::to_string(ops_.faults_injected()));
    RecordProperty("sockets_opened", std::to_string(ops_.sockets_opened()));
    RecordProperty("sockets_closed", std::to_string(ops_.sockets_closed()));
    RecordProperty("sockets_leaked", std::to_string(ops_.sockets_open()));
    RecordProperty("fds_leaked", std::to_string(static_cast<int>(
                                     OpenFds().size() - fds_before_.size())));
    RecordProperty("threads_leaked",
                   std::to_string(CountThreads() - threads_before_));
  }

  // A connector whose every system call goes through ops_ (unless
  // `options` names another seam, e.g. a MockSocketOps over ops_). A null
  // `resolver` resolves through that seam too (getaddrinfo faults apply).
  Connector& NewConnector(std::shared_ptr<Resolver> resolver = nullptr,
                          ConnectorOptions options = {}) {
    if (options.socket_ops == nullptr) options.socket_ops = &ops_;
    options.resolver = std::move(resolver);
    connector_ = std::make_unique<Connector>(std::move(options));
    return *connector_;
  }

  FaultInjectingSocketOps ops_;  // first: outlives the connector
  std::unique_ptr<Connector> connector_;
  std::vector<int> fds_before_;
  int threads_before_ = 0;
};

// Asserts that `s` is complete and failed with errno `err`: the status code
// is absl::ErrnoToStatusCode(err), error_code() is `err`, the message holds
// every string in `named` (addresses, the host) and strerror(err), and no
// address is published.
inline void ExpectFailedWith(const Socket& s, int err,
                             const std::vector<std::string>& named) {
  ASSERT_FALSE(s.connecting());
  EXPECT_EQ(s.error().code(), absl::ErrnoToStatusCode(err)) << s.error();
  EXPECT_EQ(s.error_code(), err) << s.error();
  for (const std::string& n : named) {
    EXPECT_NE(s.error().message().find(n), absl::string_view::npos)
        << "\"" << n << "\" not in: " << s.error();
  }
  EXPECT_NE(s.error().message().find(strerror(err)), absl::string_view::npos)
      << s.error();
  EXPECT_FALSE(s.sockname().has_value());
  EXPECT_FALSE(s.peername().has_value());
  EXPECT_EQ(s.fd(), -1);
}

// Asserts attempt `a` is at `address` with `outcome` and errno `err`.
inline void ExpectAttempt(const Attempt& a, const SocketAddress& address,
                          Attempt::Outcome outcome, int err) {
  EXPECT_EQ(a.address, address) << a.address.ToString();
  EXPECT_EQ(static_cast<int>(a.outcome), static_cast<int>(outcome))
      << a.address.ToString();
  EXPECT_EQ(a.error_code, err) << a.address.ToString();
}

// ConnectOptions that try one address at a time, in order.
inline ConnectOptions Serial() {
  ConnectOptions o;
  o.happy_eyeballs_delay = absl::ZeroDuration();
  return o;
}

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_FAULT_TEST_H_
