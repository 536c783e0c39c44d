// tests/testing/loopback.h: loopback servers and process probes for tests.
//
// The servers (Listener, HangingListener, RefusingPort, HaveIPv6Loopback)
// live in testing/servers.h, shared with the benchmarks and tether-probe's
// demo; this header brings them in. Everything listens on 127.0.0.1 or ::1
// only.

#ifndef TETHER_TESTS_TESTING_LOOPBACK_H_
#define TETHER_TESTS_TESTING_LOOPBACK_H_

#include <sys/types.h>

#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "testing/servers.h"  // IWYU pragma: export

namespace tether {
namespace testing {

// Open descriptors (/proc/self/fd) and threads (/proc/self/task) now.
int CountOpenFds();
int CountThreads();

// The ids of this process's threads now (/proc/self/task).
std::vector<pid_t> ThreadIds();

// A numeric field of /proc/self/status (e.g. "FDSize"); -1 if absent.
long StatusField(const char* name);

// Waits until the process has at most `n` threads; false on timeout. A
// joined thread leaves /proc/self/task a moment after pthread_join()
// returns, and a detached one (a resolver thread) when it has finished.
bool WaitForThreads(int n, absl::Duration timeout = absl::Seconds(10));

// Whether thread `tid` of this process is asleep (state S in its stat): a
// test thread that has nothing else to block on is then inside a blocking
// call.
bool ThreadIsSleeping(pid_t tid);

// Polls `condition` until it holds or `timeout` passes; returns its value.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10));

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_LOOPBACK_H_
