// libFuzzer target: a whole connect driven by a script read from the input.
//
// The input scripts a resolver (up to 8 addresses, each a loopback sink, a
// refusing port, a port whose accept queue is full, or an unusable
// address, in IPv4 or IPv6; per-family errors and delays of a few ms),
// faults in the OS seam (errno failures of socket, bind, connect,
// getsockname, getpeername, setsockopt, poll and pthread_create; connect
// interrupted by EINTR; close reporting EINTR; delays), the connect options
// (family, Happy Eyeballs delay, timeouts, local address) and a cancel or a
// Connector destroyed mid-flight. Every connect runs on a fresh Connector
// over a FaultInjectingSocketOps and has a whole-connect timeout, so it
// must finish.
//
// Properties: it completes within its timeout (plus slack); on_complete
// runs exactly once; error_code() and error() agree (the code is
// absl::ErrnoToStatusCode of the errno); a connected socket's peer is one
// of the scripted sinks and is its last attempt's address; every attempt
// is at a scripted address; with no fault, no cancel and only sinks, the
// connect succeeds; and once the Connector is gone every socket made
// through the seam was closed exactly once, with no stray close().

#include <errno.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/fault_injecting_socket_ops.h"
#include "tests/testing/loopback.h"
#include "tests/testing/sink_server.h"
#include "tether/connector.h"

namespace {

using tether::Attempt;
using tether::ConnectOptions;
using tether::Connector;
using tether::ConnectorOptions;
using tether::Family;
using tether::Socket;
using tether::SocketAddress;
using tether::testing::Action;
using tether::testing::Call;
using tether::testing::CallInfo;
using tether::testing::CallName;
using tether::testing::FakeResolver;
using tether::testing::FaultInjectingSocketOps;

// A scripted lookup may still be sleeping on a resolver thread when
// ~Connector returns; that thread may then be the Connector's last owner
// and close its eventfd through the seam, which must outlive it
// (connector.h). So the resolver owns the seam too: the Connector drops
// both last.
class SeamOwningResolver : public tether::Resolver {
 public:
  SeamOwningResolver(std::shared_ptr<FakeResolver> resolver,
                     std::shared_ptr<FaultInjectingSocketOps> ops)
      : resolver_(std::move(resolver)), ops_(std::move(ops)) {}
  absl::StatusOr<std::vector<SocketAddress>> Resolve(absl::string_view host,
                                                     uint16_t port,
                                                     Family family) override {
    return resolver_->Resolve(host, port, family);
  }

 private:
  const std::shared_ptr<FakeResolver> resolver_;
  const std::shared_ptr<FaultInjectingSocketOps> ops_;
};

// The servers every input may use; made once.
struct Servers {
  bool v6 = tether::testing::HaveIPv6Loopback();
  tether::testing::SinkServer sink4{AF_INET};
  tether::testing::RefusingPort refusing4{AF_INET};
  tether::testing::HangingListener hanging4{AF_INET};
  std::unique_ptr<tether::testing::SinkServer> sink6;
  std::unique_ptr<tether::testing::RefusingPort> refusing6;
  std::unique_ptr<tether::testing::HangingListener> hanging6;

