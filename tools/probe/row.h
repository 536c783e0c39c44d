// tools/probe/row.h: what tether-probe reports about one target.
//
// Every target ends in one outcome class (connected, refused, timeout, ...):
// a fixed word for --json, a label for the table, and an exit status. The
// class table below is the one place they are defined; --help, the JSON
// writer, the table and the exit status all read it. MakeRow() reads a
// finished Probe once, through the Socket's queries, into plain values the
// table and the JSON renderers share.

#ifndef TETHER_TOOLS_PROBE_ROW_H_
#define TETHER_TOOLS_PROBE_ROW_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tether/address.h"
#include "tether/socket.h"
#include "tools/probe/prober.h"

namespace tether {
namespace probe {

// How a target (or one attempt) ended. The order is severity: when targets
// end differently, the run's exit status is that of the first class here
// that occurred (the one that got least far).
enum class Class {
  kBadInput,       // the target or an option was rejected before any attempt
  kResolveFailed,  // the name did not resolve (or to no usable address)
  kUnreachable,    // no route, network down, local address not available
  kTimeout,        // no answer before --timeout (or every --attempt-timeout)
  kRefused,        // the host answered: nothing listens there
  kFailed,         // any other error
  kOverloaded,     // too many connects queued in the library
  kCancelled,      // interrupted (Ctrl-C) while connecting
  kReplyFailed,    // connected, but the --send exchange failed or timed out
  kInProgress,     // attempts only: still running
  kConnected,
};

struct ClassInfo {
  Class cls;
  absl::string_view name;   // --json "outcome": "resolve_failed"
  absl::string_view label;  // the table's RESULT column: "not found"
  int exit_code;            // 0 for connected
  absl::string_view meaning;
};

// Every class, in severity order (kConnected last).
absl::Span<const ClassInfo> Classes();
const ClassInfo& InfoOf(Class c);

// Exit status: usage errors and bad targets (like kBadInput).
inline constexpr int kExitUsage = 2;
// Exit status when tether-probe itself fails (--demo: a server would not
// start or a row came out other than planned).
inline constexpr int kExitInternal = 1;

struct Row {
  Target target;
  Class cls = Class::kFailed;
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

// The class of a connect that ended with `status`, `error_code` after
// `attempt_count` addresses were tried.
Class Classify(const absl::Status& status, int error_code,
               size_t attempt_count);

// The class of one attempt.
Class ClassifyAttempt(const Attempt& attempt);

// The reply error for the table and JSON: "" when the exchange succeeded.
std::string ReplyError(const Row& row);

// "ECONNREFUSED"; "" for 0.
std::string ErrnoName(int error_code);

// How many rows ended in each class, in severity order, only the classes
// that occurred.
std::vector<std::pair<Class, size_t>> CountByClass(
    const std::vector<Row>& rows);

// The worst class of `rows` (kConnected when empty or all connected) and
// its exit status.
Class WorstClass(const std::vector<Row>& rows);
int ExitCodeOf(const std::vector<Row>& rows);

// Three significant digits, the unit chosen after rounding: "0.21 ms",
// "2.5 ms", "999 ms", "1.00 s", "12.3 s", "125 s".
std::string FormatTime(absl::Duration d);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_ROW_H_
