// tools/probe/text.h: text as a person reads it, on a terminal or in JSON.

#ifndef TETHER_TOOLS_PROBE_TEXT_H_
#define TETHER_TOOLS_PROBE_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace tether {
namespace probe {

// Length of the valid UTF-8 sequence at the start of `s` (1 for ASCII), or
// 0 when `s` starts with a byte that is not part of valid UTF-8 (overlong
// forms, surrogates and truncated sequences included). REQUIRES: !s.empty().
size_t Utf8Length(absl::string_view s);

// `s` for a terminal, on one line: valid UTF-8 and quotes as they are;
// control characters as \n, \r, \t or \xNN (C1 controls as \u0085), and each
// byte that is not valid UTF-8 as \xNN. Cut to at most `max` characters
// (code points), "..." marking a cut.
std::string Printable(absl::string_view s, size_t max);

// Columns `s` takes on a terminal: its code points (bytes that are not
// valid UTF-8 count one each). Wide (CJK) characters count one too.
size_t DisplayWidth(absl::string_view s);

// `s` left-aligned (or right-aligned) and padded with spaces to `width`
// columns by DisplayWidth().
std::string PadRight(absl::string_view s, size_t width);
std::string PadLeft(absl::string_view s, size_t width);

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_TEXT_H_
