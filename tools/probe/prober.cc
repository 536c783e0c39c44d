#include "tools/probe/prober.h"

#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "tether/channel.h"

namespace tether {
namespace probe {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(2);
constexpr absl::Duration kFrameInterval = absl::Milliseconds(100);

ConnectorOptions ConnectorOptionsFrom(const ProbeArgs& args) {
  ConnectorOptions o;
  o.max_workers = args.max_workers;
  return o;
}

// Write, half-close, read to end-of-stream: TIP 332 in one exchange.
void RunExchange(Socket& socket, const std::string& text, Exchange& out) {
  absl::Status s = socket.WriteAll(text);
  if (s.ok()) s = socket.Close(Direction::kWrite);
  if (s.ok()) {
    absl::StatusOr<std::string> reply = socket.ReadToEnd(kMaxReply);
    if (reply.ok()) out.reply = *std::move(reply);
    s = reply.status();
  }
  out.status = s;
  (void)socket.Close();  // Idempotent; the caller may have closed it first.
  // release: publishes status and reply to the acquire-load in Advance().
  out.done.store(true, std::memory_order_release);
}

}  // namespace

Prober::Prober(const ProbeArgs& args, absl::Duration timeout)
    : args_(args),
      timeout_(timeout),
      send_(args.send),
      connector_(ConnectorOptionsFrom(args)) {}

Prober::~Prober() {
  for (const std::unique_ptr<Probe>& p : probes_) {
    if (p->exchange != nullptr && p->exchange->thread.joinable()) {
      p->exchange->thread.join();
    }
  }
}

ConnectOptions Prober::OptionsFor(Probe* probe) const {
  ConnectOptions o;
  o.family = args_.family;
  o.timeout = timeout_;
  o.attempt_timeout = args_.attempt_timeout;
  o.happy_eyeballs_delay = args_.happy_eyeballs_delay;
  o.local_address = args_.local_address;
  o.tcp_nodelay = args_.nodelay;
  o.on_complete = [probe](Socket&) {
    // relaxed: a timestamp only; see Probe::completed_ns.
    probe->completed_ns.store(absl::ToUnixNanos(absl::Now()),
                              std::memory_order_relaxed);
  };
  return o;
}

void Prober::StartAll(const std::vector<Target>& targets) {
  start_ = absl::Now();
  probes_.reserve(targets.size());
  for (const Target& t : targets) {
    auto p = std::make_unique<Probe>();
    p->target = t;
    p->start = absl::Now();
    Probe* raw = p.get();
    probes_.push_back(std::move(p));
    raw->socket = connector_.Connect(t.host, t.port, OptionsFor(raw));
  }
}

void Prober::Run(const std::function<void(const Prober&)>& frame,
                 const std::function<bool()>& interrupted) {
  absl::Time next_frame = absl::Now();
  bool cancelled = false;
  for (;;) {
    if (!cancelled && interrupted && interrupted()) {
      CancelAll();
      cancelled = true;
    }
    bool all_done = true;
    for (const std::unique_ptr<Probe>& p : probes_) all_done &= Advance(*p);
    if (all_done) return;
    if (frame && absl::Now() >= next_frame) {
      frame(*this);
      next_frame = absl::Now() + kFrameInterval;
    }
    absl::SleepFor(kPollInterval);
  }
}

void Prober::CancelAll() {
  for (const std::unique_ptr<Probe>& p : probes_) {
    if (!Finished(*p)) (void)p->socket->Close();  // cancels or ends the read
  }
}

bool Prober::Advance(Probe& probe) {
  if (Finished(probe)) return true;
  if (!probe.connect_done()) return false;
  // Connected, with --send, and the exchange is not finished.
  Exchange* x = probe.exchange.get();
  if (x == nullptr) {
    StartExchange(probe);
  } else if (!x->timed_out.load(std::memory_order_relaxed) &&
             absl::Now() - x->start > timeout_) {
    // relaxed: only this thread writes it, and reads it after `done`.
    x->timed_out.store(true, std::memory_order_relaxed);
    (void)probe.socket->Close();  // wakes the blocked Read with kCancelled
  }
  return false;
}

void Prober::StartExchange(Probe& probe) {
  probe.exchange = std::make_unique<Exchange>();
  Exchange* x = probe.exchange.get();
  x->start = absl::Now();
  Socket* socket = probe.socket.get();
  x->thread = std::thread(
      [socket, x, text = *send_] { RunExchange(*socket, text, *x); });
}

bool Prober::Finished(const Probe& probe) const {
  if (!probe.connect_done()) return false;
  if (!send_.has_value() || !probe.socket->error().ok()) return true;
  const Exchange* x = probe.exchange.get();
  // acquire: pairs with the release in RunExchange().
  return x != nullptr && x->done.load(std::memory_order_acquire);
}

size_t Prober::done() const {
  size_t n = 0;
  for (const std::unique_ptr<Probe>& p : probes_) n += Finished(*p) ? 1 : 0;
  return n;
}

}  // namespace probe
}  // namespace tether
