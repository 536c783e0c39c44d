#include "tools/probe/row.h"

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/probe/table.h"
#include "tools/probe/text.h"

namespace tether {
namespace probe {
namespace {

absl::Status Errno(int e) { return absl::ErrnoToStatus(e, "x"); }

// Classes the network cannot produce on loopback on demand (failed,
// overloaded) are covered here; probe_golden_test covers the rest end to end.
TEST(ClassifyTest, EveryClass) {
  EXPECT_EQ(Classify(absl::OkStatus(), 0, 1), Class::kConnected);
  EXPECT_EQ(Classify(Errno(ECONNREFUSED), ECONNREFUSED, 1), Class::kRefused);
  EXPECT_EQ(Classify(absl::DeadlineExceededError("x"), ETIMEDOUT, 1),
            Class::kTimeout);
  EXPECT_EQ(Classify(Errno(ENETUNREACH), ENETUNREACH, 1), Class::kUnreachable);
  EXPECT_EQ(Classify(Errno(EADDRNOTAVAIL), EADDRNOTAVAIL, 1),
            Class::kUnreachable);
  EXPECT_EQ(Classify(absl::NotFoundError("x"), 0, 0), Class::kResolveFailed);
  EXPECT_EQ(Classify(absl::UnavailableError("EAI_AGAIN"), 0, 0),
            Class::kResolveFailed);
  EXPECT_EQ(Classify(absl::CancelledError("x"), ECANCELED, 1),
            Class::kCancelled);
  EXPECT_EQ(Classify(absl::InvalidArgumentError("x"), 0, 0), Class::kBadInput);
  EXPECT_EQ(Classify(absl::ResourceExhaustedError("queue"), 0, 0),
            Class::kOverloaded);
  EXPECT_EQ(Classify(Errno(EACCES), EACCES, 1), Class::kFailed);
}

TEST(ClassTableTest, NamesAndExitCodesAreDistinct) {
  std::set<std::string> names;
  std::set<int> codes;
  for (const ClassInfo& info : Classes()) {
    EXPECT_EQ(&InfoOf(info.cls), &info);
    names.insert(std::string(info.name));
    if (info.cls != Class::kInProgress) codes.insert(info.exit_code);
  }
  EXPECT_EQ(names.size(), Classes().size());
  EXPECT_EQ(codes.size(), Classes().size() - 1);
  EXPECT_EQ(InfoOf(Class::kConnected).exit_code, 0);
  EXPECT_EQ(InfoOf(Class::kBadInput).exit_code, kExitUsage);
}

TEST(ExitCodeTest, WorstClassWins) {
  std::vector<Row> rows(3);
  rows[0].cls = Class::kConnected;
  rows[1].cls = Class::kReplyFailed;
  rows[2].cls = Class::kRefused;
  EXPECT_EQ(ExitCodeOf(rows), InfoOf(Class::kRefused).exit_code);
  rows[1].cls = Class::kResolveFailed;
  EXPECT_EQ(ExitCodeOf(rows), InfoOf(Class::kResolveFailed).exit_code);
  EXPECT_EQ(ExitCodeOf({}), 0);
}

TEST(FormatTimeTest, ThreeDigitsUnitAfterRounding) {
  EXPECT_EQ(FormatTime(absl::Microseconds(213)), "0.21 ms");
  EXPECT_EQ(FormatTime(absl::Microseconds(2500)), "2.5 ms");
  EXPECT_EQ(FormatTime(absl::Microseconds(999400)), "999 ms");
  EXPECT_EQ(FormatTime(absl::Microseconds(999600)), "1.00 s");
  EXPECT_EQ(FormatTime(absl::Seconds(1)), "1.00 s");
  EXPECT_EQ(FormatTime(absl::Milliseconds(12345)), "12.3 s");
  EXPECT_EQ(FormatTime(absl::Seconds(125)), "125 s");
}

TEST(PrintableTest, KeepsWhatATerminalShows) {
  EXPECT_EQ(Printable("resolve \"caf\xc3\xa9.invalid\"", 100),
            "resolve \"caf\xc3\xa9.invalid\"");
  EXPECT_EQ(Printable("a\nb\x01\x7f", 100), "a\\nb\\x01\\x7f");
  EXPECT_EQ(Printable("\xff\xc3", 100), "\\xff\\xc3");
  EXPECT_EQ(Printable("\xc2\x85", 100), "\\u0085");  // C1 control
  EXPECT_EQ(Printable("caf\xc3\xa9 au lait", 6), "caf...");
  EXPECT_EQ(DisplayWidth("caf\xc3\xa9"), 4u);
  EXPECT_EQ(PadRight("caf\xc3\xa9", 6), "caf\xc3\xa9  ");
}

TEST(SummaryTest, CountsInSeverityOrder) {
  std::vector<Row> rows(3);
  rows[0].cls = Class::kConnected;
  rows[1].cls = Class::kReplyFailed;
  rows[2].cls = Class::kCancelled;
  EXPECT_EQ(Summary(rows, absl::Seconds(1)),
            "3 targets in 1.00 s: 1 cancelled, 1 no reply, 1 connected");
}

}  // namespace
}  // namespace probe
}  // namespace tether
