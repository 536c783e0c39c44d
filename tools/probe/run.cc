#include "tools/probe/run.h"

#include <csignal>
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
namespace {

volatile std::sig_atomic_t g_interrupted = 0;  // written by OnSigint only

extern "C" void OnSigint(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process
}

// Installs OnSigint for the life of the object.
class SigintCatcher {
 public:
  SigintCatcher() {
    g_interrupted = 0;
    previous_ = std::signal(SIGINT, OnSigint);
  }
  ~SigintCatcher() { std::signal(SIGINT, previous_); }
  SigintCatcher(const SigintCatcher&) = delete;
  SigintCatcher& operator=(const SigintCatcher&) = delete;

 private:
  void (*previous_)(int);
};

}  // namespace

Outcome ProbeAll(const ProbeArgs& args, absl::Duration timeout) {
  SigintCatcher sigint;
  std::optional<LiveView> live;
  const Display display = ChooseDisplay(stdout, args.json);
  if (display != Display::kNone) live.emplace(stdout, display);
  Prober prober(args, timeout);
  prober.StartAll(args.targets);
  std::function<void(const Prober&)> frame;
  if (live.has_value()) frame = [&live](const Prober& p) { live->Draw(p); };
  prober.Run(frame, [] { return g_interrupted != 0; });
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
    std::fprintf(out, "%s\n",
                 SummaryToJson(outcome.rows, outcome.elapsed).c_str());
  }
  std::fflush(out);
}

}  // namespace probe
}  // namespace tether
