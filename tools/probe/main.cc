// tether-probe: starts a connect to every target at once through one
// tether::Connector, watches them with the lock-free queries (Tcl TIP 427,
// no event loop), and reports how each went; --send exchanges a message
// with half-close (TIP 332). See UsageText() in args.cc, or --help.

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "tools/probe/args.h"
#include "tools/probe/demo.h"
#include "tools/probe/row.h"
#include "tools/probe/run.h"

int main(int argc, char** argv) {
  using tether::probe::ProbeArgs;
  absl::StatusOr<ProbeArgs> args = tether::probe::ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "tether-probe: %s (see tether-probe --help)\n",
                 std::string(args.status().message()).c_str());
    return tether::probe::kExitUsage;
  }
  if (args->help) {
    std::fputs(tether::probe::UsageText().c_str(), stdout);
    return 0;
  }
  if (args->demo) return tether::probe::RunDemo(*std::move(args));
  const tether::probe::Outcome outcome = tether::probe::ProbeAll(
      *args, args->timeout.value_or(tether::probe::kDefaultTimeout));
  tether::probe::Print(*args, outcome, stdout);
  return tether::probe::ExitCodeOf(outcome.rows);
}
