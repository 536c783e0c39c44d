// benchmarks/bench_util.h: loopback servers (from testing/servers.h) and
// process probes shared by the Google Benchmark binaries in this folder.
// Everything listens on 127.0.0.1 or ::1 only. Errors abort: a benchmark
// without its fixture measures nothing.

#ifndef TETHER_BENCHMARKS_BENCH_UTIL_H_
#define TETHER_BENCHMARKS_BENCH_UTIL_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "testing/servers.h"
#include "tether/address.h"
#include "tether/socket.h"

namespace tether {
namespace bench {

// The loopback server the connect benchmarks connect to: testing/servers.h's
// Listener in kClose mode (a 4096 backlog and its own accept thread, which
// closes each connection at once with a plain FIN; see
// benchmarks/peers/sink.cc for why not an RST).
class Sink : public testing::Listener {
 public:
  explicit Sink(int family = AF_INET) : Listener(Mode::kClose, family) {}
};

// A listener whose accept queue is full: every further SYN is dropped, so a
// connect to it stays in progress (SYN_SENT) until the client gives up.
using testing::HangingListener;

// "127.0.0.1" or "::1".
const char* LoopbackIp(int family);

// A raw blocking connect to 127.0.0.1:port; returns the descriptor.
int RawConnect(uint16_t port);

// Closes `fd` with SO_LINGER {1, 0} (an RST: no TIME_WAIT on either side).
void CloseRst(int fd);
// The same for a connected tether Socket; a no-op for a failed one.
void CloseRst(Socket& socket);

// Raises RLIMIT_NOFILE (soft and, as root, hard) to at least `n`; returns
// the soft limit in effect afterwards.
uint64_t RaiseFdLimit(uint64_t n);

// A "Key:  123 kB" line of /proc/self/status or /proc/meminfo, in KiB;
// -1 when absent.
int64_t StatusKib(const char* key);
int64_t MeminfoKib(const char* key);

// Sockets in SYN_SENT towards `port` on loopback, from /proc/net/tcp{,6}.
int CountSynSent(uint16_t port);

// The p-th percentile (0..100) of `v` (sorted in place); 0 when empty.
double Percentile(std::vector<double>& v, double p);

}  // namespace bench
}  // namespace tether

#endif  // TETHER_BENCHMARKS_BENCH_UTIL_H_
