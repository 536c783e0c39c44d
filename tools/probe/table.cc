#include "tools/probe/table.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tools/probe/text.h"

namespace tether {
namespace probe {
namespace {

constexpr size_t kColumns = 6;
using Cells = std::array<std::string, kColumns>;
constexpr size_t kMaxTargetShown = 48;
constexpr size_t kMaxMessageShown = 200;
constexpr size_t kMaxReplyShown = 72;

std::string OrDash(const std::optional<SocketAddress>& a) {
  return a.has_value() ? a->ToString() : "-";
}

Cells CellsOf(const Row& row) {
  return {Printable(row.target.text, kMaxTargetShown),
          std::string(InfoOf(row.cls).label),
          OrDash(row.address),
          OrDash(row.local),
          FormatTime(row.time),
          absl::StrCat(row.attempts.size())};
}

std::string Line(const Cells& cells, const std::array<size_t, kColumns>& w) {
  std::string out;
  for (size_t i = 0; i < kColumns; ++i) {
    const bool right = i >= 4;  // TIME and TRIES line up on the right
    absl::StrAppend(&out, i == 0 ? "" : "  ",
                    right ? PadLeft(cells[i], w[i]) : PadRight(cells[i], w[i]));
  }
  out.erase(out.find_last_not_of(' ') + 1);
  return out + "\n";
}

std::string ReplyLine(const Row& row) {
  if (!row.sent) return "";
  const std::string head = "    sent, half-closed; ";
  if (row.reply_status.ok()) {
    return absl::StrCat(head, "reply (", row.reply.size(), " bytes): \"",
                        Printable(row.reply, kMaxReplyShown), "\"\n");
  }
  if (row.reply_timed_out) return absl::StrCat(head, ReplyError(row), "\n");
  return absl::StrCat(
      head, "failed: ", Printable(ReplyError(row), kMaxMessageShown), "\n");
}

std::string DetailLines(const Row& row) {
  std::string out;
  const bool connected =
      row.cls == Class::kConnected || row.cls == Class::kReplyFailed;
  if (!connected || row.attempts.size() > 1) {
    for (const Attempt& a : row.attempts) {
      absl::StrAppend(&out, "    tried ", a.address.ToString(), ": ",
                      AttemptText(a), " after ", FormatTime(a.duration), "\n");
    }
  }
  if (!connected && row.attempts.empty()) {
    absl::StrAppend(&out, "    ", Printable(row.error, kMaxMessageShown), "\n");
  }
  return out + ReplyLine(row);
}

}  // namespace

std::string AttemptText(const Attempt& a) {
  const Class c = ClassifyAttempt(a);
  const std::string label(InfoOf(c).label);
  if (a.error_code == 0 || c == Class::kTimeout || c == Class::kCancelled) {
    return label;
  }
  return absl::StrCat(label, " (", ErrnoName(a.error_code), ": ",
                      std::strerror(a.error_code), ")");
}

std::string RenderTable(const std::vector<Row>& rows, absl::Duration elapsed) {
  const Cells header = {"TARGET", "RESULT", "ADDRESS",
                        "LOCAL",  "TIME",   "TRIES"};
  std::vector<Cells> cells;
  for (const Row& row : rows) cells.push_back(CellsOf(row));
  std::array<size_t, kColumns> width;
  for (size_t i = 0; i < kColumns; ++i) {
    width[i] = DisplayWidth(header[i]);
    for (const Cells& c : cells) {
      width[i] = std::max(width[i], DisplayWidth(c[i]));
    }
  }
  std::string out = Line(header, width);
  for (size_t r = 0; r < rows.size(); ++r) {
    absl::StrAppend(&out, Line(cells[r], width), DetailLines(rows[r]));
  }
  return absl::StrCat(out, Summary(rows, elapsed), "\n");
}

std::string Summary(const std::vector<Row>& rows, absl::Duration elapsed) {
  std::string out =
      absl::StrCat(rows.size(), rows.size() == 1 ? " target" : " targets",
                   " in ", FormatTime(elapsed), ":");
  bool first = true;
  for (const auto& [cls, n] : CountByClass(rows)) {
    absl::StrAppend(&out, first ? " " : ", ", n, " ", InfoOf(cls).label);
    first = false;
  }
  return out;
}

}  // namespace probe
}  // namespace tether
