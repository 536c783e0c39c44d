// tools/probe/demo.h: tether-probe --demo, which needs no network.
//
// Starts, on loopback only, an echo server that answers after the client
// half-closes, a port that refuses, and a port whose accept queue is full
// (it hangs); then probes localhost and [::1] (when ::1 exists) on the echo
// port with --send, the refusing port, the hanging port under a 1 s timeout,
// and one bad input (an empty host), and checks each row's result.

#ifndef TETHER_TOOLS_PROBE_DEMO_H_
#define TETHER_TOOLS_PROBE_DEMO_H_

#include "tools/probe/args.h"

namespace tether {
namespace probe {

// The text --demo sends to the echo server unless --send says otherwise.
inline constexpr char kDemoText[] = "hello from tether-probe\n";

// Runs the demo with `args`' output flags (--json, ...); prints the table
// (or JSON) and a verdict line. Returns 0 when every row came out as
// expected, 1 otherwise.
int RunDemo(ProbeArgs args);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_DEMO_H_
