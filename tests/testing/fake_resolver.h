// tests/testing/fake_resolver.h: a scripted Resolver.
//
// Answers per family, each after an optional delay, or held until
// Release(); records every call. Thread-safe.

#ifndef TETHER_TESTS_TESTING_FAKE_RESOLVER_H_
#define TETHER_TESTS_TESTING_FAKE_RESOLVER_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/resolver.h"

namespace tether {
namespace testing {

class FakeResolver : public Resolver {
 public:
  // Every call returns `addresses` filtered by the requested family.
  explicit FakeResolver(std::vector<SocketAddress> addresses = {});

  // Makes calls for `family` (kIPv4 or kIPv6; kAny means calls with kAny)
  // return `answer` after `delay`.
  void SetAnswer(Family family,
                 absl::StatusOr<std::vector<SocketAddress>> answer,
                 absl::Duration delay = absl::ZeroDuration());
  // Makes calls for `family` wait until Release() (or the resolver dies).
  void Hold(Family family);
  void Release();

  absl::StatusOr<std::vector<SocketAddress>> Resolve(absl::string_view host,
                                                     uint16_t port,
                                                     Family family) override;
  int calls() const;
  std::vector<Family> families_asked() const;

 private:
  struct Script {
    absl::StatusOr<std::vector<SocketAddress>> answer;
    absl::Duration delay;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SocketAddress> addresses_;
  std::map<Family, Script> scripts_;
  std::map<Family, bool> held_;
  bool released_ = false;
  std::vector<Family> asked_;
};

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_FAKE_RESOLVER_H_
