// lib/pipeline.cc: a Channel over a child process's stdin and stdout.
//
// How this works
//
// Open() makes one pipe per direction the mode needs with
// pipe2(O_CLOEXEC), so no other child (ours or another thread's) inherits
// them; sets O_NONBLOCK on the parent's ends only; and starts the program
// with posix_spawnp(), whose file actions dup2() the child's ends onto 0
// and 1 (dup2 clears close-on-exec on the copy). kRead gives the child
// /dev/null as stdin; kWrite leaves its stdout inherited; stderr is always
// inherited. The child starts with an empty signal mask and SIGPIPE at its
// default action, whatever this process does with SIGPIPE. glibc's
// posix_spawnp reports a failed exec as its return value and reaps that
// child itself, so a missing program leaves no zombie; we then close every
// pipe end we made.
//
// The parent's ends go to an FdStream (kPipe), which does the I/O, the
// half-closes and the SIGPIPE suppression (see lib/fd_stream.cc).
//
// Every system call here (pipe2, ioctl(FIONBIO), posix_spawnp, waitpid,
// waitid, kill, pidfd_open, poll, close) goes through the Pipeline's
// SocketOps (OpenWithOps(); the real OS by default), so tests can fail each
// one (tests/fault_pipeline_test.cc).
//
// Reaping. The child is reaped exactly once, under Impl::reaped
// (std::call_once): by the Close that leaves no direction open (a blocking
// waitpid(), as Tcl's close does), or else by the destructor, which waits up
// to kGracePeriod for the child to exit after closing both pipes, then sends
// SIGKILL and reaps it. Until it is reaped the child stays a zombie at
// worst, so its pid cannot be reused and kill() cannot hit another process.
// Should that kill() fail, the destructor waits one more grace period and
// then leaves the child unreaped rather than block forever.

#include "tether/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/fd_stream.h"
#include "lib/posix_error.h"
#include "lib/socket_ops.h"

extern char** environ;

namespace tether {
namespace {

using internal::PosixError;
using internal::SocketOps;

constexpr absl::Duration kGracePeriod = absl::Seconds(2);

// The descriptors of one Open(): the parent's ends and the child's ends, -1
// when unused. Closes whatever it still owns when destroyed.
struct PipeEnds {
  explicit PipeEnds(SocketOps* o) : ops(o) {}
  PipeEnds(const PipeEnds&) = delete;
  PipeEnds& operator=(const PipeEnds&) = delete;
  ~PipeEnds() {
    for (int* fd : {&parent_read, &parent_write}) CloseEnd(fd);
    CloseChildEnds();
  }
  void CloseChildEnds() {
    CloseEnd(&child_in);
    CloseEnd(&child_out);
  }
  void CloseEnd(int* fd) {
    if (*fd >= 0) ops->Close(*fd);  // never retried (Linux closes it anyway)
    *fd = -1;
  }

