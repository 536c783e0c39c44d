// tools/probe/args.h: tether-probe's command line.
//
// ParseArgs() turns argv into ProbeArgs or a one-line usage error naming the
// bad argument. It does no I/O except reading the --send-file.

#ifndef TETHER_TOOLS_PROBE_ARGS_H_
#define TETHER_TOOLS_PROBE_ARGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tether/address.h"

namespace tether {
namespace probe {

// One target as typed ("localhost:80", "[::1]:443") and split.
struct Target {
  std::string text;
  std::string host;  // without brackets; may be empty (the library rejects it)
  uint16_t port = 0;
};

// Defaults: the whole-connect timeout of tether-probe (the library's is
// infinite) and of --demo.
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
inline constexpr absl::Duration kDemoTimeout = absl::Seconds(1);

struct ProbeArgs {
  std::vector<Target> targets;
  std::optional<absl::Duration> timeout;  // unset: kDefaultTimeout/kDemoTimeout
  absl::Duration attempt_timeout = absl::InfiniteDuration();
  absl::Duration happy_eyeballs_delay = absl::Milliseconds(250);
  Family family = Family::kAny;
  int max_workers = 1024;
  std::optional<std::string> send;  // --send TEXT or --send-file's contents
  bool json = false;
  bool demo = false;
  bool help = false;
};

// Parses argv[1..argc). Returns kInvalidArgument with a one-line message
// naming the bad argument (no "tether-probe:" prefix) on a usage error.
absl::StatusOr<ProbeArgs> ParseArgs(int argc, const char* const* argv);

// Splits "host:port" or "[v6]:port". The host may be empty; the port must be
// 1..65535.
absl::StatusOr<Target> ParseTarget(absl::string_view text);

// The --help text.
std::string UsageText();

}  // namespace probe
}  // namespace tether

#endif  // TETHER_TOOLS_PROBE_ARGS_H_
