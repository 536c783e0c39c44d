#include "tools/probe/text.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_format.h"

namespace tether {
namespace probe {
namespace {

// One code point (or an undecodable byte) as shown on a terminal.
std::string Shown(absl::string_view seq, bool valid) {
  const auto c = static_cast<uint8_t>(seq[0]);
  if (!valid) return absl::StrFormat("\\x%02x", c);
  if (seq.size() == 2 && c == 0xC2 && static_cast<uint8_t>(seq[1]) < 0xA0) {
    return absl::StrFormat("\\u%04x", static_cast<uint8_t>(seq[1]));  // C1
  }
  if (seq.size() > 1) return std::string(seq);
  if (c == '\n') return "\\n";
  if (c == '\r') return "\\r";
  if (c == '\t') return "\\t";
  if (c < 0x20 || c == 0x7F) return absl::StrFormat("\\x%02x", c);
  return std::string(seq);
}

}  // namespace

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

std::string Printable(absl::string_view s, size_t max) {
  std::vector<std::string> shown;  // one entry per code point
  while (!s.empty()) {
    const size_t n = Utf8Length(s);
    shown.push_back(Shown(s.substr(0, n == 0 ? 1 : n), n != 0));
    s.remove_prefix(n == 0 ? 1 : n);
  }
  std::string out;
  const bool cut = shown.size() > max;
  const size_t keep = cut ? (max > 3 ? max - 3 : 0) : shown.size();
  for (size_t i = 0; i < keep; ++i) out += shown[i];
  return cut ? out + "..." : out;
}

size_t DisplayWidth(absl::string_view s) {
  size_t width = 0;
  while (!s.empty()) {
    const size_t n = Utf8Length(s);
    s.remove_prefix(n == 0 ? 1 : n);
    ++width;
  }
  return width;
}

std::string PadRight(absl::string_view s, size_t width) {
  const size_t w = DisplayWidth(s);
  return std::string(s) + std::string(w < width ? width - w : 0, ' ');
}

std::string PadLeft(absl::string_view s, size_t width) {
  const size_t w = DisplayWidth(s);
  return std::string(w < width ? width - w : 0, ' ') + std::string(s);
}

}  // namespace probe
}  // namespace tether
