#include "tools/probe/run.h"

#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "tools/probe/json.h"
#include "tools/probe/live_view.h"
#include "tools/probe/prober.h"
#include "tools/probe/table.h"

namespace tether {
namespace probe {

Outcome ProbeAll(const ProbeArgs& args, absl::Duration timeout) {
  std::optional<LiveView> live;
  if (!args.json && isatty(fileno(stdout))) live.emplace(stdout);
  Prober prober(args, timeout);
  prober.StartAll(args.targets);
  std::function<void(const Prober&)> frame;
  if (live.has_value()) frame = [&live](const Prober& p) { live->Draw(p); };
  prober.Run(frame);
  if (live.has_value()) live->Clear();
  Outcome outcome;
  outcome.elapsed = absl::Now() - prober.start();
  for (const std::unique_ptr<Probe>& p : prober.probes()) {
    outcome.rows.push_back(MakeRow(*p));
  }
  return outcome;
}

void Print(const ProbeArgs& args, const Outcome& outcome, std::FILE* out) {
  if (!args.json) {
    std::fputs(RenderTable(outcome.rows, outcome.elapsed).c_str(), out);
  } else {
    for (const Row& row : outcome.rows) {
      std::fprintf(out, "%s\n", RowToJson(row).c_str());
    }
  }
  std::fflush(out);
}

int ExitCode(const Outcome& outcome) {
  for (const Row& row : outcome.rows) {
    if (!Succeeded(row)) return 1;
  }
  return 0;
}

}  // namespace probe
}  // namespace tether
