// tests/testing/fault_injecting_socket_ops.h: breaking the OS on purpose.
//
// FaultInjectingSocketOps sits in front of another SocketOps (normally the
// real one) and is modelled on Go's net/internal/socktest.Switch:
//
//   * a before-filter per call type decides, before the real call, whether
//     to let it through, fail it with an errno (or a getaddrinfo EAI_ code),
//     delay it, cap its length (short reads and writes), answer a
//     getaddrinfo() with a made-up list, or run the real call and then
//     report a failure anyway (close() returning EINTR after the descriptor
//     is gone, as Linux does);
//   * an optional after-filter per call type sees (and may rewrite) the
//     result;
//   * open/close counters for every descriptor made through the seam
//     (sockets, eventfds, both ends of a pipe, pidfds), so each test can
//     assert "nothing leaked" and "closed exactly once".
//
// A special fault, InterruptConnect(), reproduces what Linux does when a
// blocking connect() is interrupted by a signal: the connect goes on in the
// background and the call returns -1/EINTR. It starts the real connect
// non-blocking, restores the blocking flag, and returns EINTR; the caller
// must finish with poll(POLLOUT) + SO_ERROR and must never call connect()
// again.
//
//   FaultInjectingSocketOps ops;
//   ops.SetBefore(Call::kSocket, [](const CallInfo& c) {
//     return c.domain == AF_INET6 ? Action::Fail(EAFNOSUPPORT) :
//     Action::Pass();
//   });
//   ConnectorOptions o;
//   o.socket_ops = &ops;
//
// MockSocketOps (mock_socket_ops.h) is the gMock counterpart.
//
// Thread safety: safe for concurrent calls; filters run on the calling
// (library) thread without any lock held, so they must be thread-safe.

#ifndef TETHER_TESTS_TESTING_FAULT_INJECTING_SOCKET_OPS_H_
#define TETHER_TESTS_TESTING_FAULT_INJECTING_SOCKET_OPS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/socket_ops.h"
#include "tether/address.h"

namespace tether {
namespace testing {

// Every call type of the seam.
enum class Call {
  kSocket,
  kBind,
  kConnect,
  kPoll,
  kGetSockOpt,
  kSetSockOpt,
  kGetSockName,
  kGetPeerName,
  kShutdown,
  kSetNonBlocking,
  kClose,
  kRecv,
  kSend,
  kRead,
  kWrite,
  kGetAddrInfo,
  kFreeAddrInfo,
  kStartThread,
  kEventFd,
  kPipe2,
  kPosixSpawnp,  // Fail/RealThenFail: returns `err` (an error number)
  kWaitPid,
  kWaitId,
  kKill,
  kPidFdOpen,
  kCount,  // not a call
};

const char* CallName(Call call);

// What a filter sees of one call.
struct CallInfo {
  Call call = Call::kCount;
  int64_t seq = 0;         // 0-based index among calls of this type
  int fd = -1;             // the descriptor, if the call has one
  int domain = AF_UNSPEC;  // socket(): domain; bind/connect: address family
  const sockaddr* addr = nullptr;  // bind/connect
  socklen_t addr_len = 0;
  int level = 0;  // getsockopt/setsockopt
  int option = 0;
  size_t len = 0;                // recv/send/read/write: bytes asked for
  const char* node = nullptr;    // getaddrinfo
  int hints_family = AF_UNSPEC;  // getaddrinfo
  size_t stack_size = 0;         // StartThread: the attribute's stack size
  pid_t pid = 0;                 // waitpid/waitid/kill/pidfd_open
  int sig = 0;                   // kill
  const char* file = nullptr;    // posix_spawnp: the program