  Servers() {
    if (v6) {
      sink6 = std::make_unique<tether::testing::SinkServer>(AF_INET6);
      refusing6 = std::make_unique<tether::testing::RefusingPort>(AF_INET6);
      hanging6 = std::make_unique<tether::testing::HangingListener>(AF_INET6);
    }
  }
};

Servers& GetServers() {
  static Servers* servers = new Servers();  // never destroyed
  return *servers;
}

[[noreturn]] void Violated(const std::string& what, const Socket& s) {
  fprintf(stderr, "property violated: %s; status: %s\n", what.c_str(),
          s.error().ToString().substr(0, 400).c_str());
  abort();
}

constexpr int kErrnos[] = {ECONNREFUSED,  ENETUNREACH,  EHOSTUNREACH, ETIMEDOUT,
                           EADDRNOTAVAIL, EADDRINUSE,   EMFILE,       ENFILE,
                           ENOBUFS,       EAFNOSUPPORT, EACCES,       EPERM,
                           ENOMEM,        EINVAL,       ENOTCONN};

int FuzzErrno(FuzzedDataProvider& in) {
  return kErrnos[in.ConsumeIntegralInRange<size_t>(
      0, sizeof(kErrnos) / sizeof(kErrnos[0]) - 1)];
}

// One scripted fault: the `nth` call of `call` gets `action`.
struct Fault {
  Call call;
  int nth;
  Action action;
};

Fault FuzzFault(FuzzedDataProvider& in) {
  static const Call kCalls[] = {Call::kSocket,      Call::kBind,
                                Call::kConnect,     Call::kGetSockName,
                                Call::kGetPeerName, Call::kSetSockOpt,
                                Call::kPoll,        Call::kClose,
                                Call::kStartThread, Call::kSetNonBlocking};
  Fault f;
  f.call = kCalls[in.ConsumeIntegralInRange<size_t>(
      0, sizeof(kCalls) / sizeof(kCalls[0]) - 1)];
  f.nth = in.ConsumeIntegralInRange(0, 3);
  const int kind = in.ConsumeIntegralInRange(0, 3);
  if (f.call == Call::kClose) {
    // A failed close() still releases the descriptor on Linux.
    f.action = Action::RealThenFail(in.ConsumeBool() ? EINTR : EIO);
  } else if (f.call == Call::kConnect && kind == 0) {
    f.action = Action::InterruptConnect();
  } else if (kind == 1) {
    f.action =
        Action::Delay(absl::Milliseconds(in.ConsumeIntegralInRange(0, 5)));
  } else if (f.call == Call::kStartThread) {
    f.action = Action::Fail(EAGAIN);
  } else {
    f.action = Action::Fail(FuzzErrno(in));
  }
  return f;
}

enum Kind { kSink, kRefusing, kHanging, kUnusable };

// A per-family resolver script (FakeResolver::SetAnswer's arguments).
struct Answer {
  Family family;
  absl::StatusOr<std::vector<SocketAddress>> answer;
  absl::Duration delay;
};

struct Script {
  std::vector<SocketAddress> addresses;
  std::vector<Answer> answers;
  std::vector<SocketAddress> sinks;
  bool only_sinks = true;
  std::vector<Fault> faults;
  ConnectOptions options;
  bool resolver_error = false;
  int cancel = 0;  // 0 none, 1 Close() after a delay, 2 ~Connector
  absl::Duration cancel_after;
};

Script ReadScript(FuzzedDataProvider& in, Servers& servers) {
  Script s;
  const int n = in.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < n; ++i) {
    const bool v6 = servers.v6 && in.ConsumeBool();
    const Kind kind = static_cast<Kind>(in.ConsumeIntegralInRange(0, 3));
    SocketAddress a;
    switch (kind) {
      case kSink:
        a = v6 ? servers.sink6->address() : servers.sink4.address();
        s.sinks.push_back(a);
        break;
      case kRefusing:
        a = v6 ? servers.refusing6->address() : servers.refusing4.address();
        break;
      case kHanging:
        a = v6 ? servers.hanging6->address() : servers.hanging4.address();
        break;
      case kUnusable:
        a = in.ConsumeBool() ? SocketAddress()  // AF_UNSPEC
                             : *SocketAddress::Parse("127.0.0.1", 0);
        break;
    }
    if (kind != kSink) s.only_sinks = false;
    s.addresses.push_back(a);
  }
  for (Family f : {Family::kAny, Family::kIPv4, Family::kIPv6}) {
    const int mode = in.ConsumeIntegralInRange(0, 3);
    const absl::Duration delay =
        absl::Milliseconds(in.ConsumeIntegralInRange(0, 4));
    if (mode == 1) {
      s.answers.push_back(
          {f, absl::UnavailableError("scripted failure"), delay});
      s.resolver_error = true;
    } else if (mode == 2) {
      std::vector<SocketAddress> answer;
      for (const SocketAddress& a : s.addresses) {
        if (f == Family::kAny ||
            (f == Family::kIPv4 && a.family() != AF_INET6) ||
            (f == Family::kIPv6 && a.family() == AF_INET6)) {
          answer.push_back(a);
        }
      }
      s.answers.push_back({f, answer, delay});
    }
  }
  const int faults = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < faults; ++i) s.faults.push_back(FuzzFault(in));

  ConnectOptions& o = s.options;
  o.family = static_cast<Family>(in.ConsumeIntegralInRange(0, 2));
  o.happy_eyeballs_delay = absl::Milliseconds(in.ConsumeIntegralInRange(0, 30));
  o.attempt_timeout =
      in.ConsumeBool() ? absl::InfiniteDuration()
                       : absl::Milliseconds(in.ConsumeIntegralInRange(1, 60));
  o.timeout = absl::Milliseconds(in.ConsumeIntegralInRange(1, 150));
  o.tcp_nodelay = in.ConsumeBool();
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    o.local_address = in.ConsumeBool() ? "127.0.0.1" : "::1";
  }
  s.cancel = in.ConsumeIntegralInRange(0, 5);
  if (s.cancel > 2) s.cancel = 0;
  s.cancel_after = absl::Microseconds(in.ConsumeIntegralInRange(0, 3000));
  return s;
}

