#include "tools/probe/demo.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "testing/servers.h"
#include "tools/probe/row.h"
#include "tools/probe/run.h"
#include "tools/probe/text.h"

namespace tether {
namespace probe {
namespace {

using testing::HangingListener;
using testing::Listener;
using testing::RefusingPort;

// The loopback servers (testing/servers.h). The echo server listens on
// 127.0.0.1 and, where it exists, ::1 at the same port, so "localhost"
// works whichever addresses it resolves to.
struct Servers {
  std::unique_ptr<Listener> echo;
  std::unique_ptr<RefusingPort> refusing;
  std::unique_ptr<HangingListener> hanging;
};

absl::StatusOr<Servers> StartServers() {
  Servers s;
  absl::StatusOr<std::unique_ptr<Listener>> echo =
      Listener::Start(Listener::Mode::kEcho, AF_UNSPEC);
  if (!echo.ok()) return echo.status();
  s.echo = *std::move(echo);
  absl::StatusOr<std::unique_ptr<RefusingPort>> refusing =
      RefusingPort::Start();
  if (!refusing.ok()) return refusing.status();
  s.refusing = *std::move(refusing);
  absl::StatusOr<std::unique_ptr<HangingListener>> hanging =
      HangingListener::Start();
  if (!hanging.ok()) return hanging.status();
  s.hanging = *std::move(hanging);
  return s;
}

// What one demo row must show.
struct Expected {
  Class result;
  bool echoes = false;  // the reply must equal what was sent
};

struct Plan {
  std::vector<Target> targets;
  std::vector<Expected> expected;

  void Add(const std::string& text, Expected e) {
    Add((*ParseTarget(text))[0], e);  // well-formed by construction
  }
  void Add(Target target, Expected e) {
    targets.push_back(std::move(target));
    expected.push_back(e);
  }
};

Plan MakePlan(const Servers& s) {
  const std::string echo = absl::StrCat(s.echo->port());
  Plan plan;
  plan.Add("localhost:" + echo, {Class::kConnected, true});
  if (s.echo->has_ipv6()) plan.Add("[::1]:" + echo, {Class::kConnected, true});
  plan.Add(absl::StrCat("127.0.0.1:", s.refusing->port()), {Class::kRefused});
  plan.Add(absl::StrCat("127.0.0.1:", s.hanging->port()), {Class::kTimeout});
  // An empty host: ParseTarget() refuses it, so the library's own check
  // (kInvalidArgument) is what the row shows.
  plan.Add(Target{":" + echo, "", s.echo->port()}, {Class::kBadInput});
  return plan;
}

std::string Banner(const Servers& s, absl::Duration timeout) {
  const std::string p = absl::StrCat(s.echo->port());
  return absl::StrCat("tether-probe --demo, on loopback only:\n",
                      "  echo server     127.0.0.1:", p,
                      s.echo->has_ipv6() ? absl::StrCat(" and [::1]:", p) : "",
                      " (replies once the client half-closes)\n",
                      "  refusing port   127.0.0.1:", s.refusing->port(), "\n",
                      "  hanging port    127.0.0.1:", s.hanging->port(),
                      " (accept queue full; probed under a ",
                      absl::FormatDuration(timeout), " timeout)\n",
                      "  bad input       \":", p, "\" (an empty host)\n\n");
}

// One line per row that did not come out as planned.
std::vector<std::string> Mismatches(const Outcome& outcome, const Plan& plan,
                                    const std::string& sent) {
  std::vector<std::string> out;
  for (size_t i = 0; i < outcome.rows.size(); ++i) {
    const Row& row = outcome.rows[i];
    const Expected& e = plan.expected[i];
    if (row.cls != e.result) {
      out.push_back(absl::StrCat(row.target.text, ": expected ",
                                 InfoOf(e.result).name, ", got ",
                                 InfoOf(row.cls).name));
    } else if (e.echoes && (!row.reply_status.ok() || row.reply != sent)) {
      out.push_back(absl::StrCat(row.target.text, ": expected the reply \"",
                                 Printable(sent, 40), "\", got \"",
                                 Printable(row.reply, 40), "\" ",
                                 row.reply_status.ToString()));
    }
  }
  return out;
}

int Verdict(const std::vector<std::string>& mismatches, std::FILE* out) {
  if (mismatches.empty()) {
    std::fprintf(out, "demo: every row as expected\n");
    return 0;
  }
  for (const std::string& m : mismatches)
    std::fprintf(out, "demo: %s\n", m.c_str());
  return kExitInternal;
}

}  // namespace

int RunDemo(ProbeArgs args) {
  absl::StatusOr<Servers> servers = StartServers();
  if (!servers.ok()) {
    std::fprintf(stderr, "tether-probe --demo: %s\n",
                 servers.status().ToString().c_str());
    return kExitInternal;
  }
  const absl::Duration timeout = args.timeout.value_or(kDemoTimeout);
  std::FILE* notes = args.json ? stderr : stdout;  // stdout stays pure JSON
  std::fputs(Banner(*servers, timeout).c_str(), notes);
  std::fflush(notes);
  Plan plan = MakePlan(*servers);
  args.targets = plan.targets;
  if (!args.send.has_value()) args.send = kDemoText;
  const Outcome outcome = ProbeAll(args, timeout);
  Print(args, outcome, stdout);
  return Verdict(Mismatches(outcome, plan, *args.send), notes);
}

}  // namespace probe
}  // namespace tether
