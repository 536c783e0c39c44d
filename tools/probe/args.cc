#include "tools/probe/args.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tether {
namespace probe {
namespace {

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Quotes an argument for a message: escaped, so the message stays one line.
std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CEscape(s), "\"");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Usage(
        absl::StrCat("--send-file ", Quote(path), ": ", std::strerror(errno)));
  }
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed)
    return Usage(absl::StrCat("--send-file ", Quote(path), ": read error"));
  return data;
}

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag,
                                                 absl::string_view value,
                                                 bool zero_ok) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d)) {
    return Usage(absl::StrCat("bad ", flag, " ", Quote(value),
                              ": want a duration such as 500ms or 2s"));
  }
  if (d < absl::ZeroDuration() || (!zero_ok && d == absl::ZeroDuration())) {
    return Usage(absl::StrCat("bad ", flag, " ", Quote(value), ": must be ",
                              zero_ok ? "0 or more" : "more than 0"));
  }
  return d;
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view text,
                                   absl::string_view port) {
  int p = 0;
  if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
    return Usage(absl::StrCat("bad target ", Quote(text),
                              ": the port must be 1..65535"));
  }
  return static_cast<uint16_t>(p);
}

// Walks argv once; flags and targets may come in any order; "--" ends flags.
class Parser {
 public:
  Parser(int argc, const char* const* argv) : argv_(argv + 1, argv + argc) {}
  absl::StatusOr<ProbeArgs> Run();

 private:
  absl::Status Next(absl::string_view arg);
  absl::Status Flag(absl::string_view name,
                    std::optional<absl::string_view> inline_value);
  absl::Status BoolFlag(absl::string_view name);
  absl::Status ValueFlag(absl::string_view name, absl::string_view value);
  absl::StatusOr<absl::string_view> TakeValue(
      absl::string_view name, std::optional<absl::string_view> inline_value);
  absl::Status Finish();

  std::vector<absl::string_view> argv_;
  size_t next_ = 0;
  bool only_targets_ = false;
  bool saw_send_ = false;
  bool saw_send_file_ = false;
  bool saw_v4_ = false;
  bool saw_v6_ = false;
  ProbeArgs out_;
};

absl::StatusOr<ProbeArgs> Parser::Run() {
  while (next_ < argv_.size()) {
    absl::Status s = Next(argv_[next_++]);
    if (!s.ok()) return s;
  }
  absl::Status s = Finish();
  if (!s.ok()) return s;
  return std::move(out_);
}

absl::Status Parser::Next(absl::string_view arg) {
  if (!only_targets_ && arg == "--") {
    only_targets_ = true;
    return absl::OkStatus();
  }
  if (only_targets_ || arg.empty() || arg[0] != '-' || arg == "-") {
    absl::StatusOr<Target> t = ParseTarget(arg);
    if (!t.ok()) return t.status();
    out_.targets.push_back(*std::move(t));
    return absl::OkStatus();
  }
  const size_t eq = arg.find('=');
  if (arg.substr(0, 2) == "--" && eq != absl::string_view::npos) {
    return Flag(arg.substr(0, eq), arg.substr(eq + 1));
  }
  return Flag(arg, std::nullopt);
}

absl::Status Parser::Flag(absl::string_view name,
                          std::optional<absl::string_view> inline_value) {
  static constexpr absl::string_view kBool[] = {"--json", "--demo", "--help",
                                                "-h",     "-4",     "-6"};
  for (absl::string_view b : kBool) {
    if (name != b) continue;
    if (inline_value.has_value()) {
      return Usage(absl::StrCat(name, " takes no value"));
    }
    return BoolFlag(name);
  }
  static constexpr absl::string_view kValued[] = {"--send",
                                                  "--send-file",
                                                  "--timeout",
                                                  "--attempt-timeout",
                                                  "--happy-eyeballs-delay",
                                                  "--max-workers"};
  for (absl::string_view v : kValued) {
    if (name != v) continue;
    absl::StatusOr<absl::string_view> value = TakeValue(name, inline_value);
    if (!value.ok()) return value.status();
    return ValueFlag(name, *value);
  }
  return Usage(absl::StrCat("unknown flag ", Quote(name)));
}

absl::StatusOr<absl::string_view> Parser::TakeValue(
    absl::string_view name, std::optional<absl::string_view> inline_value) {
  if (inline_value.has_value()) return *inline_value;
  if (next_ >= argv_.size()) return Usage(absl::StrCat(name, " needs a value"));
  return argv_[next_++];
}