  // bind/connect: the address (empty if not IPv4/IPv6).
  SocketAddress address() const;
};

// What a before-filter decides. Combine a delay with any other action.
struct Action {
  enum class Kind {
    kPass,          // make the real call
    kFail,          // return -1 with `err` (getaddrinfo: `gai`, errno `err`;
                    // StartThread: return `err`) without the real call
    kRealThenFail,  // make the real call, then report -1/`err` anyway
    kInterruptConnect,  // connect(): start it in the background, -1/EINTR
    kShort,             // recv/send/read/write: at most `max_len` bytes
    kAnswer,            // getaddrinfo: return `answer` as the list
  };
  Kind kind = Kind::kPass;
  int err = 0;
  int gai = 0;
  size_t max_len = 0;
  absl::Duration delay = absl::ZeroDuration();  // slept before acting
  // kAnswer: the list to return, and whether to drop the entries the hints'
  // family excludes (as a real getaddrinfo() does).
  std::vector<SocketAddress> answer;
  bool honor_hints = true;
  // kAnswer: extra raw entries appended as they are (hostile answers:
  // wrong length, unknown family). Each is (family, addrlen).
  std::vector<std::pair<int, socklen_t>> raw_entries;

  static Action Pass() { return Action(); }
  static Action Fail(int err);
  static Action FailGai(int gai, int err = 0);
  static Action RealThenFail(int err);
  static Action InterruptConnect();
  static Action Short(size_t max_len);
  static Action Answer(std::vector<SocketAddress> addresses,
                       bool honor_hints = true);
  static Action Delay(absl::Duration d);  // then Pass
  static Action Delay(absl::Duration d, Action then);

  bool injects() const { return kind != Kind::kPass; }
};

// The result of a call as the after-filter sees it; it may change both.
struct CallResult {
  int64_t ret = 0;  // the return value (fd, count, 0/-1, EAI code, errno)
  int err = 0;      // errno after the call (0 when it succeeded)
};

using BeforeFilter = std::function<Action(const CallInfo&)>;
using AfterFilter = std::function<void(const CallInfo&, CallResult*)>;

class FaultInjectingSocketOps : public internal::SocketOpsWrapper {
 public:
  // `target` null: the real OS.
  explicit FaultInjectingSocketOps(internal::SocketOps* target = nullptr);
  ~FaultInjectingSocketOps() override;

  // Installs (or, with an empty function, removes) the filter for `call`.
  void SetBefore(Call call, BeforeFilter filter);
  void SetAfter(Call call, AfterFilter filter);
  // Shorthands: fail the `n`-th call of `call` (0-based) / every call.
  void FailNth(Call call, int64_t n, int err);
  void FailAll(Call call, int err);
  void ClearFilters();

  // Calls made of `call` (whether or not a fault was injected).
  int64_t calls(Call call) const;
  // Faults injected so far: actions other than Pass, and delays.
  int64_t faults_injected() const;
  // Faults injected by every FaultInjectingSocketOps in this process.
  static int64_t TotalFaultsInjected();

  // Descriptors ("sockets" for short, the seam's first and commonest kind):
  // made by a successful socket(), pipe2() (two) or pidfd_open()
  // through the seam, released by a close() through the seam (one that
  // reports EINTR counts: the descriptor is gone on Linux).
  int64_t sockets_opened() const;
  int64_t sockets_closed() const;
  int64_t sockets_open() const { return sockets_opened() - sockets_closed(); }
  // close() calls on a descriptor number no open seam socket had (a double
  // close, or a close of something the seam did not make).
  int64_t stray_closes() const;
  // Descriptors of sockets made through the seam that are still open.
  std::vector<int> open_sockets() const;
  // close() calls per socket, in the order the sockets were made.
  std::vector<int> close_calls_per_socket() const;
  // eventfd()s made through the seam and not yet closed through it. Counted
  // apart: every Connector makes one (its Registry's), which would shift
  // every test's socket counts.
  int64_t eventfds_open() const;