// With TETHER_FUZZ_VERBOSE set, prints the script (to read a crash input).
void Describe(const Script& s) {
  static const bool verbose = getenv("TETHER_FUZZ_VERBOSE") != nullptr;
  if (!verbose) return;
  fprintf(stderr, "script: %zu addresses:", s.addresses.size());
  for (const SocketAddress& a : s.addresses) {
    fprintf(stderr, " %s", a.ToString().c_str());
  }
  fprintf(stderr, "\n  %zu resolver scripts, %zu faults:", s.answers.size(),
          s.faults.size());
  for (const Fault& f : s.faults) {
    fprintf(stderr, " %s#%d(kind %d err %d delay %s)", CallName(f.call), f.nth,
            static_cast<int>(f.action.kind), f.action.err,
            absl::FormatDuration(f.action.delay).c_str());
  }
  const ConnectOptions& o = s.options;
  fprintf(stderr,
          "\n  family %d, delay %s, attempt %s, timeout %s, local \"%s\", "
          "cancel %d after %s\n",
          static_cast<int>(o.family),
          absl::FormatDuration(o.happy_eyeballs_delay).c_str(),
          absl::FormatDuration(o.attempt_timeout).c_str(),
          absl::FormatDuration(o.timeout).c_str(), o.local_address.c_str(),
          s.cancel, absl::FormatDuration(s.cancel_after).c_str());
}

bool Contains(const std::vector<SocketAddress>& list, const SocketAddress& a) {
  for (const SocketAddress& x : list) {
    if (x == a) return true;
  }
  return false;
}

// Whether the connect must succeed: only sinks, of a usable family, no
// fault, no cancel, no resolver error, no local address.
bool MustConnect(const Script& s) {
  if (!s.only_sinks || !s.faults.empty() || s.cancel != 0 || s.resolver_error ||
      !s.options.local_address.empty()) {
    return false;
  }
  for (const SocketAddress& a : s.sinks) {
    if (s.options.family == Family::kAny ||
        (s.options.family == Family::kIPv4 && a.family() == AF_INET) ||
        (s.options.family == Family::kIPv6 && a.family() == AF_INET6)) {
      return true;
    }
  }
  return false;
}

