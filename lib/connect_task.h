// lib/connect_task.h: one connect's job, a step of the connect path
// (lib/connect_request.h): has the host resolved on the resolver pool,
// waits for a slot of its destination and a worker, then tries the
// addresses one at a time (attempt.h) or races them (happy_eyeballs.h), and
// finishes the socket.
//
// The job is shared (std::shared_ptr): the resolver threads, the
// destination line and the pool's Task (a thin JobTask) each hold it while
// it waits there, so waiting holds no thread, and a resolution that
// returns after the Connector is gone finds the job still valid. Its
// phases are ConnectState's (connect_state.h): kResolving on the resolver
// pool, kQueued in a line or the pool's queue, kRunning on a worker.
//
// Thread safety: one thread at a time works on a job (Connect()'s, then a
// resolver's, then a worker's), handed on through the resolver pool, a
// line or the worker pool, each of which orders the hand-off; a race's
// per-family answers meet under RaceShared's mutex.

#ifndef TETHER_LIB_CONNECT_TASK_H_
#define TETHER_LIB_CONNECT_TASK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/connect_request.h"
#include "lib/connect_state.h"
#include "lib/worker_pool.h"
#include "tether/socket.h"

namespace tether {
namespace internal {

struct RaceShared;

// REQUIRES: the socket's state was added to env.registry by Connect(), and
// marked kQueued (address known) or kResolving; `timer_id` (0: none) is its
// deadline's.
class ConnectTask final : public std::enable_shared_from_this<ConnectTask> {
 public:
  ConnectTask(const ConnectEnv& env, std::shared_ptr<Socket> socket,
              ConnectState& state,
              std::shared_ptr<const ConnectRequest> request, uint64_t timer_id);
  ConnectTask(const ConnectTask&) = delete;
  ConnectTask& operator=(const ConnectTask&) = delete;

  // On Connect()'s thread: hands the job to the resolver pool, or (address
  // known) to its destination's line and the worker pool. A failure to do
  // so completes the socket on this thread.
  void Start();
  // On a worker (or inline, for ConnectAndWait()): connects and finishes.
  void Run();
  // The pool stops before running it: ~Connector cancelled the socket.
  void Abandon();
  // Never run: completes the socket with `status` and runs on_complete on
  // this thread, unless a canceller took them over.
  void Fail(absl::Status status);

 private:
  friend class JobTask;
  // On a resolver thread: the serial connect's answer, or one family's.
  void OnAnswer(absl::StatusOr<std::vector<SocketAddress>> answer);
  void OnRaceAnswer(bool ipv6,
                    absl::StatusOr<std::vector<SocketAddress>> answer);
  // Resolution on the resolver pool (ResolverPool::Submit()'s status).
  absl::Status SubmitResolution(std::optional<bool> ipv6);
  // On to `destination`'s line, or (none: only a failure to publish)
  // straight to the pool. `on_caller`: on Connect()'s thread.
  void Dispatch(const std::optional<SocketAddress>& destination,
                bool on_caller = false);
  // Hands the job (holding its slot, if any) to the pool; on failure
  // completes it, with on_complete run here when `on_caller`, else posted.
  void Submit(bool on_caller = false);
  // A job handed a slot by Leave(), or whose submission failed: frees what
  // it holds without running.
  void DropWaiting(absl::Status status, bool on_caller = false);
  // Frees the destination slot, handing it down the line.
  void LeaveLine();

  void Connect();
  void ConnectSerial(const std::vector<SocketAddress>& addresses);
  // Leaves the registry and cancels the deadline.
  void Unregister();
  // LeaveLine(), Unregister(), then on_complete unless it ran already.
  void Finish();

  const ConnectEnv env_;
  const std::shared_ptr<Socket> socket_;
  const std::shared_ptr<const ConnectRequest> request_;
  ConnectState& state_;  // socket_'s
  const uint64_t timer_id_;
  // Written before the job is handed to a worker (the pool's queue orders
  // them), read there.
  std::vector<SocketAddress> addresses_;
  absl::Status resolve_error_;
  std::shared_ptr<RaceShared> race_;  // a raced connect's
  SocketAddress line_;                // the destination whose slot it holds
  bool holds_slot_ = false;
  bool pooled_ = false;  // handed to the pool (not run inline)
};

// The pool's Task for a job: a thin handle, so a job that waits anywhere
// but the pool holds no worker.
class JobTask final : public Task {
 public:
  explicit JobTask(std::shared_ptr<ConnectTask> job) : job_(std::move(job)) {}
  void Run() override { job_->Run(); }
  void Abandon() override { job_->Abandon(); }
  // The pool's starter could not start a thread for it (issue 17):
  // published, and on_complete posted, never run on the starter.
  void Fail(absl::Status status) override {
    job_->DropWaiting(std::move(status));
  }

 private:
  const std::shared_ptr<ConnectTask> job_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CONNECT_TASK_H_
