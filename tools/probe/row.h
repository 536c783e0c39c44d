// tools/probe/row.h: what tether-probe reports about one target.
//
// MakeRow() reads a finished Probe once, through the Socket's queries, into
// plain values that the table and the JSON renderers share.

#ifndef TETHER_TOOLS_PROBE_ROW_H_
#define TETHER_TOOLS_PROBE_ROW_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tether/address.h"
#include "tether/socket.h"
#include "tools/probe/prober.h"

namespace tether {
namespace probe {

struct Row {
  Target target;
  std::string result;  // "connected", "refused", "timed out", ... see Result()
  std::string error;   // error().message(); empty when connected
  int error_code = 0;  // errno, 0 if none
  std::optional<SocketAddress> address;  // peername, when connected
  std::optional<SocketAddress> local;    // sockname, when connected
  absl::Duration time;                   // Connect() to completion
  std::vector<Attempt> attempts;
  // --send on a connected socket only:
  bool sent = false;
  absl::Status reply_status;
  bool reply_timed_out = false;
  std::string reply;
};

// REQUIRES: the probe is finished (Prober::Run() has returned).
Row MakeRow(const Probe& probe);

// One word or two for a connect's outcome: "connected", "refused",
// "timed out", "unreachable", "bad input", "not found", "cancelled",
// "overloaded", "failed".
std::string Result(const absl::Status& status, int error_code);

// An attempt's outcome: "connected", "refused (ECONNREFUSED)", "timed out",
// "cancelled", "in progress", "failed (EACCES: Permission denied)".
std::string AttemptOutcome(const Attempt& attempt);

// "ECONNREFUSED", or "errno N" for an unknown one.
std::string ErrnoName(int error_code);

// Whether the target connected and, with --send, got its whole reply.
bool Succeeded(const Row& row);

// "0.3 ms", "12 ms", "1.50 s".
std::string FormatTime(absl::Duration d);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_ROW_H_
