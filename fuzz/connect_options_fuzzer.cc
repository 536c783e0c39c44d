// libFuzzer target: host and option validation through Connector::Connect.
//
// The input chooses a host (any bytes, any length up to 70,000), a port,
// local_address (fuzzed bytes, or one of a few interesting addresses),
// local_port, family, the three durations (negative, zero, infinite, or a
// few ms), and tcp_nodelay. A fake resolver answers every host with a
// loopback port that refuses connections, so nothing leaves the machine.
// Properties: Connect never crashes or hangs; the socket completes within
// a bound; on_complete runs exactly once, and before Connect() returns when
// the input is invalid; an input the contract calls invalid (empty host,
// NUL byte, over 255 bytes, port 0, unparsable or wrong-family local_address,
// non-positive timeouts, negative delay) gives kInvalidArgument with a
// bounded, NUL-free message; any other input does not.

#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/fake_resolver.h"
#include "tests/testing/loopback.h"
#include "tether/connector.h"

namespace {

using tether::ConnectOptions;
using tether::Connector;
using tether::ConnectorOptions;
using tether::Family;
using tether::Socket;
using tether::SocketAddress;

struct Env {
  tether::testing::RefusingPort refusing;
  std::shared_ptr<tether::testing::FakeResolver> resolver =
      std::make_shared<tether::testing::FakeResolver>(
          std::vector<SocketAddress>{refusing.address()});
};

Env& GetEnv() {
  static Env* env = new Env();  // never destroyed: threads outlive main
  return *env;
}

void Check(bool ok, const char* what, const absl::Status& status) {
  if (ok) return;
  fprintf(stderr, "property violated: %s; status: %s\n", what,
          status.ToString().substr(0, 300).c_str());
  abort();
}

absl::Duration FuzzDuration(FuzzedDataProvider& in, bool allow_infinite) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
      return allow_infinite ? absl::InfiniteDuration() : absl::Milliseconds(5);
    case 1:
      return -absl::InfiniteDuration();
    case 2:
      return absl::ZeroDuration();
    case 3:
      return -absl::Nanoseconds(in.ConsumeIntegral<uint32_t>());
    default:
      return absl::Microseconds(in.ConsumeIntegralInRange<int>(1, 20000));
  }
}

std::string FuzzHost(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {  // a long run of one byte around the 255 limit, or far past
      const size_t n = in.ConsumeBool()
                           ? in.ConsumeIntegralInRange<size_t>(250, 260)
                           : in.ConsumeIntegralInRange<size_t>(0, 70000);
      return std::string(n, static_cast<char>(in.ConsumeIntegral<uint8_t>()));
    }
    case 1:
      return "127.0.0.1";
    default:
      return in.ConsumeRandomLengthString(512);
  }
}

std::string FuzzLocal(FuzzedDataProvider& in) {
  static const char* const kInteresting[] = {
      "",          "127.0.0.1",        "::1",        "0.0.0.0",   "::",
      "127.0.0.2", "::ffff:127.0.0.1", "fe80::1%lo", "1.2.3.4.5", "::1%",
      "[::1]"};
  if (in.ConsumeBool()) {
    return kInteresting[in.ConsumeIntegralInRange<size_t>(
        0, sizeof(kInteresting) / sizeof(kInteresting[0]) - 1)];
  }
  return in.ConsumeRandomLengthString(128);
}

