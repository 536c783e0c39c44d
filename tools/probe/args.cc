#include "tools/probe/args.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/probe/row.h"

namespace tether {
namespace probe {
namespace {

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Quotes an argument for a message (on one line: newlines and controls are
// never in argv as typed, and a file's lines have none).
std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what) {
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Usage(absl::StrCat(what, ": ", std::strerror(errno)));
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path, std::FILE* in) {
  const std::string what = absl::StrCat(flag, " ", Quote(path));
  if (path == "-" && flag == "-f") return ReadAll(fileno(in), what);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Usage(absl::StrCat(what, ": ", std::strerror(errno)));
  absl::StatusOr<std::string> data = ReadAll(fd, what);
  close(fd);
  return data;
}

// Decimal digits only (no sign, no spaces), 1..65535.
std::optional<int> PortNumber(absl::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  }
  int p = 0;
  if (!absl::SimpleAtoi(s, &p) || p < 1 || p > 65535) return std::nullopt;
  return p;
}

// "80" or "8000-8010" as [first, last].
absl::StatusOr<std::pair<int, int>> PortRange(absl::string_view text,
                                              absl::string_view ports) {
  const std::string bad = absl::StrCat("bad target ", Quote(text), ": ");
  const size_t dash = ports.find('-');
  const std::optional<int> lo = PortNumber(ports.substr(0, dash));
  if (dash == absl::string_view::npos) {
    if (!lo) return Usage(bad + "the port must be a number 1..65535");
    return std::make_pair(*lo, *lo);
  }
  const std::optional<int> hi = PortNumber(ports.substr(dash + 1));
  if (!lo || !hi || *hi < *lo) {
    return Usage(bad + "want a port range such as 8000-8010 (1..65535)");
  }
  if (*hi - *lo >= kMaxRange) {
    return Usage(
        absl::StrCat(bad, "a range covers at most ", kMaxRange, " ports"));
  }
  return std::make_pair(*lo, *hi);
}

// The raw flag values, as CLI11 stores them; Check() validates them.
struct Raw {
  std::vector<std::string> targets;
  std::vector<std::string> files;
  std::string timeout, attempt_timeout, happy_eyeballs_delay, family;
  std::string send, send_file;
  int max_workers = 1024;
  bool v4 = false, v6 = false;
};

void Declare(CLI::App& app, ProbeArgs& out, Raw& raw) {
  app.set_help_flag();  // --help is ours: UsageText() adds the tables
  app.add_flag("-h,--help", out.help, "this text");
  app.add_option("-f,--file", raw.files,
                 "read targets from FILE (- is stdin), one per line,\n"
                 "# comments; repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_flag("--json", out.json,
               "JSON Lines: one object per target, then a summary");
  app.add_option("--send", raw.send,
                 "on each connected socket: write TEXT, half-close\n"
                 "the write side, read the reply to end-of-stream")
      ->type_name("TEXT");
  app.add_option("--send-file", raw.send_file, "the same with PATH's contents")
      ->type_name("PATH");
  app.add_option("--timeout", raw.timeout,
                 "whole connect, resolution included (default 10s;\n"
                 "the --send exchange gets as long again)")
      ->type_name("D");
  app.add_option("--attempt-timeout", raw.attempt_timeout,
                 "per address tried (default: none)")
      ->type_name("D");
  app.add_option("--happy-eyeballs-delay", raw.happy_eyeballs_delay,
                 "start the next address after D (default 250ms;\n"
                 "0: one address at a time)")
      ->type_name("D");
  app.add_option("--family", raw.family, "IPv4 (4) or IPv6 (6) only")
      ->type_name("4|6");
  app.add_flag("-4", raw.v4, "--family 4");
  app.add_flag("-6", raw.v6, "--family 6");
  app.add_option("--local-address", out.local_address,
                 "bind this numeric address before connecting")
      ->type_name("ADDR");
  app.add_flag("--nodelay", out.nodelay, "set TCP_NODELAY on each connection");
  app.add_option("--max-workers", raw.max_workers,
                 "connect threads at most (default 1024)")
      ->type_name("N");
  app.add_flag("--demo", out.demo,
               "no network: probe servers this program starts on\n"
               "loopback (echo, refusing, hanging) and a bad input");
  app.add_option("targets", raw.targets,
                 "host:port or [v6-address]:port; the port may be a\n"
                 "range lo-hi (host:8000-8010)")
      ->type_name("TARGET");
}

absl::Status SetDuration(absl::string_view flag, const std::string& value,
                         bool zero_ok, absl::Duration* out) {
  if (value.empty()) return absl::OkStatus();
  const std::optional<absl::Duration> d = ParseSeconds(value);
  if (!d) {
    return Usage(absl::StrCat("bad ", flag, " ", Quote(value),
                              ": want seconds (5, 0.5) or a duration such as "
                              "500ms or 2s"));
  }
  if (*d < absl::ZeroDuration() || (!zero_ok && *d == absl::ZeroDuration())) {
    return Usage(absl::StrCat("bad ", flag, " ", Quote(value), ": must be ",
                              zero_ok ? "0 or more" : "more than 0"));
  }
  *out = *d;
  return absl::OkStatus();
}

absl::Status CheckDurations(const Raw& raw, ProbeArgs& out) {
  absl::Duration timeout;
  absl::Status s = SetDuration("--timeout", raw.timeout, false, &timeout);
  if (s.ok() && !raw.timeout.empty()) out.timeout = timeout;
  if (s.ok()) {
    s = SetDuration("--attempt-timeout", raw.attempt_timeout, false,
                    &out.attempt_timeout);
  }
  if (s.ok()) {
    s = SetDuration("--happy-eyeballs-delay", raw.happy_eyeballs_delay, true,
                    &out.happy_eyeballs_delay);
  }
  return s;
}

absl::Status CheckFamily(const Raw& raw, ProbeArgs& out) {
  if (!raw.family.empty() && raw.family != "4" && raw.family != "6") {
    return Usage(
        absl::StrCat("bad --family ", Quote(raw.family), ": want 4 or 6"));
  }
  const bool v4 = raw.v4 || raw.family == "4";
  const bool v6 = raw.v6 || raw.family == "6";
  if (v4 && v6) return Usage("IPv4 only and IPv6 only together: pick one");
  out.family = v4 ? Family::kIPv4 : v6 ? Family::kIPv6 : Family::kAny;
  if (!out.local_address.empty() &&
      !SocketAddress::Parse(out.local_address, 0).ok()) {
    return Usage(absl::StrCat("bad --local-address ", Quote(out.local_address),
                              ": want a numeric IPv4 or IPv6 address"));
  }
  return absl::OkStatus();
}

absl::Status CheckSend(const Raw& raw, ProbeArgs& out, bool saw_send) {
  if (saw_send && !raw.send_file.empty()) {
    return Usage("--send and --send-file together: pick one");
  }
  if (saw_send) out.send = raw.send;
  if (raw.send_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> data =
      ReadFile("--send-file", raw.send_file, nullptr);
  if (!data.ok()) return data.status();
  out.send = *std::move(data);
  return absl::OkStatus();
}

absl::Status CheckTargets(const Raw& raw, ProbeArgs& out, std::FILE* in) {
  for (const std::string& text : raw.targets) {
    absl::StatusOr<std::vector<Target>> t = ParseTarget(text);
    if (!t.ok()) return t.status();
    out.targets.insert(out.targets.end(), t->begin(), t->end());
  }
  for (const std::string& file : raw.files) {
    absl::StatusOr<std::string> contents = ReadFile("-f", file, in);
    if (!contents.ok()) return contents.status();
    absl::StatusOr<std::vector<Target>> t =
        ParseTargetList(*contents, file == "-" ? "stdin" : file);
    if (!t.ok()) return t.status();
    out.targets.insert(out.targets.end(), t->begin(), t->end());
  }
  if (out.demo && !out.targets.empty()) {
    return Usage(absl::StrCat("--demo takes no targets, got ",
                              Quote(out.targets[0].text)));
  }
  if (!out.demo && out.targets.empty()) return Usage("no targets");
  return absl::OkStatus();
}

}  // namespace

std::optional<absl::Duration> ParseSeconds(absl::string_view value) {
  double seconds = 0;
  if (absl::SimpleAtod(value, &seconds) &&
      absl::ascii_isdigit(static_cast<unsigned char>(value.back()))) {
    return absl::Seconds(seconds);
  }
  absl::Duration d;
  if (absl::ParseDuration(value, &d)) return d;
  return std::nullopt;
}

absl::StatusOr<std::vector<Target>> ParseTarget(absl::string_view text) {
  const std::string bad = absl::StrCat("bad target ", Quote(text), ": ");
  absl::string_view host, ports;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || text.substr(close + 1, 1) != ":") {
      return Usage(bad + "want [v6-address]:port");
    }
    host = text.substr(1, close - 1);
    ports = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return Usage(bad + "want host:port or [v6-address]:port");
    }
    host = text.substr(0, colon);
    if (host.find(':') != absl::string_view::npos) {
      return Usage(bad + "put an IPv6 address in brackets, [::1]:80");
    }
    ports = text.substr(colon + 1);
  }
  if (host.empty()) return Usage(bad + "the host is empty");
  absl::StatusOr<std::pair<int, int>> range = PortRange(text, ports);
  if (!range.ok()) return range.status();
  std::vector<Target> out;
  const absl::string_view prefix = text.substr(0, text.size() - ports.size());
  for (int p = range->first; p <= range->second; ++p) {
    out.push_back({range->first == range->second ? std::string(text)
                                                 : absl::StrCat(prefix, p),
                   std::string(host), static_cast<uint16_t>(p)});
  }
  return out;
}

