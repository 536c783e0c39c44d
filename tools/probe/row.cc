#include "tools/probe/row.h"

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/posix_error.h"

namespace tether {
namespace probe {
namespace {

constexpr ClassInfo kClasses[] = {
    {Class::kBadInput, "bad_input", "bad input", kExitUsage,
     "usage error, bad target, or a target the library rejected"},
    {Class::kResolveFailed, "resolve_failed", "not found", 3,
     "the name did not resolve (or not to the --family asked for)"},
    {Class::kUnreachable, "unreachable", "unreachable", 4,
     "no route to the network or host, or --local-address not available"},
    {Class::kTimeout, "timeout", "timed out", 5,
     "no answer before --timeout (or --attempt-timeout on every address)"},
    {Class::kRefused, "refused", "refused", 6,
     "the host answered that nothing listens on the port"},
    {Class::kFailed, "failed", "failed", 7, "any other error (see errno)"},
    {Class::kOverloaded, "overloaded", "overloaded", 8,
     "too many connects queued (--max-workers and the library's queue)"},
    {Class::kCancelled, "cancelled", "cancelled", 9,
     "interrupted (Ctrl-C) before it finished"},
    {Class::kReplyFailed, "reply_failed", "no reply", 10,
     "connected, but the --send exchange failed or timed out"},
    {Class::kInProgress, "in_progress", "in progress", 1,
     "attempts only: still running"},
    {Class::kConnected, "connected", "connected", 0,
     "connected (and with --send, the whole reply arrived)"},
};

bool IsUnreachable(int e) {
  return e == ENETUNREACH || e == EHOSTUNREACH || e == ENETDOWN ||
         e == EHOSTDOWN || e == EADDRNOTAVAIL;
}

// The class of a failure by its errno alone.
Class ClassOfErrno(int e) {
  if (e == ECONNREFUSED) return Class::kRefused;
  if (e == ETIMEDOUT) return Class::kTimeout;
  if (e == ECANCELED) return Class::kCancelled;
  if (IsUnreachable(e)) return Class::kUnreachable;
  return Class::kFailed;
}

// The library may publish a timed-out or cancelled connect while its last
// attempt still reads kInProgress (attempts() is "so far"). That attempt was
// cut off by the connect's end: report it with the connect's outcome.
void SettleCutOffAttempts(Row& row) {
  if (row.cls != Class::kTimeout && row.cls != Class::kCancelled) return;
  for (Attempt& a : row.attempts) {
    if (a.outcome != Attempt::Outcome::kInProgress) continue;
    a.outcome = row.cls == Class::kTimeout ? Attempt::Outcome::kTimedOut
                                           : Attempt::Outcome::kCancelled;
    a.error_code = row.cls == Class::kTimeout ? ETIMEDOUT : ECANCELED;
  }
}

}  // namespace

absl::Span<const ClassInfo> Classes() { return kClasses; }

const ClassInfo& InfoOf(Class c) {
  static_assert(sizeof(kClasses) / sizeof(kClasses[0]) ==
                    static_cast<size_t>(Class::kConnected) + 1,
                "one kClasses entry per Class, in enum order");
  return kClasses[static_cast<size_t>(c)];
}

Class Classify(const absl::Status& status, int error_code,
               size_t attempt_count) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return Class::kConnected;
    case absl::StatusCode::kCancelled:
      return Class::kCancelled;
    case absl::StatusCode::kInvalidArgument:
      return Class::kBadInput;
    case absl::StatusCode::kDeadlineExceeded:
      return Class::kTimeout;
    case absl::StatusCode::kResourceExhausted:
      return attempt_count == 0 && error_code == 0 ? Class::kOverloaded
                                                   : Class::kFailed;
    default:
      break;
  }
  // No address was tried and no errno: the resolver said no.
  if (attempt_count == 0 && error_code == 0) return Class::kResolveFailed;
  return ClassOfErrno(error_code);
}

Class ClassifyAttempt(const Attempt& a) {
  switch (a.outcome) {
    case Attempt::Outcome::kInProgress:
      return Class::kInProgress;
    case Attempt::Outcome::kConnected:
      return Class::kConnected;
    case Attempt::Outcome::kTimedOut:
      return Class::kTimeout;
    case Attempt::Outcome::kCancelled:
      return Class::kCancelled;
    case Attempt::Outcome::kFailed:
      break;
  }
  return ClassOfErrno(a.error_code);
}

std::string ErrnoName(int error_code) {
  return error_code == 0 ? "" : internal::ErrnoName(error_code);
}

Row MakeRow(const Probe& probe) {
  const Socket& s = *probe.socket;
  Row row;
  row.target = probe.target;
  row.error = std::string(s.error().message());
  row.error_code = s.error_code();
  row.address = s.peername();
  row.local = s.sockname();
  row.time = probe.connect_time();
  row.attempts = s.attempts();
  row.cls = Classify(s.error(), row.error_code, row.attempts.size());
  SettleCutOffAttempts(row);
  if (const Exchange* x = probe.exchange.get()) {
    row.sent = true;
    row.reply_status = x->status;
    row.reply_timed_out = x->timed_out.load(std::memory_order_relaxed);
    row.reply = x->reply;
    if (!row.reply_status.ok()) row.cls = Class::kReplyFailed;
  }
  return row;
}

std::string ReplyError(const Row& row) {
  if (!row.sent || row.reply_status.ok()) return "";
  if (row.reply_timed_out) return "no reply before the timeout";
  return std::string(row.reply_status.message());
}

std::vector<std::pair<Class, size_t>> CountByClass(
    const std::vector<Row>& rows) {
  std::vector<std::pair<Class, size_t>> out;
  for (const ClassInfo& info : kClasses) {
    size_t n = 0;
    for (const Row& row : rows) n += row.cls == info.cls ? 1 : 0;
    if (n > 0) out.emplace_back(info.cls, n);
  }
  return out;
}

Class WorstClass(const std::vector<Row>& rows) {
  Class worst = Class::kConnected;
  for (const Row& row : rows) worst = std::min(worst, row.cls);
  return worst;
}

int ExitCodeOf(const std::vector<Row>& rows) {
  return InfoOf(WorstClass(rows)).exit_code;
}

std::string FormatTime(absl::Duration d) {
  const double ms = absl::ToDoubleMilliseconds(d);
  if (ms < 0.995) return absl::StrFormat("%.2f ms", ms);
  if (ms < 9.95) return absl::StrFormat("%.1f ms", ms);
  if (ms < 999.5) return absl::StrFormat("%.0f ms", ms);
  const double s = ms / 1000;
  if (s < 9.995) return absl::StrFormat("%.2f s", s);
  if (s < 99.95) return absl::StrFormat("%.1f s", s);
  return absl::StrFormat("%.0f s", s);
}

}  // namespace probe
}  // namespace tether
