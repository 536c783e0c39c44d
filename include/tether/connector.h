// tether/connector.h: the connect service.
//
//   tether::Connector connector;
//   std::shared_ptr<tether::Socket> s = connector.Connect("localhost", 80);
//   while (s->connecting()) DoOtherWork();   // no event loop needed
//   if (!s->error().ok()) ...
//
// Connect() returns at once. A resolver thread resolves the host; then a
// worker thread tries its addresses, blocking itself (never the caller) for
// each connect, or races them per RFC 8305, Happy Eyeballs, when there are
// several; it publishes each state for the Socket's lock-free queries.
//
// Nothing stuck delays anything else (issue 14):
//  - Name resolution runs on its own bounded set of threads
//    (ConnectorOptions::max_resolvers), never on the caller's thread nor on
//    a worker: a connect occupies a worker only once it has addresses to
//    try. A hung resolver holds a resolver thread, nothing more.
//  - Per destination (the first address and port to try, or the Unix
//    path), at most max_pending_per_destination connects hold workers at
//    once; more wait in that destination's own line, holding no thread, so
//    connects to other destinations never queue behind them.
//  - A deadline that passes while a connect still waits says what for:
//    "connect <target>: timed out waiting for the resolver", "... timed out
//    waiting for a worker (32 of 32 busy)", or "... (24 of 24 busy with
//    this destination)". An attempt's timing (attempts()) starts when it
//    has a worker.
//
// Workers are dedicated threads with small stacks, created on demand up to
// ConnectorOptions::max_workers and retired after being idle for a while, so
// thousands of blocked connects fit.
//
// Which error wins: when every address fails, error() reports the FIRST
// attempt's errno (Go's rule), and its message names every address tried with
// its error. Every failure message has one shape, Go's OpError: the
// operation, the target once, then the cause:
//
//   connect 127.0.0.1:22: Connection refused
//   connect "db.internal": [::1]:5432: Connection refused; 10.0.0.7:5432: ...
//   connect /run/app.sock: No such file or directory
//
// The errno is error_code(), not part of the text.
//
// Thread safety: a Connector is safe for concurrent use from any number of
// threads without external synchronization. It may be destroyed while
// attempts are pending, from any thread, including from inside on_complete
// and while other threads are inside ConnectAndWait(): they are cancelled
// (their sockets report kCancelled), blocked connects are interrupted, and
// the destructor returns once every on_complete owed has run (a pool of
// more than 64 workers finishes exiting afterwards). It never waits for a
// resolver thread. Sockets stay valid after the Connector is gone.
// docs/index.md, "Callbacks and lifetimes", says on which thread
// on_complete runs and what it may do.
//
// What still runs after ~Connector returns: resolver threads still inside
// Resolver::Resolve() (getaddrinfo() cannot be interrupted; with
// resolv.conf's defaults it may block 5 to 30 s). Each is detached and owns
// only reference-counted state (its Socket, already published as
// kCancelled, its request, the Resolver, and a weak reference to the
// Connector's internals); when the resolver returns, it drops the answer
// and exits on its own. It may run ~Socket (and so the socket's
// completion-queue and on_complete captures' destructors) and the last
// release of the options' Resolver. A process may exit (return from main(),
// exit()) while such a thread is inside getaddrinfo(): that is safe, the
// thread simply ends with the process; a custom Resolver must tolerate
// being called then (and socket_ops must outlive those threads, see below).

#ifndef TETHER_INCLUDE_TETHER_CONNECTOR_H_
#define TETHER_INCLUDE_TETHER_CONNECTOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/address.h"
#include "tether/completion_queue.h"
#include "tether/resolver.h"
#include "tether/socket.h"

