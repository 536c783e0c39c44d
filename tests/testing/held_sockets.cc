#include "tests/testing/held_sockets.h"

#include <utility>

namespace tether {
namespace testing {

HeldSockets::HeldSockets(int n, std::shared_ptr<CompletionQueue> queue)
    : resolver_(std::make_shared<FakeResolver>()), queue_(std::move(queue)) {
  resolver_->Hold(Family::kAny);
  resolver_->Hold(Family::kIPv4);
  resolver_->Hold(Family::kIPv6);
  ConnectorOptions options;
  options.max_workers = 1;
  options.max_queued = 1 << 20;
  options.resolver = resolver_;
  connector_ = std::make_unique<Connector>(options);
  for (int i = 0; i < n; ++i) sockets.push_back(Make());
}

HeldSockets::~HeldSockets() {
  resolver_->Release();
  connector_.reset();
}

std::shared_ptr<Socket> HeldSockets::Make() {
  ConnectOptions options;
  options.completion_queue = queue_;
  return connector_->Connect("held.test", 80, std::move(options));
}

}  // namespace testing
}  // namespace tether
