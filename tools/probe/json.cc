#include "tools/probe/json.h"

#include <cstdint>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tether {
namespace probe {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t Utf8Length(absl::string_view s) {
  const auto b = [&s](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c = b(0);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  return overlong || surrogate || cp > 0x10FFFF ? 0 : n;
}

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

std::string Null() { return "null"; }

std::string OrNull(const std::optional<SocketAddress>& a) {
  return a.has_value() ? JsonString(a->ToString()) : Null();
}

std::string ErrnoOrNull(int error_code) {
  return error_code == 0 ? Null() : JsonString(ErrnoName(error_code));
}

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

std::string AttemptToJson(const Attempt& a) {
  return absl::StrCat("{\"address\":", JsonString(a.address.ToString()),
                      ",\"outcome\":", JsonString(AttemptOutcome(a)),
                      ",\"errno\":", ErrnoOrNull(a.error_code),
                      ",\"time_ms\":", Millis(a.duration), "}");
}

std::string ReplyFields(const Row& row) {
  if (!row.sent) return "";
  std::string error = row.reply_status.ok() ? Null()
                      : row.reply_timed_out
                          ? JsonString("timed out waiting for the reply")
                          : JsonString(row.reply_status.ToString());
  return absl::StrCat(",\"reply\":", JsonString(row.reply),
                      ",\"reply_bytes\":", row.reply.size(),
                      ",\"reply_error\":", error);
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
  return absl::StrCat(
      "{\"target\":", JsonString(row.target.text),
      ",\"host\":", JsonString(row.target.host), ",\"port\":", row.target.port,
      ",\"result\":", JsonString(row.result),
      ",\"error\":", row.error.empty() ? Null() : JsonString(row.error),
      ",\"errno\":", ErrnoOrNull(row.error_code),
      ",\"address\":", OrNull(row.address),
      ",\"local_address\":", OrNull(row.local),
      ",\"time_ms\":", Millis(row.time),
      ",\"attempt_count\":", row.attempts.size(), ",\"attempts\":[", attempts,
      "]", ReplyFields(row), "}");
}

}  // namespace probe
}  // namespace tether
