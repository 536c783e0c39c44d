// tools/probe/json.h: --json output, one object per target per line.

#ifndef TETHER_TOOLS_PROBE_JSON_H_
#define TETHER_TOOLS_PROBE_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "tools/probe/row.h"

namespace tether {
namespace probe {

// `s` as a JSON string literal, quotes included. Escapes '"', '\\' and every
// control character; copies valid UTF-8 through and replaces each byte that
// is not part of valid UTF-8 with U+FFFD, so the output is always valid JSON
// (RFC 8259) whatever bytes a peer sent.
std::string JsonString(absl::string_view s);

// One line of JSON, without the newline:
// {"target":"localhost:80","host":"localhost","port":80,"result":"connected",
//  "error":null,"errno":null,"address":"127.0.0.1:80",
//  "local_address":"127.0.0.1:5555","time_ms":0.21,"attempt_count":1,
//  "attempts":[{"address":"127.0.0.1:80","outcome":"connected",
//  "errno":null,"time_ms":0.2}]}
// plus "reply", "reply_bytes" and "reply_error" when --send was used.
std::string RowToJson(const Row& row);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_JSON_H_
