// tools/probe/prober.h: starts every connect at once and watches them.
//
// How it works: StartAll() calls Connector::Connect() once per target; each
// returns at once. Run() then polls the sockets' lock-free queries
// (connecting(), error()) every few milliseconds; nothing here waits on a
// socket or runs an event loop. With --send, each socket seen connected gets
// a thread that writes the text, half-closes, and reads the reply to
// end-of-stream; the poll loop enforces that exchange's deadline by closing
// the socket (a blocked Read then returns kCancelled at once).
//
// Threads: the caller's thread owns the Prober and every Probe. A Connector
// thread runs on_complete, which only stores Probe::completed_ns. An
// exchange thread writes its Exchange's status and reply, then release-stores
// `done`; the caller reads them only after acquire-loading `done` as true.

#ifndef TETHER_TOOLS_PROBE_PROBER_H_
#define TETHER_TOOLS_PROBE_PROBER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tether/connector.h"
#include "tether/socket.h"
#include "tools/probe/args.h"

namespace tether {
namespace probe {

// Replies longer than this are cut off (the exchange fails).
inline constexpr size_t kMaxReply = 1 << 20;

// The --send exchange on one connected socket.
struct Exchange {
  absl::Time start;                    // written by the caller's thread
  std::atomic<bool> timed_out{false};  // written by the caller's thread
  // release: stored by the exchange thread after status and reply, so an
  // acquire-load that sees true may read them.
  std::atomic<bool> done{false};
  absl::Status status;  // of the write, half-close and read
  std::string reply;
  std::thread thread;
};

// One target and its connect.
struct Probe {
  Target target;
  std::shared_ptr<Socket> socket;
  absl::Time start;
  // When on_complete ran (Unix ns); 0 before. Written once by whichever thread
  // runs on_complete; relaxed: only a timestamp, the socket's own state is
  // read through its acquire-loading queries.
  std::atomic<int64_t> completed_ns{0};
  std::unique_ptr<Exchange> exchange;  // --send only; null until started

  bool connect_done() const {
    return !socket->connecting() &&
           completed_ns.load(std::memory_order_relaxed) != 0;
  }
  absl::Duration connect_time() const {
    return absl::FromUnixNanos(completed_ns.load(std::memory_order_relaxed)) -
           start;
  }
};

class Prober {
 public:
  // Connect options from `args`; `timeout` is the whole-connect timeout (and
  // the --send exchange's).
  Prober(const ProbeArgs& args, absl::Duration timeout);
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;
  // Joins the exchange threads, then destroys the Connector.
  ~Prober();

  // Starts a connect to every target; returns at once.
  void StartAll(const std::vector<Target>& targets);

  // Polls until every connect (and exchange) is finished, calling `frame`
  // (if set) about every 100 ms meanwhile. Once `interrupted` (if set)
  // returns true, closes every socket still connecting or exchanging, so
  // those end cancelled.
  void Run(const std::function<void(const Prober&)>& frame,
           const std::function<bool()>& interrupted = nullptr);

  const std::vector<std::unique_ptr<Probe>>& probes() const { return probes_; }
  // How many probes are finished, by the lock-free queries.
  size_t done() const;
  // Whether `probe`'s connect (and exchange) is over.
  bool Finished(const Probe& probe) const;
  absl::Time start() const { return start_; }
  bool sending() const { return send_.has_value(); }

 private:
  ConnectOptions OptionsFor(Probe* probe) const;
  bool Advance(Probe& probe);  // true once `probe` is finished
  void StartExchange(Probe& probe);
  void CancelAll();

  const ProbeArgs& args_;
  const absl::Duration timeout_;
  const std::optional<std::string> send_;
  absl::Time start_;
  // Before connector_: on_complete writes into Probes, so they must outlive
  // the Connector (destroyed first, it runs every pending on_complete).
  std::vector<std::unique_ptr<Probe>> probes_;
  Connector connector_;
};

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_PROBER_H_