namespace tether {

namespace internal {
class ConnectorImpl;
class SocketOps;
}  // namespace internal

struct ConnectorOptions {
  // Upper bound of the elastic pool; threads exit when idle. Must be >= 1.
  int max_workers = 1024;
  // Bytes of stack per worker; small, so thousands of blocked connects fit.
  // Must be at least 64 KiB.
  size_t worker_stack_size = 256 * 1024;
  // Connects waiting for a resolver or a worker (in the pool's queue or a
  // destination's line) beyond this: Connect() returns a failed Socket
  // (kResourceExhausted). A waiting connect that is cancelled or times out
  // frees its slot at once. Clamped to [1, 2^30].
  size_t max_queued = 65536;
  // Null: Resolver::Default() (getaddrinfo).
  std::shared_ptr<Resolver> resolver;
  // Name resolutions running at once, each on its own (detached) thread;
  // more wait their turn, holding no thread. Happy Eyeballs resolves both
  // families, two at once. Clamped to [1, 4096].
  int max_resolvers = 64;
  // Connects holding workers at once for one destination (the first
  // address and port a connect tries, or its Unix path); more wait in that
  // destination's own line, holding no thread, and connects to other
  // destinations never queue behind them. Clamped to [1, S], where S, the
  // share of the pool one destination may take, is max_workers -
  // max_workers / 4 (at least 1): 24 of 32 workers, 768 of the default
  // 1,024 (so the default 256 stands). With max_workers 1 a single
  // destination can still take the only worker.
  int max_pending_per_destination = 256;
  // How long an idle worker stays before it exits.
  absl::Duration worker_idle_timeout = absl::Seconds(2);
  // Testing seam for every socket system call; null: the real OS. Not part
  // of the stable API. Must outlive the Connector, its Sockets and every
  // thread it started: a resolver thread still in a lookup, or the thread
  // that finishes a Connector destroyed inside on_complete, may be its last
  // owner and close its eventfd through this after ~Connector returned.
  internal::SocketOps* socket_ops = nullptr;
};

// TCP keepalive probes on the connected socket (SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT). Off by default, like the kernel's default.
// Times are rounded up to whole seconds; each must be in (0, 32767 s], and
// count in [1, 127] (Linux's bounds), else kInvalidArgument.
struct KeepAlive {
  bool enabled = false;
  absl::Duration idle = absl::Seconds(15);      // quiet time before probing
  absl::Duration interval = absl::Seconds(15);  // between probes
  int count = 9;  // unanswered probes before the connection is dropped
};

struct ConnectOptions {
  // Bind before connect (Tcl -myaddr); "" = any. A numeric IP address; a
  // family that cannot reach a numeric host (or the requested family) is
  // kInvalidArgument from Connect(). With local_port 0 the port is chosen
  // by connect(), not bind() (IP_BIND_ADDRESS_NO_PORT), so one local
  // address can reach many destinations without exhausting its ports.
  std::string local_address;
  uint16_t local_port = 0;  // Tcl -myport; 0 = any
  // Which address families to use; kAny races both (Happy Eyeballs).
  Family family = Family::kAny;
  // Per address: an attempt still pending after this is kTimedOut
  // (ETIMEDOUT) and the next address is tried.
  absl::Duration attempt_timeout = absl::InfiniteDuration();
  // The whole connect, resolution included: kDeadlineExceeded (ETIMEDOUT),
  // published on time even if a resolver or connect() is stuck.
  absl::Duration timeout = absl::InfiniteDuration();
  // The same, as an absolute time; the earlier of `deadline` and
  // Connect()'s time + `timeout` wins. One already past times out at once.
  absl::Time deadline = absl::InfiniteFuture();
  // RFC 8305 Connection Attempt Delay: start the next address when the
  // current one has neither succeeded nor failed after this long. 0 tries
  // one address at a time, in order.
  absl::Duration happy_eyeballs_delay = absl::Milliseconds(250);
  // Sets TCP_NODELAY on the socket (Nagle off). IP only, like `keepalive`
  // and `bind_interface`: a Unix-domain connect ignores them.
  bool tcp_nodelay = false;
  KeepAlive keepalive;
  // SO_BINDTODEVICE: only this interface ("eth0") is used; "" = any. An
  // interface that does not exist fails each attempt with ENODEV, one the
  // process may not bind to (it needs CAP_NET_RAW) with EPERM; the message
  // names the interface. At most 15 bytes.
  std::string bind_interface;
  // Runs on a library thread for every attempt, after socket() and the
  // options above and before bind() and connect(), possibly for several
  // attempts at once (Happy Eyeballs). Set any option on `fd` there; never
  // close it. A non-OK result fails that attempt with that status (its
  // code, and "control: " and its message; recorded in attempts() with its
  // errno, or ECONNABORTED). Must not throw.
  std::function<absl::Status(int fd, const SocketAddress& target)> control;
  // Runs exactly once per socket, after its final state is published: on a
  // library thread with worker_stack_size of stack (the socket's worker, or
  // the Connector's callback thread for a socket cancelled or timed out
  // while it had no running worker; never the deadline timer's thread), or
  // on the caller's thread before Connect() returns when the socket
  // completes inside Connect() (bad input, full queue, Connector shutting
  // down). Never called under a tether lock. It may call Connect(), Close()
  // and block, and it may destroy the Connector.
  absl::AnyInvocable<void(Socket&)> on_complete;
  // Null: none. Otherwise the socket is pushed to this queue exactly once,
  // when it completes (connected, failed or cancelled, bad input and
  // ~Connector included): after its final state is published and before
  // on_complete runs. Several Connectors may share one queue. See
  // completion_queue.h.
  std::shared_ptr<CompletionQueue> completion_queue;
};

struct ConnectorStats {
  uint64_t submitted = 0;  // Connect() calls
  uint64_t in_flight = 0;  // submitted and not yet complete
  uint64_t connected = 0;
  uint64_t failed = 0;  // completed with an error other than kCancelled
  uint64_t cancelled = 0;
  uint64_t attempts = 0;   // addresses tried (connect() calls started)
  uint64_t workers = 0;    // live worker threads
  uint64_t resolving = 0;  // in name resolution now (or waiting for it)
  uint64_t queued = 0;     // resolved (or numeric) and waiting for a worker
};

class Connector {
 public:
  // Starts no thread until the first Connect(). Invalid options are clamped
  // to the nearest valid value.
  explicit Connector(ConnectorOptions options = {});
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;
  // Cancels what is still pending (queued, resolving and waiting connects
  // included), makes every later Connect() complete at once with kCancelled
  // ("connector is shutting down"), waits for every on_complete of its
  // sockets (those of the cancelled ones included), and returns. Every
  // pending socket reports kCancelled by then. It never waits for a
  // resolver: resolutions not yet started are dropped, and a thread stuck
  // inside Resolver::Resolve() is abandoned (see "What still runs after
  // ~Connector returns" above). Up to 64 workers are joined first; a larger
  // pool's threads exit afterwards, nothing they use being freed before
  // (10,000 pending: ~Connector about 5 - 15 ms, threads gone within
  // 0.3 - 0.8 s; docs/performance.md section 6). Called from inside an
  // on_complete, it does not wait for that callback: its thread exits on
  // its own afterwards. Sockets stay valid.
  ~Connector();