bool FamilyOk(Family family, const SocketAddress& local) {
  return family == Family::kAny ||
         (family == Family::kIPv4 && local.family() == AF_INET) ||
         (family == Family::kIPv6 && local.family() == AF_INET6);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env& env = GetEnv();
  const int threads = tether::testing::CountThreads();
  FuzzedDataProvider in(data, size);
  const std::string host = FuzzHost(in);
  // An int: values outside [1, 65535] must be rejected, never wrapped.
  const int port = in.ConsumeBool() ? in.ConsumeIntegral<uint16_t>()
                                    : in.ConsumeIntegral<int>();
  ConnectOptions o;
  o.local_address = FuzzLocal(in);
  // Low ports only: a fuzzed bind must not take a port someone else needs.
  o.local_port = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange(1, 1023);
  o.family = static_cast<Family>(in.ConsumeIntegralInRange(0, 2));
  o.attempt_timeout = FuzzDuration(in, true);
  o.timeout = FuzzDuration(in, false);  // keeps every connect bounded
  o.happy_eyeballs_delay = FuzzDuration(in, false);
  o.tcp_nodelay = in.ConsumeBool();
  o.keepalive.enabled = in.ConsumeBool();
  o.keepalive.idle = FuzzDuration(in, true);
  o.keepalive.interval = FuzzDuration(in, true);
  o.keepalive.count = in.ConsumeIntegralInRange(-2, 200);
  o.bind_interface = in.ConsumeBool() ? "" : in.ConsumeRandomLengthString(24);

  const bool host_bad = host.empty() || host.size() > 255 ||
                        host.find('\0') != std::string::npos || port < 1 ||
                        port > 65535;
  const tether::KeepAlive& k = o.keepalive;
  auto keep_time_bad = [](absl::Duration d) {
    return d <= absl::ZeroDuration() || d > absl::Seconds(32767);
  };
  const bool keepalive_bad =
      k.enabled && (keep_time_bad(k.idle) || keep_time_bad(k.interval) ||
                    k.count < 1 || k.count > 127);
  const bool interface_bad = o.bind_interface.size() > 15 ||
                             o.bind_interface.find('\0') != std::string::npos;
  bool local_bad = false;
  if (!o.local_address.empty()) {
    absl::StatusOr<SocketAddress> local =
        SocketAddress::Parse(o.local_address, o.local_port);
    local_bad = !local.ok() || !FamilyOk(o.family, *local);
  }
  const bool durations_bad = o.attempt_timeout <= absl::ZeroDuration() ||
                             o.timeout <= absl::ZeroDuration() ||
                             o.happy_eyeballs_delay < absl::ZeroDuration();
  const bool invalid =
      host_bad || local_bad || durations_bad || keepalive_bad || interface_bad;
  const bool has_local = !o.local_address.empty();

  auto calls = std::make_shared<std::atomic<int>>(0);
  o.on_complete = [calls](Socket&) { (*calls)++; };
  // A Connector per input: its destructor drains the queue, so no task is
  // left in tbb's queue, whose tbbmalloc pages LeakSanitizer cannot scan.
  ConnectorOptions co;
  co.resolver = env.resolver;
  auto connector = std::make_unique<Connector>(std::move(co));
  std::shared_ptr<Socket> s = connector->Connect(host, port, std::move(o));
  const int inline_calls = calls->load();
  Check(s->Wait(absl::Seconds(10)), "completes within the timeout", s->error());
  const absl::Status& e = s->error();
  if (invalid) {
    Check(e.code() == absl::StatusCode::kInvalidArgument,
          "invalid input gives kInvalidArgument", e);
    Check(inline_calls == 1, "on_complete ran before Connect returned", e);
  } else {
    // (A well-formed local_address may still share no family with the
    // resolver's answers: that is kInvalidArgument too.)
    Check(e.code() != absl::StatusCode::kInvalidArgument || has_local,
          "valid input is not kInvalidArgument", e);
  }
  if (e.code() == absl::StatusCode::kInvalidArgument) {
    Check(e.message().size() < 512, "bounded message", e);
    Check(e.message().find('\0') == absl::string_view::npos, "NUL-free message",
          e);
  }
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (calls->load() == 0 && absl::Now() < end) {
    absl::SleepFor(absl::Microseconds(50));
  }
  Check(calls->load() == 1, "on_complete ran exactly once", e);
  Check(s->Close().ok(), "Close", e);
  Check(connector->stats().in_flight == 0, "nothing in flight", e);
  connector.reset();
  Check(calls->load() == 1, "on_complete ran exactly once", e);
  // A resolver thread may still be on its way out: wait, so that
  // LeakSanitizer, which checks right after an input, sees none.
  Check(tether::testing::WaitForThreads(threads), "every thread ends", e);
  return 0;
}
