#include "tools/probe/live_view.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tools/probe/row.h"
#include "tools/probe/table.h"

namespace tether {
namespace probe {
namespace {

constexpr size_t kMaxTarget = 40;

struct Size {
  int rows = 24;
  int columns = 80;
};

Size TerminalSize(std::FILE* out) {
  winsize w = {};
  Size s;
  if (ioctl(fileno(out), TIOCGWINSZ, &w) == 0 && w.ws_row > 0) {
    s.rows = w.ws_row;
    s.columns = w.ws_col;
  }
  return s;
}

std::string Connecting(const Probe& probe) {
  const std::vector<Attempt> attempts = probe.socket->attempts();
  std::string out =
      absl::StrCat("connecting, ", FormatTime(absl::Now() - probe.start));
  if (attempts.empty()) return absl::StrCat(out, ", resolving");
  return absl::StrCat(out, ", ", attempts.size(),
                      attempts.size() == 1 ? " try" : " tries", ", latest ",
                      attempts.back().address.ToString());
}

std::vector<std::string> Frame(const Prober& prober, size_t max_rows) {
  const auto& probes = prober.probes();
  std::vector<std::string> lines = {
      absl::StrFormat("tether-probe: %d/%d done, %s", prober.done(),
                      probes.size(), FormatTime(absl::Now() - prober.start()))};
  size_t width = 0;
  for (const auto& p : probes) {
    width = std::max(width, Printable(p->target.text, kMaxTarget).size());
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    if (i + 1 == max_rows && probes.size() > max_rows) {
      lines.push_back(absl::StrCat("  ... and ", probes.size() - i, " more"));
      break;
    }
    lines.push_back(absl::StrFormat(
        "  %-*s  %s", width, Printable(probes[i]->target.text, kMaxTarget),
        LiveState(*probes[i])));
  }
  return lines;
}

}  // namespace

std::string LiveState(const Probe& probe) {
  const Socket& s = *probe.socket;
  if (!probe.connect_done()) return Connecting(probe);
  if (!s.error().ok()) return Result(s.error(), s.error_code());
  const Exchange* x = probe.exchange.get();
  if (x != nullptr && !x->done.load(std::memory_order_acquire)) {
    return "connected, awaiting the reply";
  }
  return absl::StrCat("connected to ", s.peername()->ToString(), " in ",
                      FormatTime(probe.connect_time()));
}

void LiveView::Draw(const Prober& prober) {
  const Size size = TerminalSize(out_);
  const std::vector<std::string> lines =
      Frame(prober, static_cast<size_t>(std::max(size.rows - 2, 2)));
  std::string out;
  if (lines_ > 0) absl::StrAppend(&out, "\x1b[", lines_, "F");
  for (const std::string& line : lines) {
    absl::StrAppend(&out, "\x1b[2K", line.substr(0, size.columns - 1), "\n");
  }
  absl::StrAppend(&out, "\x1b[J");  // a shorter frame leaves nothing behind
  std::fputs(out.c_str(), out_);
  std::fflush(out_);
  lines_ = static_cast<int>(lines.size());
}

void LiveView::Clear() {
  if (lines_ == 0) return;
  std::fprintf(out_, "\x1b[%dF\x1b[J", lines_);
  std::fflush(out_);
  lines_ = 0;
}

}  // namespace probe
}  // namespace tether
