#include "tools/probe/row.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tether {
namespace probe {
namespace {

bool IsUnreachable(int e) {
  return e == ENETUNREACH || e == EHOSTUNREACH || e == ENETDOWN ||
         e == EHOSTDOWN || e == EADDRNOTAVAIL;
}

}  // namespace

std::string Result(const absl::Status& status, int error_code) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "connected";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kInvalidArgument:
      return "bad input";
    case absl::StatusCode::kNotFound:
      return "not found";
    case absl::StatusCode::kDeadlineExceeded:
      return "timed out";
    case absl::StatusCode::kResourceExhausted:
      return "overloaded";
    default:
      break;
  }
  if (error_code == ECONNREFUSED) return "refused";
  if (error_code == ETIMEDOUT) return "timed out";
  if (IsUnreachable(error_code)) return "unreachable";
  return "failed";
}

std::string ErrnoName(int error_code) {
  const char* name = strerrorname_np(error_code);
  return name != nullptr ? name : absl::StrCat("errno ", error_code);
}

std::string AttemptOutcome(const Attempt& a) {
  switch (a.outcome) {
    case Attempt::Outcome::kInProgress:
      return "in progress";
    case Attempt::Outcome::kConnected:
      return "connected";
    case Attempt::Outcome::kTimedOut:
      return "timed out";
    case Attempt::Outcome::kCancelled:
      return "cancelled";
    case Attempt::Outcome::kFailed:
      break;
  }
  if (a.error_code == ECONNREFUSED) return "refused (ECONNREFUSED)";
  return absl::StrCat(IsUnreachable(a.error_code) ? "unreachable" : "failed",
                      " (", ErrnoName(a.error_code), ": ",
                      std::strerror(a.error_code), ")");
}

Row MakeRow(const Probe& probe) {
  const Socket& s = *probe.socket;
  Row row;
  row.target = probe.target;
  row.result = Result(s.error(), s.error_code());
  row.error = std::string(s.error().message());
  row.error_code = s.error_code();
  row.address = s.peername();
  row.local = s.sockname();
  row.time = probe.connect_time();
  row.attempts = s.attempts();
  if (const Exchange* x = probe.exchange.get()) {
    row.sent = true;
    row.reply_status = x->status;
    row.reply_timed_out = x->timed_out.load(std::memory_order_relaxed);
    row.reply = x->reply;
  }
  return row;
}

bool Succeeded(const Row& row) {
  return row.result == "connected" && (!row.sent || row.reply_status.ok());
}

std::string FormatTime(absl::Duration d) {
  const double ms = absl::ToDoubleMilliseconds(d);
  if (ms < 1) return absl::StrFormat("%.2f ms", ms);
  if (ms < 10) return absl::StrFormat("%.1f ms", ms);
  if (ms < 1000) return absl::StrFormat("%.0f ms", ms);
  return absl::StrFormat("%.2f s", ms / 1000);
}

}  // namespace probe
}  // namespace tether
