#include "tools/probe/json.h"

#include <string>

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
  row.target = {":80", "", 80};
  row.result = "bad input";
  row.error = "host is empty";
  std::string json = RowToJson(row);
  EXPECT_THAT(json, HasSubstr(R"("target":":80","host":"","port":80)"));
  EXPECT_THAT(json,
              HasSubstr(R"("result":"bad input","error":"host is empty")"));
  EXPECT_THAT(json,
              HasSubstr(R"("errno":null,"address":null,"local_address":null)"));
  EXPECT_THAT(json, HasSubstr(R"("attempt_count":0,"attempts":[])"));
  EXPECT_EQ(json.find("reply"), std::string::npos);
}

TEST(RowToJsonTest, WritesTheReplyWhenSent) {
  Row row;
  row.target = {"h:1", "h", 1};
  row.result = "connected";
  row.sent = true;
  row.reply = "ok\n";
  EXPECT_THAT(
      RowToJson(row),
      HasSubstr(R"("reply":"ok\n","reply_bytes":3,"reply_error":null)"));
}

}  // namespace
}  // namespace probe
}  // namespace tether
