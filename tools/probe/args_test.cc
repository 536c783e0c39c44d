#include "tools/probe/args.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether {
namespace probe {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ProbeArgs> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "tether-probe");
  return ParseArgs(static_cast<int>(args.size()), args.data());
}

// The one target `text` names. REQUIRES: it parses to exactly one.
Target One(absl::string_view text) {
  absl::StatusOr<std::vector<Target>> t = ParseTarget(text);
  EXPECT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t.ok() ? t->size() : 0, 1u);
  return t.ok() && t->size() == 1 ? (*t)[0] : Target{};
}

TEST(ParseTargetTest, SplitsHostAndPort) {
  const Target t = One("example.com:443");
  EXPECT_EQ(t.host, "example.com");
  EXPECT_EQ(t.port, 443);
  EXPECT_EQ(t.text, "example.com:443");
}

TEST(ParseTargetTest, TakesBracketedIPv6) {
  const Target t = One("[::1]:8080");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 8080);
}

TEST(ParseTargetTest, ExpandsAPortRange) {
  absl::StatusOr<std::vector<Target>> t = ParseTarget("[::1]:8000-8002");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].text, "[::1]:8000");
  EXPECT_EQ((*t)[2].text, "[::1]:8002");
  EXPECT_EQ((*t)[2].host, "::1");
  EXPECT_EQ((*t)[2].port, 8002);
}

TEST(ParseTargetTest, RejectsMalformedTargets) {
  for (const char* bad :
       {"localhost", "host:", "host:0", "host:65536", "host:http", "::1:80",
        "[::1]80", "[::1", ":80", "[]:80", "localhost:+80", "localhost: 80",
        "localhost:80 ", "h:9-1", "h:1-", "h:-5", "h:1-70000", "h:1-9999"}) {
    absl::StatusOr<std::vector<Target>> t = ParseTarget(bad);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseTargetListTest, SkipsCommentsAndBlankLines) {
  absl::StatusOr<std::vector<Target>> t = ParseTargetList(
      "# hosts\n\n  a:1  # the first\n[::1]:2-3\r\n", "hosts.txt");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].text, "a:1");
  EXPECT_EQ((*t)[2].text, "[::1]:3");
}

TEST(ParseTargetListTest, NamesTheFileAndLine) {
  absl::StatusOr<std::vector<Target>> t =
      ParseTargetList("a:1\nnope\n", "hosts.txt");
  EXPECT_THAT(t.status().message(), HasSubstr("hosts.txt line 2"));
  EXPECT_THAT(t.status().message(), HasSubstr("\"nope\""));
}

