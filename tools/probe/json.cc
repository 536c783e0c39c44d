#include "tools/probe/json.h"

#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/probe/text.h"

namespace tether {
namespace probe {
namespace {

void AppendEscaped(char c, std::string* out) {
  switch (c) {
    case '"':
      *out += "\\\"";
      break;
    case '\\':
      *out += "\\\\";
      break;
    case '\n':
      *out += "\\n";
      break;
    case '\r':
      *out += "\\r";
      break;
    case '\t':
      *out += "\\t";
      break;
    default:
      if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
        absl::StrAppendFormat(out, "\\u%04x", static_cast<uint8_t>(c));
      } else {
        out->push_back(c);
      }
  }
}

std::string StringOrNull(absl::string_view s) {
  return s.empty() ? "null" : JsonString(s);
}

std::string OrNull(const std::optional<SocketAddress>& a) {
  return a.has_value() ? JsonString(a->ToString()) : "null";
}

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

// "errno" and "message" of an attempt: the errno's name and its strerror().
std::string ErrnoFields(int error_code) {
  return absl::StrCat(
      ",\"errno\":", StringOrNull(ErrnoName(error_code)), ",\"message\":",
      StringOrNull(error_code == 0 ? "" : std::strerror(error_code)));
}

std::string AttemptToJson(const Attempt& a) {
  return absl::StrCat(
      "{\"address\":", JsonString(a.address.ToString()),
      ",\"outcome\":", JsonString(InfoOf(ClassifyAttempt(a)).name),
      ErrnoFields(a.error_code), ",\"time_ms\":", Millis(a.duration), "}");
}

std::string ReplyFields(const Row& row) {
  if (!row.sent) return "";
  return absl::StrCat(",\"reply\":", JsonString(row.reply),
                      ",\"reply_bytes\":", row.reply.size(),
                      ",\"reply_error\":", StringOrNull(ReplyError(row)));
}

}  // namespace

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  while (!s.empty()) {
    const size_t n = Utf8Length(s);
    if (n == 0) {
      out += "\\ufffd";
      s.remove_prefix(1);
    } else if (n == 1) {
      AppendEscaped(s[0], &out);
      s.remove_prefix(1);
    } else {
      out.append(s.data(), n);
      s.remove_prefix(n);
    }
  }
  out += "\"";
  return out;
}

std::string RowToJson(const Row& row) {
  std::string attempts;
  for (const Attempt& a : row.attempts) {
    absl::StrAppend(&attempts, attempts.empty() ? "" : ",", AttemptToJson(a));
  }
  const std::string message =
      row.cls == Class::kReplyFailed ? ReplyError(row) : row.error;
  return absl::StrCat(
      "{\"type\":\"target\",\"target\":", JsonString(row.target.text),
      ",\"host\":", JsonString(row.target.host), ",\"port\":", row.target.port,
      ",\"outcome\":", JsonString(InfoOf(row.cls).name),
      ",\"errno\":", StringOrNull(ErrnoName(row.error_code)),
      ",\"message\":", StringOrNull(message),
      ",\"address\":", OrNull(row.address),
      ",\"local_address\":", OrNull(row.local),
      ",\"time_ms\":", Millis(row.time), ",\"attempts\":[", attempts, "]",
      ReplyFields(row), "}");
}

std::string SummaryToJson(const std::vector<Row>& rows,
                          absl::Duration elapsed) {
  std::string counts;
  for (const auto& [cls, n] : CountByClass(rows)) {
    absl::StrAppend(&counts, counts.empty() ? "" : ",",
                    JsonString(InfoOf(cls).name), ":", n);
  }
  return absl::StrCat("{\"type\":\"summary\",\"targets\":", rows.size(),
                      ",\"elapsed_ms\":", Millis(elapsed), ",\"counts\":{",
                      counts, "},\"exit_code\":", ExitCodeOf(rows), "}");
}

}  // namespace probe
}  // namespace tether
