#include "lib/destination_lines.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace tether {
namespace internal {

size_t DestinationLines::Hash::operator()(const SocketAddress& a) const {
  char bytes[2 + 16 + 4];  // port, address, IPv6 scope
  size_t n = 0;
  auto put = [&](const void* p, size_t len) {
    memcpy(bytes + n, p, len);
    n += len;
  };
  if (a.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(a.data());
    put(&v4->sin_port, 2);
    put(&v4->sin_addr, 4);
  } else if (a.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a.data());
    put(&v6->sin6_port, 2);
    put(&v6->sin6_addr, 16);
    put(&v6->sin6_scope_id, 4);
  } else {
    return std::hash<std::string>()(a.ToString());  // Unix: the path
  }
  return std::hash<std::string_view>()(std::string_view(bytes, n)) ^
         static_cast<size_t>(a.family());
}

bool DestinationLines::Enter(const SocketAddress& destination,
                             const std::shared_ptr<ConnectTask>& task) {
  MutexLock lock(&mu_);
  Line& line = lines_[destination];
  if (line.holding < cap_) {
    ++line.holding;
    return true;
  }
  line.waiting.push_back(task);
  return false;
}

std::shared_ptr<ConnectTask> DestinationLines::Leave(
    const SocketAddress& destination) {
  MutexLock lock(&mu_);
  auto it = lines_.find(destination);
  if (it == lines_.end()) return nullptr;  // never entered: nothing to free
  Line& line = it->second;
  if (!line.waiting.empty()) {  // The slot passes on; holding is unchanged.
    std::shared_ptr<ConnectTask> next = std::move(line.waiting.front());
    line.waiting.pop_front();
    return next;
  }
  if (--line.holding == 0) lines_.erase(it);
  return nullptr;
}

}  // namespace internal
}  // namespace tether
