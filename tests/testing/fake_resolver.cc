#include "tests/testing/fake_resolver.h"

#include <utility>

#include "absl/time/clock.h"

namespace tether {
namespace testing {

FakeResolver::FakeResolver(std::vector<SocketAddress> addresses)
    : addresses_(std::move(addresses)) {}

void FakeResolver::SetAnswer(Family family,
                             absl::StatusOr<std::vector<SocketAddress>> answer,
                             absl::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  scripts_.insert_or_assign(family, Script{std::move(answer), delay});
}

void FakeResolver::Hold(Family family) {
  std::lock_guard<std::mutex> lock(mu_);
  held_[family] = true;
}

void FakeResolver::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  cv_.notify_all();
}

absl::StatusOr<std::vector<SocketAddress>> FakeResolver::Resolve(
    absl::string_view host, uint16_t port, Family family) {
  std::unique_lock<std::mutex> lock(mu_);
  asked_.push_back(family);
  if (held_[family]) cv_.wait(lock, [this] { return released_; });
  auto it = scripts_.find(family);
  if (it != scripts_.end()) {
    Script script = it->second;
    lock.unlock();
    absl::SleepFor(script.delay);
    return script.answer;
  }
  std::vector<SocketAddress> out;
  for (const SocketAddress& a : addresses_) {
    if (family == Family::kAny ||
        (family == Family::kIPv4 && a.family() == AF_INET) ||
        (family == Family::kIPv6 && a.family() == AF_INET6)) {
      out.push_back(a);
    }
  }
  return out;
}

int FakeResolver::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(asked_.size());
}

std::vector<Family> FakeResolver::families_asked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return asked_;
}

}  // namespace testing
}  // namespace tether
