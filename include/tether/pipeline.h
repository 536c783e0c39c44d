// tether/pipeline.h: a Channel over a child process's stdin and stdout.
//
//   auto p = tether::Pipeline::Open({"sort"});
//   (*p)->WriteAll(data);
//   (*p)->Close(tether::Direction::kWrite);  // sort sees end-of-file
//   auto sorted = (*p)->ReadToEnd(1 << 20);
//   absl::Status exit = (*p)->Close();        // reaps sort
//
// Close(kWrite) closes the child's stdin, so a filter flushes while its
// output stays readable. The close that closes the last open direction reaps
// the child and returns kAborted ("child process exited abnormally: exit
// code N" or "... killed by signal N (NAME)") when it did not exit with 0.
// The child inherits stderr; every descriptor tether makes is close-on-exec.
//
// Reaping: the close that leaves no direction open waits for the child
// (waitpid(), as Tcl's close does: a child that never exits blocks it) and
// returns its exit status; later Close() calls return OK. A Pipeline
// destroyed without that close never blocks for long: see ~Pipeline.
//
// Thread safety: a Pipeline is safe for concurrent use without external
// synchronization, under the rules of every Channel (see channel.h): one
// thread may Read while another Writes, and Close (either form) may come
// from any thread, waking a blocked Read or Write with kCancelled. When two
// Closes race to close the last direction, one reaps the child and returns
// its status; the other waits for that and returns OK. pid() is lock-free.
// REQUIRES: no call is in progress when the Pipeline is destroyed (holding
// the shared_ptr while calling guarantees it).
//
// SIGPIPE is never raised in this process: a Write after the child closed
// its stdin returns an error (EPIPE: kFailedPrecondition).

#ifndef TETHER_INCLUDE_TETHER_PIPELINE_H_
#define TETHER_INCLUDE_TETHER_PIPELINE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tether/channel.h"

namespace tether {

namespace internal {
class SocketOps;
struct PipelineKey;  // below, with the implementation details
}  // namespace internal

enum class OpenMode { kRead, kWrite, kReadWrite };

class Pipeline final : public Channel {
 public:
  // Starts argv[0] (searched in PATH) with argv. kRead gives a channel that
  // only reads the child's stdout (its stdin is /dev/null); kWrite only
  // writes its stdin (its stdout is inherited); kReadWrite both. Returns
  // kInvalidArgument for an empty argv or an argument with a NUL byte, and
  // kNotFound naming the program when it cannot be found. Nothing is left
  // behind on failure.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<Pipeline>> Open(
      std::vector<std::string> argv, OpenMode mode = OpenMode::kReadWrite);

  // Closes both pipes and reaps the child; a child still running after a
  // grace period of 2 s is killed (SIGKILL) and reaped. Never blocks forever.
  ~Pipeline() override;

  // The child's process id, fixed for the Pipeline's life (once reaped, the
  // number may belong to another process). Lock-free.
  [[nodiscard]] pid_t pid() const;

  // Channel (see channel.h). Close(kWrite) closes the child's stdin,
  // Close(kRead) its stdout pipe; the close that leaves neither open reaps.
  [[nodiscard]] absl::StatusOr<size_t> Read(absl::Span<char> buffer) override;
  [[nodiscard]] absl::StatusOr<size_t> Write(
      absl::Span<const char> data) override;
  [[nodiscard]] absl::Status SetBlocking(bool blocking) override;
  [[nodiscard]] absl::Status Close(Direction direction) override;
  [[nodiscard]] absl::Status Close() override;
  [[nodiscard]] bool readable_open() const override;
  [[nodiscard]] bool writable_open() const override;

  // Open() with every system call (pipe2, posix_spawnp, waitpid, kill, the
  // pipes' I/O, ...) made through `ops`, which must outlive the Pipeline;
  // tests inject faults there. Not part of the stable API.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<Pipeline>> OpenWithOps(
      std::vector<std::string> argv, OpenMode mode, internal::SocketOps* ops);

  // Only Open() makes Pipelines (PipelineKey is internal).
  struct Impl;
  Pipeline(internal::PipelineKey, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Implementation details follow; nothing below is part of the API.
// ---------------------------------------------------------------------------

namespace internal {
struct PipelineKey {  // Only tether's internals can make a Pipeline.
  explicit PipelineKey() = default;
};
}  // namespace internal

}  // namespace tether

#endif  // TETHER_INCLUDE_TETHER_PIPELINE_H_
