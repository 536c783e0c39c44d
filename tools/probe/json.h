// tools/probe/json.h: --json output (JSON Lines).
//
// One object per target, in input order, then one summary object; each on
// its own line. The schema is documented in docs/index.md ("tether-probe:
// JSON output") and in --help:
//
// {"type":"target","target":"localhost:80","host":"localhost","port":80,
//  "outcome":"connected","errno":null,"message":null,
//  "address":"127.0.0.1:80","local_address":"127.0.0.1:5555",
//  "time_ms":0.213,"attempts":[{"address":"127.0.0.1:80",
//  "outcome":"connected","errno":null,"message":null,"time_ms":0.2}]}
// plus "reply", "reply_bytes" and "reply_error" when --send was used, and
// {"type":"summary","targets":1,"elapsed_ms":1.5,"counts":{"connected":1},
//  "exit_code":0}

#ifndef TETHER_TOOLS_PROBE_JSON_H_
#define TETHER_TOOLS_PROBE_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/probe/row.h"

namespace tether {
namespace probe {

// `s` as a JSON string literal, quotes included. Escapes '"', '\\' and every
// control character; copies valid UTF-8 through and replaces each byte that
// is not part of valid UTF-8 with U+FFFD, so the output is always valid JSON
// (RFC 8259) whatever bytes a peer sent.
std::string JsonString(absl::string_view s);

// One target's line, without the newline.
std::string RowToJson(const Row& row);

// The summary line, without the newline: counts by outcome, in severity
// order, only of the outcomes that occurred.
std::string SummaryToJson(const std::vector<Row>& rows, absl::Duration elapsed);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_JSON_H_