  // Starts connecting to `host` (a name or a numeric address) on `port` and
  // returns at once; never blocks on the network and never resolves on this
  // thread. Bad arguments (empty, over-long (> 255 bytes) or NUL-containing
  // host, a port outside [1, 65535], an unparsable local_address, or one
  // whose family the requested family or a numeric host rules out, a
  // non-positive timeout or attempt_timeout, a negative
  // happy_eyeballs_delay, keepalive values out of range, an over-long
  // bind_interface) give a Socket already complete with kInvalidArgument
  // naming the bad value. Never returns null.
  // `options` is move-only (it owns on_complete): make one per call.
  [[nodiscard]] std::shared_ptr<Socket> Connect(absl::string_view host,
                                                int port,
                                                ConnectOptions options = {});

  // Connects to exactly `address` (IPv4, IPv6 or Unix-domain, see
  // SocketAddress::Unix()): no resolution, one attempt. Otherwise like
  // Connect() above; an empty address, or port 0, is kInvalidArgument.
  [[nodiscard]] std::shared_ptr<Socket> Connect(const SocketAddress& address,
                                                ConnectOptions options = {});

  // Connect(), then Wait(). Returns the socket when it connected, otherwise
  // its error(). When the host is numeric (and the resolver the default), the
  // connect runs on the calling thread, which blocks anyway: no hand-off to a
  // worker, and on_complete runs on this thread before the call returns
  // (also when the timeout fires). Timeouts, Close() from another thread and
  // ~Connector (from any thread, also meanwhile) still interrupt it.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<Socket>> ConnectAndWait(
      absl::string_view host, int port, ConnectOptions options = {});

  // A snapshot of the counters; each is read separately (relaxed), so they
  // need not add up exactly while connects are running. A socket is counted
  // (connected, failed or cancelled) when its final state is published,
  // before Wait() returns for it.
  [[nodiscard]] ConnectorStats stats() const;

 private:
  std::shared_ptr<internal::ConnectorImpl> impl_;
};

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_CONNECTOR_H_
