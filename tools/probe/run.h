// tools/probe/run.h: one tether-probe run, from parsed arguments to output.

#ifndef TETHER_TOOLS_PROBE_RUN_H_
#define TETHER_TOOLS_PROBE_RUN_H_

#include <cstdio>
#include <vector>

#include "absl/time/time.h"
#include "tools/probe/args.h"
#include "tools/probe/row.h"

namespace tether {
namespace probe {

struct Outcome {
  std::vector<Row> rows;  // in the order of args.targets
  absl::Duration elapsed;
};

// Probes every target of `args` at once with `timeout` as the whole-connect
// timeout. Draws the live view on stdout while it runs (see live_view.h).
// The first SIGINT cancels what is still pending (the rows end cancelled);
// a second one kills the process as usual.
Outcome ProbeAll(const ProbeArgs& args, absl::Duration timeout);

// The final table, or with --json one object per target and a summary, one
// per line.
void Print(const ProbeArgs& args, const Outcome& outcome, std::FILE* out);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_RUN_H_