absl::StatusOr<std::vector<Target>> ParseTargetList(absl::string_view contents,
                                                    absl::string_view name) {
  std::vector<Target> out;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    absl::StatusOr<std::vector<Target>> t = ParseTarget(line);
    if (!t.ok()) {
      return Usage(
          absl::StrCat(name, " line ", number, ": ", t.status().message()));
    }
    out.insert(out.end(), t->begin(), t->end());
  }
  return out;
}

absl::StatusOr<ProbeArgs> ParseArgs(int argc, const char* const* argv,
                                    std::FILE* in) {
  ProbeArgs out;
  Raw raw;
  CLI::App app;
  Declare(app, out, raw);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  }
  if (out.help) return out;
  if (raw.max_workers < 1) {
    return Usage(absl::StrCat("bad --max-workers ",
                              Quote(absl::StrCat(raw.max_workers)),
                              ": want a whole number, 1 or more"));
  }
  out.max_workers = raw.max_workers;
  absl::Status s = CheckDurations(raw, out);
  if (s.ok()) s = CheckFamily(raw, out);
  if (s.ok()) s = CheckSend(raw, out, app.count("--send") > 0);
  if (s.ok()) s = CheckTargets(raw, out, in);
  if (!s.ok()) return s;
  return out;
}

std::string UsageText() {
  ProbeArgs args;
  Raw raw;
  CLI::App app("", "tether-probe");
  Declare(app, args, raw);
  std::string out = R"(usage: tether-probe [flags] TARGET... [-f FILE]...
       tether-probe --demo [--json]

Starts a connect to every target at once through one tether::Connector,
watches them with the lock-free queries (no event loop), and prints a table:
result, the address connected (or each address tried with its error), the
local address, the time to connect and the number of attempts.

)";
  std::string options = app.help();
  options.erase(0, options.find("Positionals:"));  // CLI11's own usage line
  absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(options), R"(