void CheckResult(const Script& script, const Socket& s) {
  const absl::Status& e = s.error();
  if (s.error_code() != 0 &&
      e.code() != absl::ErrnoToStatusCode(s.error_code())) {
    Violated(absl::StrCat("code disagrees with errno ", s.error_code()), s);
  }
  std::vector<Attempt> attempts = s.attempts();
  for (const Attempt& a : attempts) {
    if (!Contains(script.addresses, a.address)) {
      Violated("attempt at an address the resolver never gave: " +
                   a.address.ToString(),
               s);
    }
  }
  if (e.ok()) {
    if (!s.peername().has_value() || !Contains(script.sinks, *s.peername())) {
      Violated("connected to something other than a sink", s);
    }
    bool found = false;
    for (const Attempt& a : attempts) {
      if (a.outcome == Attempt::Outcome::kConnected) {
        if (found || !(a.address == *s.peername())) {
          Violated("connected attempts disagree with peername", s);
        }
        found = true;
      }
    }
    if (!found) Violated("connected without a connected attempt", s);
  } else if (s.peername().has_value() || s.fd() != -1) {
    Violated("a failed socket publishes an address or descriptor", s);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Servers& servers = GetServers();
  const int threads = tether::testing::CountThreads();
  FuzzedDataProvider in(data, size);
  Script script = ReadScript(in, servers);
  Describe(script);
  // Families without a script get the address list, filtered by family.
  auto scripted = std::make_shared<FakeResolver>(script.addresses);
  for (const Answer& a : script.answers) {
    scripted->SetAnswer(a.family, a.answer, a.delay);
  }
  auto seam = std::make_shared<FaultInjectingSocketOps>();
  FaultInjectingSocketOps& ops = *seam;
  for (const Fault& f : script.faults) {
    const Call call = f.call;
    const int nth = f.nth;
    const Action action = f.action;
    ops.SetBefore(call, [nth, action](const CallInfo& c) {
      return c.seq == nth ? action : Action::Pass();
    });
  }
  const bool must_connect = MustConnect(script);
  if (must_connect) script.options.timeout = absl::Seconds(5);
  const absl::Duration timeout = script.options.timeout;

  auto calls = std::make_shared<std::atomic<int>>(0);
  script.options.on_complete = [calls](Socket&) { (*calls)++; };
  std::shared_ptr<Socket> s;
  {
    ConnectorOptions co;
    co.resolver = std::make_shared<SeamOwningResolver>(scripted, seam);
    co.socket_ops = &ops;
    co.worker_idle_timeout = absl::Milliseconds(50);
    auto connector = std::make_unique<Connector>(std::move(co));
    const absl::Time start = absl::Now();
    s = connector->Connect("fuzz.test", 1, std::move(script.options));
    if (script.cancel != 0) absl::SleepFor(script.cancel_after);
    if (script.cancel == 1) (void)s->Close();
    if (script.cancel == 2) connector.reset();
    if (!s->Wait(timeout + absl::Seconds(5))) {
      Violated("did not complete within its timeout", *s);
    }
    if (absl::Now() - start > timeout + absl::Seconds(5)) {
      Violated("completed late", *s);
    }
    CheckResult(script, *s);
    if (must_connect && !s->error().ok()) {
      Violated("failed although only sinks were given", *s);
    }
    const int fd = s->fd();
    if (fd >= 0) tether::testing::LingerZero(fd);
    (void)s->Close();
  }  // ~Connector: joins every worker
  if (calls->load() != 1) {
    Violated(absl::StrCat("on_complete ran ", calls->load(), " times"), *s);
  }
  if (ops.sockets_open() != 0 || ops.stray_closes() != 0) {
    Violated(absl::StrCat("seam sockets: ", ops.sockets_opened(), " opened, ",
                          ops.sockets_closed(), " closed, ", ops.stray_closes(),
                          " stray closes"),
             *s);
  }
  for (int n : ops.close_calls_per_socket()) {
    if (n != 1) Violated("a socket was closed more than once", *s);
  }
  // Resolver threads may outlive ~Connector, but not a scripted delay: each
  // input ends with none (and LeakSanitizer, which checks right after an
  // input, then sees no state held only by a thread still on its way out).
  if (!tether::testing::WaitForThreads(threads)) {
    Violated(absl::StrCat(tether::testing::CountThreads() - threads,
                          " threads left 10 s after ~Connector"),
             *s);
  }
  return 0;
}
