// tools/probe/live_view.h: what tether-probe shows while it waits.
//
// On a terminal: a progress line (done/total, connected and failed counts,
// rate, elapsed), then the targets still pending, oldest first, then the
// most recently finished, newest first, as many as fit; redrawn in place
// with ANSI cursor movement about every 100 ms. With TERM=dumb: a plain
// progress line about once a second, no escape bytes. With NO_COLOR: the
// same redrawn view without colours. Not drawn at all when stdout is not a
// terminal or with --json: then the final output is all there is.

#ifndef TETHER_TOOLS_PROBE_LIVE_VIEW_H_
#define TETHER_TOOLS_PROBE_LIVE_VIEW_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/probe/prober.h"

namespace tether {
namespace probe {

enum class Display {
  kNone,         // not a terminal (or --json): no live view
  kPlain,        // TERM=dumb: plain progress lines
  kAnsi,         // redrawn in place, coloured
  kAnsiNoColor,  // NO_COLOR: redrawn in place, no colours
};

// The display for `out` given the environment (TERM, NO_COLOR).
Display ChooseDisplay(std::FILE* out, bool json);

class LiveView {
 public:
  // REQUIRES: display != Display::kNone.
  LiveView(std::FILE* out, Display display) : out_(out), display_(display) {}
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // Replaces the previous frame with the prober's current state (kPlain:
  // prints one progress line, at most about once a second).
  void Draw(const Prober& prober);
  // Erases the last frame, leaving the cursor where the first one began.
  void Clear();

 private:
  std::FILE* const out_;
  const Display display_;
  int lines_ = 0;  // lines of the frame on screen
  absl::Time last_plain_ = absl::InfinitePast();
};

// "37/200 done: 30 connected, 7 failed, 163 pending; 24/s, 1.52 s".
std::string ProgressLine(const Prober& prober);

// The lines of one frame for a screen `rows` high (lines longer than the
// screen is wide are cut by the terminal: Draw() turns auto-wrap off).
std::vector<std::string> Frame(const Prober& prober, size_t rows, bool color);

// The state of one probe: "connecting, 420 ms, resolving",
// "connecting, 1.20 s, 1 try, latest 127.0.0.1:80",
// "connected to 127.0.0.1:80 in 0.3 ms", "connected, awaiting the reply",
// "refused".
std::string LiveState(const Probe& probe);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_LIVE_VIEW_H_
