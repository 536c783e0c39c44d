#include "lib/destination_lines.h"

#include <utility>

namespace tether {
namespace internal {

bool DestinationLines::Enter(const std::string& key,
                             const std::shared_ptr<ConnectTask>& task) {
  MutexLock lock(&mu_);
  Line& line = lines_[key];
  if (line.holding < cap_) {
    ++line.holding;
    return true;
  }
  line.waiting.push_back(task);
  return false;
}

std::shared_ptr<ConnectTask> DestinationLines::Leave(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = lines_.find(key);
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