Durations: plain seconds (5, 0.5) or 500ms, 2s, 1m30s, inf.
Targets come from the command line, then from each -f FILE in order.

Output: on a terminal a live view (a progress line, then the targets still
pending, oldest first) is redrawn until the final table; with TERM=dumb it
is plain progress lines instead, with NO_COLOR it has no colours, and when
stdout is not a terminal there is only the table. Ctrl-C cancels what is
still pending and prints the table.

--json: JSON Lines. One object per target, in input order:
  {"type":"target","target","host","port","outcome","errno","message",
   "address","local_address","time_ms","attempts":[{"address","outcome",
   "errno","message","time_ms"}]}, with --send also "reply","reply_bytes",
   "reply_error"; then {"type":"summary","targets","elapsed_ms",
   "counts":{OUTCOME:N},"exit_code"}. "errno" is a name (ECONNREFUSED) or
   null; missing addresses and messages are null.

Exit status (when targets end differently, the first in this list wins):
  0   every target connected (and every --send got its whole reply)
)");
  for (const ClassInfo& info : Classes()) {
    if (info.cls == Class::kConnected || info.cls == Class::kInProgress) {
      continue;
    }
    absl::StrAppendFormat(&out, "  %-3d %-15s %s\n", info.exit_code, info.name,
                          info.meaning);
  }
  absl::StrAppendFormat(&out, "  %-3d %-15s %s\n", kExitInternal, "",
                        "--demo: a row came out other than planned");
  return out;
}

}  // namespace probe
}  // namespace tether
