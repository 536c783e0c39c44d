// sort_with_tether: a program built against an installed tether.
//
// Runs `sort` as a tether::Pipeline: writes lines, half-closes the write
// side so sort sees end-of-file and prints, reads the sorted lines back,
// and reaps it. Then shows a connect error: a loopback port nobody listens
// on, through ConnectAndWait. Needs no network.

#include <cstdio>
#include <string>

#include "tether/connector.h"
#include "tether/pipeline.h"

int main() {
  absl::StatusOr<std::shared_ptr<tether::Pipeline>> sort =
      tether::Pipeline::Open({"sort"});
  if (!sort.ok()) {
    std::fprintf(stderr, "%s\n", sort.status().ToString().c_str());
    return 1;
  }
  absl::Status st = (*sort)->WriteAll("pear\napple\nfig\n");
  if (st.ok()) st = (*sort)->Close(tether::Direction::kWrite);  // sort sees EOF
  absl::StatusOr<std::string> sorted = (*sort)->ReadToEnd(1 << 16);
  if (st.ok()) st = (*sort)->Close();  // reaps sort; non-OK if it failed
  if (!st.ok() || !sorted.ok() || *sorted != "apple\nfig\npear\n") {
    std::fprintf(stderr, "sort pipeline failed: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("sort said:\n%s", sorted->c_str());

  tether::Connector connector;
  absl::StatusOr<std::shared_ptr<tether::Socket>> s =
      connector.ConnectAndWait("127.0.0.1", 1);  // port 1: nobody listens
  std::printf("connect to 127.0.0.1:1: %s\n",
              s.ok() ? "connected" : s.status().ToString().c_str());
  return 0;
}