absl::Status Parser::BoolFlag(absl::string_view name) {
  if (name == "--json") out_.json = true;
  if (name == "--demo") out_.demo = true;
  if (name == "--help" || name == "-h") out_.help = true;
  if (name == "-4") saw_v4_ = true;
  if (name == "-6") saw_v6_ = true;
  return absl::OkStatus();
}

absl::Status Parser::ValueFlag(absl::string_view name,
                               absl::string_view value) {
  if (name == "--send") {
    saw_send_ = true;
    out_.send = std::string(value);
  } else if (name == "--send-file") {
    saw_send_file_ = true;
    absl::StatusOr<std::string> data = ReadFile(std::string(value));
    if (!data.ok()) return data.status();
    out_.send = *std::move(data);
  } else if (name == "--max-workers") {
    if (!absl::SimpleAtoi(value, &out_.max_workers) || out_.max_workers < 1) {
      return Usage(absl::StrCat("bad --max-workers ", Quote(value),
                                ": want a whole number, 1 or more"));
    }
  } else {
    const bool zero_ok = name == "--happy-eyeballs-delay";
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(name, value, zero_ok);
    if (!d.ok()) return d.status();
    if (name == "--timeout") out_.timeout = *d;
    if (name == "--attempt-timeout") out_.attempt_timeout = *d;
    if (zero_ok) out_.happy_eyeballs_delay = *d;
  }
  return absl::OkStatus();
}

// Checks that concern several arguments at once.
absl::Status Parser::Finish() {
  if (out_.help) return absl::OkStatus();
  if (saw_v4_ && saw_v6_) return Usage("-4 and -6 together: pick one");
  if (saw_send_ && saw_send_file_) {
    return Usage("--send and --send-file together: pick one");
  }
  out_.family = saw_v4_   ? Family::kIPv4
                : saw_v6_ ? Family::kIPv6
                          : Family::kAny;
  if (out_.demo && !out_.targets.empty()) {
    return Usage(absl::StrCat("--demo takes no targets, got ",
                              Quote(out_.targets[0].text)));
  }
  if (!out_.demo && out_.targets.empty()) return Usage("no targets");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Target> ParseTarget(absl::string_view text) {
  Target t;
  t.text = std::string(text);
  absl::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || text.substr(close + 1, 1) != ":") {
      return Usage(
          absl::StrCat("bad target ", Quote(text), ": want [v6-address]:port"));
    }
    t.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return Usage(absl::StrCat("bad target ", Quote(text),
                                ": want host:port or [v6-address]:port"));
    }
    t.host = std::string(text.substr(0, colon));
    if (t.host.find(':') != std::string::npos) {
      return Usage(absl::StrCat("bad target ", Quote(text),
                                ": put an IPv6 address in brackets, [::1]:80"));
    }
    port = text.substr(colon + 1);
  }
  absl::StatusOr<uint16_t> p = ParsePort(text, port);
  if (!p.ok()) return p.status();
  t.port = *p;
  return t;
}

absl::StatusOr<ProbeArgs> ParseArgs(int argc, const char* const* argv) {
  return Parser(argc, argv).Run();
}

std::string UsageText() {
  return R"(usage: tether-probe [flags] host:port|[v6-address]:port ...
       tether-probe --demo [--json]

Starts a connect to every target at once through one tether::Connector,
watches them with the lock-free queries (no event loop), and prints a table:
result, the address connected (or each address tried with its error), the
local address, the time to connect and the number of attempts.

  --json                   one JSON object per target per line, no table
  --send TEXT              on each connected socket: write TEXT, half-close
                           the write side, read the reply to end-of-stream
  --send-file PATH         the same with the contents of PATH
  --timeout D              whole connect, resolution included (default 10s;
                           the --send exchange gets as long again)
  --attempt-timeout D      per address tried (default: none)
  --happy-eyeballs-delay D start the next address after D (default 250ms;
                           0: one address at a time)
  -4, -6                   IPv4 or IPv6 only
  --max-workers N          connect threads at most (default 1024)
  --demo                   no network: probe servers this program starts on
                           loopback (echo, refusing, hanging) and a bad input
  -h, --help               this text

Durations: 500ms, 2s, 1m30s, inf. On a terminal the table is preceded by a
live view redrawn in place.
Exit status: 0 every target connected (and every --send got its reply),
1 some did not, 2 usage error.
)";
}

}  // namespace probe
}  // namespace tether
