#include "tools/probe/args.h"

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

TEST(ParseTargetTest, SplitsHostAndPort) {
  absl::StatusOr<Target> t = ParseTarget("example.com:443");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "example.com");
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->text, "example.com:443");
}

TEST(ParseTargetTest, TakesBracketedIPv6) {
  absl::StatusOr<Target> t = ParseTarget("[::1]:8080");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 8080);
}

TEST(ParseTargetTest, LeavesAnEmptyHostToTheLibrary) {
  absl::StatusOr<Target> t = ParseTarget(":80");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "");
}

TEST(ParseTargetTest, RejectsMalformedTargets) {
  for (const char* bad : {"localhost", "host:", "host:0", "host:65536",
                          "host:http", "::1:80", "[::1]80", "[::1"}) {
    absl::StatusOr<Target> t = ParseTarget(bad);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseArgsTest, ReadsEveryFlag) {
  absl::StatusOr<ProbeArgs> a =
      Parse({"--json", "--send", "hi", "--timeout=2s", "--attempt-timeout",
             "500ms", "--happy-eyeballs-delay", "0", "-6", "--max-workers", "8",
             "a:1", "[::1]:2"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->json);
  EXPECT_EQ(*a->send, "hi");
  EXPECT_EQ(*a->timeout, absl::Seconds(2));
  EXPECT_EQ(a->attempt_timeout, absl::Milliseconds(500));
  EXPECT_EQ(a->happy_eyeballs_delay, absl::ZeroDuration());
  EXPECT_EQ(a->family, Family::kIPv6);
  EXPECT_EQ(a->max_workers, 8);
  ASSERT_EQ(a->targets.size(), 2u);
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
      {{"--timeout", "0s", "a:1"}, "--timeout \"0s\""},
      {{"--attempt-timeout=-1s", "a:1"}, "--attempt-timeout"},
      {{"--max-workers", "0", "a:1"}, "--max-workers \"0\""},
      {{"a:1", "--timeout"}, "--timeout needs a value"},
      {{"--json=yes", "a:1"}, "--json takes no value"},
      {{"-4", "-6", "a:1"}, "-4 and -6"},
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
