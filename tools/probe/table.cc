#include "tools/probe/table.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tether {
namespace probe {
namespace {

constexpr size_t kColumns = 6;
using Cells = std::array<std::string, kColumns>;
constexpr size_t kMaxReplyShown = 72;

std::string OrDash(const std::optional<SocketAddress>& a) {
  return a.has_value() ? a->ToString() : "-";
}

Cells CellsOf(const Row& row) {
  return {Printable(row.target.text, 48),
          row.result,
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
                    right ? absl::StrFormat("%*s", w[i], cells[i])
                          : absl::StrFormat("%-*s", w[i], cells[i]));
  }
  out.erase(out.find_last_not_of(' ') + 1);
  return out + "\n";
}

std::string ReplyLine(const Row& row) {
  if (!row.sent) return "";
  std::string head = "    sent, half-closed; ";
  if (row.reply_timed_out) {
    return absl::StrCat(head, "no reply before the timeout\n");
  }
  if (!row.reply_status.ok()) {
    return absl::StrCat(head, "failed: ", row.reply_status.ToString(), "\n");
  }
  return absl::StrCat(head, "reply (", row.reply.size(), " bytes): \"",
                      Printable(row.reply, kMaxReplyShown), "\"\n");
}

std::string DetailLines(const Row& row) {
  std::string out;
  const bool show_attempts =
      row.result != "connected" || row.attempts.size() > 1;
  for (const Attempt& a : row.attempts) {
    if (!show_attempts) break;
    absl::StrAppend(&out, "    tried ", a.address.ToString(), ": ",
                    AttemptOutcome(a), " after ", FormatTime(a.duration), "\n");
  }
  if (row.result != "connected" &&
      (row.attempts.empty() || row.result == "timed out")) {
    absl::StrAppend(&out, "    ", Printable(row.error, 200), "\n");
  }
  return out + ReplyLine(row);
}

}  // namespace

std::string Printable(absl::string_view s, size_t max) {
  std::string e = absl::CEscape(s);
  if (e.size() > max) e = absl::StrCat(e.substr(0, max - 3), "...");
  return e;
}

std::string RenderTable(const std::vector<Row>& rows, absl::Duration elapsed) {
  const Cells header = {"TARGET", "RESULT", "ADDRESS",
                        "LOCAL",  "TIME",   "TRIES"};
  std::vector<Cells> cells;
  for (const Row& row : rows) cells.push_back(CellsOf(row));
  std::array<size_t, kColumns> width;
  for (size_t i = 0; i < kColumns; ++i) {
    width[i] = header[i].size();
    for (const Cells& c : cells) width[i] = std::max(width[i], c[i].size());
  }
  std::string out = Line(header, width);
  for (size_t r = 0; r < rows.size(); ++r) {
    absl::StrAppend(&out, Line(cells[r], width), DetailLines(rows[r]));
  }
  return absl::StrCat(out, Summary(rows, elapsed), "\n");
}

std::string Summary(const std::vector<Row>& rows, absl::Duration elapsed) {
  std::vector<std::pair<std::string, int>> counts;  // in order of appearance
  for (const Row& row : rows) {
    auto it = std::find_if(counts.begin(), counts.end(), [&row](const auto& c) {
      return c.first == row.result;
    });
    if (it == counts.end()) {
      counts.emplace_back(row.result, 1);
    } else {
      ++it->second;
    }
  }
  std::string out =
      absl::StrCat(rows.size(), rows.size() == 1 ? " target" : " targets",
                   " in ", FormatTime(elapsed), ":");
  for (size_t i = 0; i < counts.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? " " : ", ", counts[i].second, " ",
                    counts[i].first);
  }
  return out;
}

}  // namespace probe
}  // namespace tether
