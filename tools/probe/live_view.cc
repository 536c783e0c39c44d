#include "tools/probe/live_view.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tools/probe/row.h"
#include "tools/probe/text.h"

namespace tether {
namespace probe {
namespace {

constexpr size_t kMaxTarget = 40;
constexpr absl::Duration kPlainInterval = absl::Seconds(1);
constexpr char kGreen[] = "\x1b[32m";
constexpr char kRed[] = "\x1b[31m";
constexpr char kReset[] = "\x1b[0m";

size_t TerminalRows(std::FILE* out) {
  winsize w = {};
  if (ioctl(fileno(out), TIOCGWINSZ, &w) == 0 && w.ws_row > 0) return w.ws_row;
  return 24;
}

bool IsNumeric(const Target& t) {
  return SocketAddress::Parse(t.host, t.port).ok();
}

std::string Connecting(const Probe& probe) {
  const std::vector<Attempt> attempts = probe.socket->attempts();
  std::string out =
      absl::StrCat("connecting, ", FormatTime(absl::Now() - probe.start));
  if (attempts.empty()) {
    return absl::StrCat(out, IsNumeric(probe.target) ? ", waiting for a worker"
                                                     : ", resolving");
  }
  absl::StrAppend(&out, ", ", attempts.size(),
                  attempts.size() == 1 ? " try" : " tries");
  const std::string latest = attempts.back().address.ToString();
  // A numeric target's only address is the target itself: not worth a word.
  if (latest == probe.target.text) return out;
  return absl::StrCat(out, ", latest ", latest);
}

struct Split {
  std::vector<const Probe*> pending;   // oldest first
  std::vector<const Probe*> finished;  // newest first
  size_t connected = 0;
};

Split SplitProbes(const Prober& prober) {
  Split s;
  for (const auto& p : prober.probes()) {
    if (!prober.Finished(*p)) {
      s.pending.push_back(p.get());
      continue;
    }
    s.finished.push_back(p.get());
    s.connected += p->socket->error().ok() ? 1 : 0;
  }
  std::stable_sort(
      s.pending.begin(), s.pending.end(),
      [](const Probe* a, const Probe* b) { return a->start < b->start; });
  std::stable_sort(
      s.finished.begin(), s.finished.end(), [](const Probe* a, const Probe* b) {
        return a->connect_time() + a->start > b->connect_time() + b->start;
      });
  return s;
}

// `text` in `color` (an SGR sequence), or as it is when `color` is null.
std::string Paint(const char* color, const std::string& text) {
  return color == nullptr ? text : absl::StrCat(color, text, kReset);
}

std::string ProgressOf(const Prober& prober, const Split& s, bool color) {
  const absl::Duration elapsed = absl::Now() - prober.start();
  const size_t done = s.finished.size();
  const size_t failed = done - s.connected;
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return absl::StrFormat("%d/%d done: %s, %s, %d pending; %.0f/s, %s", done,
                         prober.probes().size(),
                         Paint(color && s.connected > 0 ? kGreen : nullptr,
                               absl::StrCat(s.connected, " connected")),
                         Paint(color && failed > 0 ? kRed : nullptr,
                               absl::StrCat(failed, " failed")),
                         s.pending.size(), seconds > 0 ? done / seconds : 0.0,
                         FormatTime(elapsed));
}

std::string TargetLine(const Probe& p, size_t width, bool color) {
  std::string state = LiveState(p);
  if (color && !p.socket->connecting()) {
    state = Paint(p.socket->error().ok() ? kGreen : kRed, state);
  }
  return absl::StrCat(
      "  ", PadRight(Printable(p.target.text, kMaxTarget), width), "  ", state);
}

}  // namespace

Display ChooseDisplay(std::FILE* out, bool json) {
  if (json || !isatty(fileno(out))) return Display::kNone;
  const char* term = std::getenv("TERM");
  if (term == nullptr || std::strcmp(term, "dumb") == 0) return Display::kPlain;
  const char* no_color = std::getenv("NO_COLOR");
  return no_color != nullptr && no_color[0] != '\0' ? Display::kAnsiNoColor
                                                    : Display::kAnsi;
}

std::string ProgressLine(const Prober& prober) {
  return ProgressOf(prober, SplitProbes(prober), false);
}

std::vector<std::string> Frame(const Prober& prober, size_t rows, bool color) {
  const Split s = SplitProbes(prober);
  std::vector<std::string> lines = {
      absl::StrCat("tether-probe: ", ProgressOf(prober, s, color))};
  size_t width = 0;
  for (const auto& p : prober.probes()) {
    width =
        std::max(width, DisplayWidth(Printable(p->target.text, kMaxTarget)));
  }
  const size_t room = rows > 2 ? rows - 2 : 1;  // the progress line, a spare
  size_t shown = 0;
  for (const Probe* p : s.pending) {
    if (shown + 1 == room && s.pending.size() > room) {
      lines.push_back(absl::StrCat("  ... and ", s.pending.size() - shown,
                                   " more pending"));
      return lines;
    }
    lines.push_back(TargetLine(*p, width, color));
    ++shown;
  }
  for (const Probe* p : s.finished) {
    if (shown++ == room) break;
    lines.push_back(TargetLine(*p, width, color));
  }
  return lines;
}

std::string LiveState(const Probe& probe) {
  const Socket& s = *probe.socket;
  if (!probe.connect_done()) return Connecting(probe);
  if (!s.error().ok()) {
    return std::string(
        InfoOf(Classify(s.error(), s.error_code(), s.attempts().size())).label);
  }
  const Exchange* x = probe.exchange.get();
  if (x != nullptr && !x->done.load(std::memory_order_acquire)) {
    return "connected, awaiting the reply";
  }
  return absl::StrCat("connected to ", s.peername()->ToString(), " in ",
                      FormatTime(probe.connect_time()));
}

void LiveView::Draw(const Prober& prober) {
  if (display_ == Display::kPlain) {
    if (absl::Now() - last_plain_ < kPlainInterval) return;
    last_plain_ = absl::Now();
    std::fprintf(out_, "tether-probe: %s\n", ProgressLine(prober).c_str());
    std::fflush(out_);
    return;
  }
  const std::vector<std::string> lines =
      Frame(prober, TerminalRows(out_), display_ == Display::kAnsi);
  std::string out;
  if (lines_ > 0) absl::StrAppend(&out, "\x1b[", lines_, "F");
  for (const std::string& line : lines) {
    // "\x1b[7l": no auto-wrap, so a long line cannot add a screen line.
    absl::StrAppend(&out, "\x1b[2K\x1b[?7l", line, "\x1b[?7h\n");
  }
  absl::StrAppend(&out, "\x1b[J");  // a shorter frame leaves nothing behind
  std::fputs(out.c_str(), out_);
  std::fflush(out_);
  lines_ = static_cast<int>(lines.size());
}

void LiveView::Clear() {
  if (display_ == Display::kPlain || lines_ == 0) return;
  std::fprintf(out_, "\x1b[%dF\x1b[J", lines_);
  std::fflush(out_);
  lines_ = 0;
}

}  // namespace probe
}  // namespace tether
