// lib/channel.cc: the helpers every Channel shares, written against the
// virtual Read/Write so Socket and Pipeline get them alike.

#include "tether/channel.h"

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace tether {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

absl::Status Channel::WriteAll(absl::Span<const char> data) {
  while (!data.empty()) {
    absl::StatusOr<size_t> written = Write(data);
    if (!written.ok()) return written.status();
    // A blocking Write of a non-empty buffer moves at least one byte; this
    // guards the loop against a Channel that breaks that rule.
    if (*written == 0) return absl::InternalError("write made no progress");
    data.remove_prefix(*written);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Channel::ReadToEnd(size_t max_bytes) {
  std::string out;
  while (true) {
    const size_t old_size = out.size();
    // Ask for at most one byte past the limit: enough to detect the excess
    // (written so that max_bytes == SIZE_MAX cannot overflow).
    const size_t room = max_bytes - old_size;  // out.size() <= max_bytes here
    const size_t want = room >= kReadChunk ? kReadChunk : room + 1;
    out.resize(old_size + want);
    absl::StatusOr<size_t> n = Read(absl::MakeSpan(&out[old_size], want));
    if (!n.ok()) return n.status();
    out.resize(old_size + *n);
    if (*n == 0) return out;
    if (out.size() > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", max_bytes, " bytes before end of stream"));
    }
  }
}

}  // namespace tether
