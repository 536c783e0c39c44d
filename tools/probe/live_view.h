// tools/probe/live_view.h: the live view, redrawn in place on a terminal.
//
// A progress line (done/total, elapsed) and one line per target with its
// state, redrawn with ANSI cursor movement. Only for a terminal: on a pipe
// tether-probe prints the final table alone.

#ifndef TETHER_TOOLS_PROBE_LIVE_VIEW_H_
#define TETHER_TOOLS_PROBE_LIVE_VIEW_H_

#include <cstdio>
#include <string>
#include <vector>

#include "tools/probe/prober.h"

namespace tether {
namespace probe {

class LiveView {
 public:
  // REQUIRES: `out` is a terminal (isatty).
  explicit LiveView(std::FILE* out) : out_(out) {}
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // Replaces the previous frame with the prober's current state.
  void Draw(const Prober& prober);
  // Erases the last frame, leaving the cursor where the first one began.
  void Clear();

 private:
  std::FILE* const out_;
  int lines_ = 0;  // lines of the frame on screen
};

// The state of one probe for the live view: "connecting: 1 try, now
// 127.0.0.1:80 (420 ms)", "connected to 127.0.0.1:80 in 0.3 ms",
// "connected, awaiting the reply", "refused".
std::string LiveState(const Probe& probe);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_LIVE_VIEW_H_