  // internal::SocketOps
  int Socket(int domain, int type, int protocol) override;
  int Bind(int fd, const sockaddr* addr, socklen_t len) override;
  int Connect(int fd, const sockaddr* addr, socklen_t len) override;
  int Poll(pollfd* fds, nfds_t nfds, int timeout_ms) override;
  int GetSockOpt(int fd, int level, int name, void* value,
                 socklen_t* len) override;
  int SetSockOpt(int fd, int level, int name, const void* value,
                 socklen_t len) override;
  int GetSockName(int fd, sockaddr* addr, socklen_t* len) override;
  int GetPeerName(int fd, sockaddr* addr, socklen_t* len) override;
  int Shutdown(int fd, int how) override;
  int SetNonBlocking(int fd, bool non_blocking) override;
  int Close(int fd) override;
  ssize_t Recv(int fd, void* buf, size_t len, int flags) override;
  ssize_t Send(int fd, const void* buf, size_t len, int flags) override;
  ssize_t Read(int fd, void* buf, size_t len) override;
  ssize_t Write(int fd, const void* buf, size_t len) override;
  int GetAddrInfo(const char* node, const char* service, const addrinfo* hints,
                  addrinfo** result) override;
  void FreeAddrInfo(addrinfo* result) override;
  int StartThread(pthread_t* thread, const pthread_attr_t* attr,
                  void* (*start)(void*), void* arg) override;
  int EventFd(unsigned int initval, int flags) override;
  int Pipe2(int fds[2], int flags) override;
  int PosixSpawnp(pid_t* pid, const char* file,
                  const posix_spawn_file_actions_t* actions,
                  const posix_spawnattr_t* attr, char* const argv[],
                  char* const envp[]) override;
  pid_t WaitPid(pid_t pid, int* status, int options) override;
  int WaitId(idtype_t type, id_t id, siginfo_t* info, int options) override;
  int Kill(pid_t pid, int sig) override;
  int PidFdOpen(pid_t pid, unsigned int flags) override;

 private:
  // Numbers the call, runs the before-filter and sleeps its delay.
  Action Before(CallInfo* info);
  // Runs the after-filter; sets errno to the (possibly rewritten) error.
  int64_t After(const CallInfo& info, int64_t ret);
  // Runs the generic fail/real-then-fail logic around `real` (and
  // `interrupt` for kInterruptConnect, when given).
  int64_t Run(CallInfo info, const std::function<int64_t()>& real,
              const std::function<int64_t()>& interrupt = nullptr);
  int Interrupt(int fd, const sockaddr* addr, socklen_t len);
  // Run() for recv/send/read/write (`real` gets the length to use: a kShort
  // action caps it).
  int64_t RunIo(Call call, int fd, size_t len,
                const std::function<int64_t(size_t)>& real);
  // Run() for a call that makes descriptors: on success `note` records
  // them (by default: the result is the one descriptor).
  int RunOpening(CallInfo info, const std::function<int64_t()>& real,
                 const std::function<void(int64_t)>& note = nullptr);
  addrinfo* MakeList(const Action& action, const addrinfo* hints);
  void NoteOpened(int fd);
  void NoteClosed(int fd);

  std::atomic<int64_t> calls_[static_cast<int>(Call::kCount)] = {};
  std::atomic<int64_t> faults_{0};

  mutable std::mutex mu_;
  std::map<Call, BeforeFilter> before_;
  std::map<Call, AfterFilter> after_;
  std::map<int, size_t> open_;    // fd -> index into close_calls_
  std::set<int> eventfds_;        // made by EventFd(), still open
  std::vector<int> close_calls_;  // per socket made
  int64_t opened_ = 0;
  int64_t closed_ = 0;
  int64_t stray_ = 0;
  std::set<addrinfo*> our_lists_;  // made by kAnswer, freed by us
};

// Open descriptors of this process right now, by number (/proc/self/fd).
std::vector<int> OpenFds();

// Threads this process has with no test thread running: the main thread
// plus any the sanitizer runtime starts with the first pthread_create()
// (ThreadSanitizer's background thread). Starts and joins one thread first,
// so the count is stable from then on.
int IdleThreadCount();

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_FAULT_INJECTING_SOCKET_OPS_H_
