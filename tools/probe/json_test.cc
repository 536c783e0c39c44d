#include "tools/probe/json.h"

#include <cerrno>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether {
namespace probe {
namespace {

using ::testing::HasSubstr;

TEST(JsonStringTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(JsonString(std::string("\0\x1f\x7f", 3)),
            R"("\u0000\u001f\u007f")");
}

TEST(JsonStringTest, KeepsValidUtf8) {
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonStringTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(JsonString("\xff"), R"("\ufffd")");
  EXPECT_EQ(JsonString("\xc3"), R"("\ufffd")");            // truncated
  EXPECT_EQ(JsonString("\xc0\xaf"), R"("\ufffd\ufffd")");  // overlong
  EXPECT_EQ(JsonString("\xed\xa0\x80"),
            R"("\ufffd\ufffd\ufffd")");  // surrogate
}

TEST(RowToJsonTest, WritesNullsForWhatIsMissing) {
  Row row;
  row.target = {"x:80", "x", 80};
  row.cls = Class::kBadInput;
  row.error = "host is empty";
  std::string json = RowToJson(row);
  EXPECT_THAT(json, HasSubstr(R"({"type":"target","target":"x:80","host":"x",)"
                              R"("port":80,"outcome":"bad_input","errno":null,)"
                              R"("message":"host is empty","address":null,)"
                              R"("local_address":null,)"));
  EXPECT_THAT(json, HasSubstr(R"("attempts":[])"));
  EXPECT_EQ(json.find("reply"), std::string::npos);
}

TEST(RowToJsonTest, SplitsOutcomeErrnoAndMessage) {
  Row row;
  row.target = {"h:1", "h", 1};
  row.cls = Class::kRefused;
  row.error_code = ECONNREFUSED;
  row.error = "connect 127.0.0.1:1: connection refused";
  Attempt a{*SocketAddress::Parse("127.0.0.1", 1), Attempt::Outcome::kFailed,
            ECONNREFUSED, absl::UnixEpoch(), absl::Milliseconds(2)};
  row.attempts = {a};
  EXPECT_THAT(
      RowToJson(row),
      HasSubstr(R"("outcome":"refused","errno":"ECONNREFUSED",)"
                R"("message":"connect 127.0.0.1:1: connection refused")"));
  EXPECT_THAT(RowToJson(row),
              HasSubstr(R"("attempts":[{"address":"127.0.0.1:1",)"
                        R"("outcome":"refused","errno":"ECONNREFUSED",)"
                        R"("message":"Connection refused","time_ms":2.000}])"));
}

TEST(RowToJsonTest, WritesTheReplyWhenSent) {
  Row row;
  row.target = {"h:1", "h", 1};
  row.cls = Class::kConnected;
  row.sent = true;
  row.reply = "ok\n";
  EXPECT_THAT(
      RowToJson(row),
      HasSubstr(R"("reply":"ok\n","reply_bytes":3,"reply_error":null)"));
}

TEST(SummaryToJsonTest, CountsInSeverityOrder) {
  std::vector<Row> rows(4);
  rows[0].cls = Class::kConnected;
  rows[1].cls = Class::kRefused;
  rows[2].cls = Class::kTimeout;
  rows[3].cls = Class::kRefused;
  EXPECT_EQ(SummaryToJson(rows, absl::Milliseconds(1500)),
            R"({"type":"summary","targets":4,"elapsed_ms":1500.000,)"
            R"("counts":{"timeout":1,"refused":2,"connected":1},)"
            R"("exit_code":5})");
}

}  // namespace
}  // namespace probe
}  // namespace tether
