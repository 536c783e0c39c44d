// tools/probe/table.h: the final table (and the demo's summary).

#ifndef TETHER_TOOLS_PROBE_TABLE_H_
#define TETHER_TOOLS_PROBE_TABLE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/probe/row.h"

namespace tether {
namespace probe {

// One line per target (TARGET RESULT ADDRESS LOCAL TIME TRIES), then
// indented detail lines: each address tried with its outcome when the
// target did not connect on its first try, the error when nothing was tried
// (or the connect timed out), and the --send reply. Ends with a summary line
// counting each result. Text from outside (targets, messages, replies) is
// shown by Printable(): as a person reads it, escaping only what a terminal
// cannot show.
std::string RenderTable(const std::vector<Row>& rows, absl::Duration elapsed);

// "5 targets in 1.00 s: 2 connected, 1 bad input, 1 timed out, 1 refused"
// (results in severity order).
std::string Summary(const std::vector<Row>& rows, absl::Duration elapsed);

// An attempt for a person: "connected", "timed out",
// "refused (ECONNREFUSED: Connection refused)".
std::string AttemptText(const Attempt& attempt);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_TABLE_H_
