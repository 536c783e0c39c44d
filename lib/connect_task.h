// lib/connect_task.h: the job Connect() queues (or ConnectAndWait() runs
// inline), a step of the connect path (lib/connect_request.h): resolves the
// host, then tries the addresses one at a time (attempt.h) or races them
// (happy_eyeballs.h), and finishes the socket.

#ifndef TETHER_LIB_CONNECT_TASK_H_
#define TETHER_LIB_CONNECT_TASK_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "lib/worker_pool.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

// Holds the Socket until it is done. REQUIRES: the socket's state was added
// to env.registry by Connect(); `timer_id` (0: none) is its deadline's.
class ConnectTask final : public Task {
 public:
  ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
              ConnectState& state,
              std::shared_ptr<const ConnectRequest> request, uint64_t timer_id);

  void Run() override;
  // The pool stops before running it: ~Connector cancelled the socket.
  void Abandon() override;
  // No thread could be started to run it (the pool's starter thread calls
  // this): publishes `status` and posts on_complete to the CallbackThread.
  void Fail(absl::Status status) override;
  // Never queued (Connect() could not): completes the socket with `status`
  // and runs on_complete on this thread, unless a canceller took them over.
  void Reject(absl::Status status);

 private:
  void Connect();
  void ConnectSerial(const std::vector<SocketAddress>& addresses);
  // Leaves the registry and cancels the deadline.
  void Unregister();
  // Unregister(), then on_complete unless it ran already.
  void Finish();

  const ConnectEnv env_;
  const std::shared_ptr<Socket> socket_;
  const std::shared_ptr<const ConnectRequest> request_;
  ConnectState& state_;  // socket_'s
  const uint64_t timer_id_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_TASK_H_
