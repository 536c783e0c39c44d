// tools/probe/args.h: tether-probe's command line.
//
// ParseArgs() turns argv into ProbeArgs or a one-line usage error naming the
// bad argument. Flags are declared and split by CLI11 (Debian libcli11-dev,
// header-only); the values are checked here. It does no I/O except reading
// the target files (-f) and the --send-file.

#ifndef TETHER_TOOLS_PROBE_ARGS_H_
#define TETHER_TOOLS_PROBE_ARGS_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/address.h"

namespace tether {
namespace probe {

// One target as typed ("localhost:80", "[::1]:443") and split. A port range
// ("host:8000-8010") becomes one Target per port, each with its own text.
struct Target {
  std::string text;
  std::string host;  // without brackets
  uint16_t port = 0;
};

// Defaults: the whole-connect timeout of tether-probe (the library's is
// infinite) and of --demo.
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
inline constexpr absl::Duration kDemoTimeout = absl::Seconds(1);
// A port range may name at most this many ports.
inline constexpr int kMaxRange = 4096;

struct ProbeArgs {
  std::vector<Target> targets;  // command line first, then each -f in order
  std::optional<absl::Duration> timeout;  // unset: kDefaultTimeout/kDemoTimeout
  absl::Duration attempt_timeout = absl::InfiniteDuration();
  absl::Duration happy_eyeballs_delay = absl::Milliseconds(250);
  Family family = Family::kAny;
  std::string local_address;  // "" = any
  bool nodelay = false;
  int max_workers = 1024;
  std::optional<std::string> send;  // --send TEXT or --send-file's contents
  bool json = false;
  bool demo = false;
  bool help = false;
};

// Parses argv[1..argc). Returns kInvalidArgument with a one-line message
// naming the bad argument (no "tether-probe:" prefix) on a usage error.
// `-f -` reads targets from `in`.
absl::StatusOr<ProbeArgs> ParseArgs(int argc, const char* const* argv,
                                    std::FILE* in = stdin);

// Splits "host:port", "[v6]:port" or either with a port range "lo-hi". The
// host must not be empty; ports are decimal digits only, 1..65535.
absl::StatusOr<std::vector<Target>> ParseTarget(absl::string_view text);

// Targets from a file's contents: one per line; blank lines and everything
// from '#' to the end of a line are ignored; `name` is for messages.
absl::StatusOr<std::vector<Target>> ParseTargetList(absl::string_view contents,
                                                    absl::string_view name);

// A duration flag's value: plain seconds ("5", "0.5") or a Go-style
// duration ("500ms", "1m30s", "inf").
std::optional<absl::Duration> ParseSeconds(absl::string_view value);

// The --help text.
std::string UsageText();

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_ARGS_H_