  SocketOps* const ops;
  int parent_read = -1;   // reads the child's stdout
  int parent_write = -1;  // writes the child's stdin
  int child_in = -1;      // becomes the child's fd 0
  int child_out = -1;     // becomes the child's fd 1
};

absl::Status ValidateArgv(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  for (const std::string& arg : argv) {
    if (arg.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("argument contains a NUL byte");
    }
  }
  return absl::OkStatus();
}

// One close-on-exec pipe; the parent's end (`parent_reads` says which)
// becomes non-blocking. Both ends belong to `ends` as soon as they exist.
absl::Status MakePipe(PipeEnds* ends, bool parent_reads) {
  int* parent_end = parent_reads ? &ends->parent_read : &ends->parent_write;
  int* child_end = parent_reads ? &ends->child_out : &ends->child_in;
  int fds[2];
  if (ends->ops->Pipe2(fds, O_CLOEXEC) != 0) return PosixError("pipe2", errno);
  *parent_end = parent_reads ? fds[0] : fds[1];
  *child_end = parent_reads ? fds[1] : fds[0];
  if (ends->ops->SetNonBlocking(*parent_end, true) != 0) {
    return PosixError("ioctl(FIONBIO)", errno);
  }
  return absl::OkStatus();
}

absl::Status MakePipes(OpenMode mode, PipeEnds* ends) {
  if (mode != OpenMode::kWrite) {
    absl::Status s = MakePipe(ends, /*parent_reads=*/true);
    if (!s.ok()) return s;
  }
  if (mode != OpenMode::kRead) return MakePipe(ends, /*parent_reads=*/false);
  return absl::OkStatus();
}

// posix_spawn file actions: the child's ends onto 0 and 1 (or /dev/null
// onto 0 for kRead). Returns 0 or an error number.
int AddFileActions(const PipeEnds& ends, posix_spawn_file_actions_t* actions) {
  int err = 0;
  if (ends.child_in >= 0) {
    err = posix_spawn_file_actions_adddup2(actions, ends.child_in, 0);
  } else if (ends.parent_read >= 0) {  // kRead: stdin is /dev/null
    err =
        posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (err == 0 && ends.child_out >= 0) {
    err = posix_spawn_file_actions_adddup2(actions, ends.child_out, 1);
  }
  return err;
}

// Attributes: empty signal mask, SIGPIPE at its default action.
int SetSpawnAttributes(posix_spawnattr_t* attr) {
  sigset_t empty, sigpipe;
  sigemptyset(&empty);
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  int err = posix_spawnattr_setsigmask(attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(attr, &sigpipe);
  if (err == 0) {
    err = posix_spawnattr_setflags(
        attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  return err;
}

// Starts argv[0] (searched in PATH). Returns 0 or an error number.
int SpawnWith(std::vector<std::string>& argv, const PipeEnds& ends,
              pid_t* pid) {
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  int err = posix_spawn_file_actions_init(&actions);
  if (err != 0) return err;
  err = posix_spawnattr_init(&attr);
  if (err == 0) {
    err = AddFileActions(ends, &actions);
    if (err == 0) err = SetSpawnAttributes(&attr);
    if (err == 0) {
      err = ends.ops->PosixSpawnp(pid, args[0], &actions, &attr, args.data(),
                                  environ);
    }
    posix_spawnattr_destroy(&attr);
  }
  posix_spawn_file_actions_destroy(&actions);
  return err;
}

// "SIGKILL" for SIGKILL.
std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : "unknown signal";
}

// A waitpid() status as the Channel reports it.
absl::Status ExitStatus(int status) {
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0) return absl::OkStatus();
    return absl::AbortedError(absl::StrCat(
        "child process exited abnormally: exit code ", WEXITSTATUS(status)));
  }
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return absl::AbortedError(
      absl::StrCat("child process exited abnormally: killed by signal ", sig,
                   " (", SignalName(sig), ")"));
}

// Reaps `pid`, waiting as long as it takes (EINTR retried).
absl::Status Reap(SocketOps* ops, pid_t pid) {
  int status = 0;
  pid_t rc;
  while ((rc = ops->WaitPid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (rc < 0 && errno == ECHILD) {
    // The application ignores SIGCHLD (or reaped the child itself): the
    // exit status is gone. Tcl's words for it.
    return internal::ErrnoStatus(
        ECHILD, absl::StrCat("waitpid ", pid,
                             ": child process lost (is SIGCHLD ignored or "
                             "trapped?)"));
  }
  if (rc < 0) return PosixError(absl::StrCat("waitpid ", pid), errno);
  return ExitStatus(status);
}

// Whether `pid` (our unreaped child) has exited, waiting at most until
// `deadline`, without reaping it. Uses a pidfd when the kernel has them;
// otherwise polls waitid(WNOWAIT) every few milliseconds.
bool ExitedBy(SocketOps* ops, pid_t pid, absl::Time deadline) {
  const int pidfd = ops->PidFdOpen(pid, 0);
  if (pidfd >= 0) {
    pollfd p = {pidfd, POLLIN, 0};
    int rc;
    do {
      const absl::Duration left = deadline - absl::Now();
      const int ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
      rc = ops->Poll(&p, 1, left > absl::ZeroDuration() ? ms : 0);
    } while (rc < 0 && errno == EINTR);
    ops->Close(pidfd);
    return rc > 0;
  }
  while (true) {
    siginfo_t info = {};
    const int rc = ops->WaitId(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc < 0 && errno != EINTR) return true;  // nothing left to wait for
    if (rc == 0 && info.si_pid == pid) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

struct Pipeline::Impl {
  Impl(SocketOps* o, pid_t child, int read_fd, int write_fd)
      : ops(o),
        pid(child),
        stream(internal::FdStream::Kind::kPipe, read_fd, write_fd, o) {}

  // Reaps the child when no direction is open any more; the first error of
  // `closed` and the child's exit status is returned.
  absl::Status FinishIfClosed(absl::Status closed) {
    if (stream.readable_open() || stream.writable_open()) return closed;
    absl::Status exit;
    std::call_once(reaped, [&] { exit = Reap(ops, pid); });
    return closed.ok() ? exit : closed;
  }

  // Waits up to kGracePeriod for the child to exit, then kills it, and reaps
  // it; never blocks forever. Run once, by ~Pipeline, under `reaped`.
  void KillAndReap() {
    if (!ExitedBy(ops, pid, absl::Now() + kGracePeriod) &&
        ops->Kill(pid, SIGKILL) != 0 &&  // unreaped: cannot hit another
        !ExitedBy(ops, pid, absl::Now() + kGracePeriod)) {
      return;  // kill() failed and the child runs on: leave it, not block
    }
    Reap(ops, pid).IgnoreError();
  }

  SocketOps* const ops;
  const pid_t pid;
  internal::FdStream stream;
  std::atomic<bool> blocking{true};  // written by SetBlocking()
  std::once_flag reaped;             // the one waitpid() for `pid`
};

absl::StatusOr<std::shared_ptr<Pipeline>> Pipeline::Open(
    std::vector<std::string> argv, OpenMode mode) {
  return OpenWithOps(std::move(argv), mode, SocketOps::Default());
}

absl::StatusOr<std::shared_ptr<Pipeline>> Pipeline::OpenWithOps(
    std::vector<std::string> argv, OpenMode mode, SocketOps* ops) {
  absl::Status valid = ValidateArgv(argv);
  if (!valid.ok()) return valid;
  PipeEnds ends(ops);
  absl::Status piped = MakePipes(mode, &ends);
  if (!piped.ok()) return piped;
  pid_t pid = -1;
  const int err = SpawnWith(argv, ends, &pid);
  if (err != 0) {
    return PosixError(absl::StrCat("posix_spawnp \"", argv[0], "\""), err);
  }
  ends.CloseChildEnds();
  auto impl =
      std::make_unique<Impl>(ops, pid, ends.parent_read, ends.parent_write);
  ends.parent_read = ends.parent_write = -1;  // now owned by impl->stream
  return std::make_shared<Pipeline>(internal::PipelineKey(), std::move(impl));
}

Pipeline::Pipeline(internal::PipelineKey, std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

Pipeline::~Pipeline() {
  impl_->stream.Close().IgnoreError();
  std::call_once(impl_->reaped, [this] { impl_->KillAndReap(); });
}

pid_t Pipeline::pid() const { return impl_->pid; }

absl::StatusOr<size_t> Pipeline::Read(absl::Span<char> buffer) {
  // relaxed: a mode flag; no other data is published with it.
  return impl_->stream.Read(buffer,
                            impl_->blocking.load(std::memory_order_relaxed));
}

absl::StatusOr<size_t> Pipeline::Write(absl::Span<const char> data) {
  // relaxed: as in Read().
  return impl_->stream.Write(data,
                             impl_->blocking.load(std::memory_order_relaxed));
}

absl::Status Pipeline::SetBlocking(bool blocking) {
  // relaxed: a mode flag read by later calls; no other data rides on it.
  impl_->blocking.store(blocking, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Pipeline::Close(Direction direction) {
  absl::Status closed = impl_->stream.Close(direction);
  if (closed.code() == absl::StatusCode::kFailedPrecondition) return closed;
  return impl_->FinishIfClosed(std::move(closed));
}

absl::Status Pipeline::Close() {
  return impl_->FinishIfClosed(impl_->stream.Close());
}

bool Pipeline::readable_open() const { return impl_->stream.readable_open(); }

bool Pipeline::writable_open() const { return impl_->stream.writable_open(); }

}  // namespace tether
