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
// target did not connect on its first try, the error when nothing was tried,
// and the --send reply. Ends with a summary line counting each result.
std::string RenderTable(const std::vector<Row>& rows, absl::Duration elapsed);

// "5 targets in 1.00 s: 2 connected, 1 refused, 1 timed out, 1 bad input".
std::string Summary(const std::vector<Row>& rows, absl::Duration elapsed);

// `s` escaped onto one line and cut to `max` bytes ("..." marks a cut).
std::string Printable(absl::string_view s, size_t max);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_TABLE_H_