TEST(ParseSecondsTest, TakesPlainSecondsAndDurations) {
  EXPECT_EQ(ParseSeconds("5"), absl::Seconds(5));
  EXPECT_EQ(ParseSeconds("0.5"), absl::Milliseconds(500));
  EXPECT_EQ(ParseSeconds("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(ParseSeconds("1m30s"), absl::Seconds(90));
  EXPECT_EQ(ParseSeconds("inf"), absl::InfiniteDuration());
  EXPECT_FALSE(ParseSeconds("5x").has_value());
  EXPECT_FALSE(ParseSeconds("nan").has_value());
  EXPECT_FALSE(ParseSeconds("").has_value());
}

TEST(ParseArgsTest, ReadsEveryFlag) {
  absl::StatusOr<ProbeArgs> a =
      Parse({"--json", "--send", "hi", "--timeout=2", "--attempt-timeout",
             "500ms", "--happy-eyeballs-delay", "0", "-6", "--max-workers", "8",
             "a:1", "--local-address", "::1", "--nodelay", "[::1]:2"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->json);
  EXPECT_EQ(*a->send, "hi");
  EXPECT_EQ(*a->timeout, absl::Seconds(2));
  EXPECT_EQ(a->attempt_timeout, absl::Milliseconds(500));
  EXPECT_EQ(a->happy_eyeballs_delay, absl::ZeroDuration());
  EXPECT_EQ(a->family, Family::kIPv6);
  EXPECT_EQ(a->max_workers, 8);
  EXPECT_EQ(a->local_address, "::1");
  EXPECT_TRUE(a->nodelay);
  ASSERT_EQ(a->targets.size(), 2u);
}

TEST(ParseArgsTest, FamilyFlag) {
  absl::StatusOr<ProbeArgs> a = Parse({"--family", "4", "a:1"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->family, Family::kIPv4);
  a = Parse({"--family=6", "-6", "a:1"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->family, Family::kIPv6);
}

TEST(ParseArgsTest, ReadsTargetsFromStdinAfterTheCommandLine) {
  std::FILE* in = tmpfile();
  ASSERT_NE(in, nullptr);
  std::fputs("# list\nb:2\nc:3-4\n", in);
  std::rewind(in);
  std::vector<const char*> argv = {"tether-probe", "-f", "-", "a:1"};
  absl::StatusOr<ProbeArgs> a =
      ParseArgs(static_cast<int>(argv.size()), argv.data(), in);
  std::fclose(in);
  ASSERT_TRUE(a.ok()) << a.status();
  std::vector<std::string> texts;
  for (const Target& t : a->targets) texts.push_back(t.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"a:1", "b:2", "c:3", "c:4"}));
}

TEST(ParseArgsTest, KeepsDefaults) {
  absl::StatusOr<ProbeArgs> a = Parse({"a:1"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->timeout.has_value());
  EXPECT_EQ(a->attempt_timeout, absl::InfiniteDuration());
  EXPECT_EQ(a->happy_eyeballs_delay, absl::Milliseconds(250));
  EXPECT_EQ(a->family, Family::kAny);
  EXPECT_FALSE(a->send.has_value());
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<ProbeArgs> a = Parse({"--", "--json:1"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->json);
  ASSERT_EQ(a->targets.size(), 1u);
  EXPECT_EQ(a->targets[0].host, "--json");
}

// Every usage error names the argument at fault.
TEST(ParseArgsTest, UsageErrorsNameTheBadArgument) {
  const std::vector<std::pair<std::vector<const char*>, const char*>> cases = {
      {{"--bogus", "a:1"}, "--bogus"},
      {{"--timeout", "5x", "a:1"}, "--timeout \"5x\""},
      {{"--family", "5", "a:1"}, "--family \"5\""},
      {{"--family", "4", "-6", "a:1"}, "pick one"},
      {{"--local-address", "a.b", "a:1"}, "--local-address \"a.b\""},
      {{"--send-file", "/", "a:1"}, "Is a directory"},
      {{"-f", "/nonexistent/list"}, "/nonexistent/list"},
      {{"--timeout", "0s", "a:1"}, "--timeout \"0s\""},
      {{"--attempt-timeout=-1s", "a:1"}, "--attempt-timeout"},
      {{"--max-workers", "0", "a:1"}, "--max-workers \"0\""},
      {{"a:1", "--timeout"}, "--timeout"},
      {{"-4", "-6", "a:1"}, "pick one"},
      {{"--send", "x", "--send-file", "/dev/null", "a:1"}, "--send-file"},
      {{"--send-file", "/nonexistent/file", "a:1"}, "/nonexistent/file"},
      {{"nohostport"}, "\"nohostport\""},
      {{"--demo", "a:1"}, "--demo takes no targets"},
      {{}, "no targets"},
  };
  for (const auto& [args, needle] : cases) {
    absl::StatusOr<ProbeArgs> a = Parse(args);
    ASSERT_FALSE(a.ok()) << needle;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(a.status().message(), HasSubstr(needle));
    EXPECT_EQ(a.status().message().find('\n'), absl::string_view::npos);
  }
}

TEST(ParseArgsTest, HelpNeedsNothingElse) {
  absl::StatusOr<ProbeArgs> a = Parse({"--help"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->help);
}

}  // namespace
}  // namespace probe
}  // namespace tether
