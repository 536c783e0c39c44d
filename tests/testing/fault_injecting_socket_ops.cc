#include "tests/testing/fault_injecting_socket_ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "tests/testing/loopback.h"

namespace tether {
namespace testing {
namespace {

using Kind = Action::Kind;

std::atomic<int64_t> g_total_faults{0};

constexpr int Index(Call call) { return static_cast<int>(call); }

// One getaddrinfo() entry and the storage its address points to.
struct AnswerNode {
  addrinfo ai;
  sockaddr_storage storage;
};

}  // namespace

const char* CallName(Call call) {
  static const char* const kNames[] = {
      "socket",       "bind",           "connect",     "poll",
      "getsockopt",   "setsockopt",     "getsockname", "getpeername",
      "shutdown",     "ioctl(FIONBIO)", "close",       "recv",
      "send",         "read",           "write",       "getaddrinfo",
      "freeaddrinfo", "pthread_create", "eventfd",     "pipe2",
      "posix_spawnp", "waitpid",        "waitid",      "kill",
      "pidfd_open"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == Index(Call::kCount),
                "one name per call");
  return call == Call::kCount ? "?" : kNames[Index(call)];
}

SocketAddress CallInfo::address() const {
  absl::StatusOr<SocketAddress> a = SocketAddress::FromSockaddr(addr, addr_len);
  return a.ok() ? *a : SocketAddress();
}

namespace {

// What a filter sees of a call on `fd` (none: -1).
CallInfo Info(Call call, int fd = -1) {
  CallInfo info;
  info.call = call;
  info.fd = fd;
  return info;
}

// ... of bind() or connect() to `addr`.
CallInfo AddressInfo(Call call, int fd, const sockaddr* addr, socklen_t len) {
  CallInfo info = Info(call, fd);
  info.addr = addr;
  info.addr_len = len;
  info.domain = addr != nullptr ? addr->sa_family : AF_UNSPEC;
  return info;
}

Action Make(Kind kind, int err = 0) {
  Action a;
  a.kind = kind;
  a.err = err;
  return a;
}

}  // namespace

Action Action::Fail(int err) { return Make(Kind::kFail, err); }

Action Action::FailGai(int gai, int err) {
  Action a = Make(Kind::kFail, err);
  a.gai = gai;
  return a;
}

Action Action::RealThenFail(int err) { return Make(Kind::kRealThenFail, err); }

Action Action::InterruptConnect() { return Make(Kind::kInterruptConnect); }

Action Action::Short(size_t max_len) {
  Action a = Make(Kind::kShort);
  a.max_len = max_len;
  return a;
}

Action Action::Answer(std::vector<SocketAddress> addresses, bool honor_hints) {
  Action a = Make(Kind::kAnswer);
  a.answer = std::move(addresses);
  a.honor_hints = honor_hints;
  return a;
}

Action Action::Delay(absl::Duration d) { return Delay(d, Action()); }

Action Action::Delay(absl::Duration d, Action then) {
  then.delay = d;
  return then;
}

FaultInjectingSocketOps::FaultInjectingSocketOps(internal::SocketOps* target)
    : SocketOpsWrapper(target != nullptr ? target
                                         : internal::SocketOps::Default()) {}

FaultInjectingSocketOps::~FaultInjectingSocketOps() {
  std::lock_guard<std::mutex> lock(mu_);
  for (addrinfo* list : our_lists_) {
    for (addrinfo* ai = list; ai != nullptr;) {
      addrinfo* next = ai->ai_next;
      delete reinterpret_cast<AnswerNode*>(ai);
      ai = next;
    }
  }
}

void FaultInjectingSocketOps::SetBefore(Call call, BeforeFilter filter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (filter) {
    before_[call] = std::move(filter);
  } else {
    before_.erase(call);
  }
}

void FaultInjectingSocketOps::SetAfter(Call call, AfterFilter filter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (filter) {
    after_[call] = std::move(filter);
  } else {
    after_.erase(call);
  }
}

void FaultInjectingSocketOps::FailNth(Call call, int64_t n, int err) {
  SetBefore(call, [n, err](const CallInfo& c) {
    return c.seq == n ? Action::Fail(err) : Action::Pass();
  });
}

void FaultInjectingSocketOps::FailAll(Call call, int err) {
  SetBefore(call, [err](const CallInfo&) { return Action::Fail(err); });
}

void FaultInjectingSocketOps::ClearFilters() {
  std::lock_guard<std::mutex> lock(mu_);
  before_.clear();
  after_.clear();
}

int64_t FaultInjectingSocketOps::calls(Call call) const {
  return calls_[Index(call)].load();
}

int64_t FaultInjectingSocketOps::faults_injected() const {
  return faults_.load();
}

int64_t FaultInjectingSocketOps::TotalFaultsInjected() {
  return g_total_faults.load();
}

int64_t FaultInjectingSocketOps::sockets_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_;
}

int64_t FaultInjectingSocketOps::sockets_closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

int64_t FaultInjectingSocketOps::stray_closes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stray_;
}

std::vector<int> FaultInjectingSocketOps::open_sockets() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> out;
  for (const auto& entry : open_) out.push_back(entry.first);
  return out;
}

std::vector<int> FaultInjectingSocketOps::close_calls_per_socket() const {
  std::lock_guard<std::mutex> lock(mu_);
  return close_calls_;
}

int64_t FaultInjectingSocketOps::eventfds_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(eventfds_.size());
}

// ---------------------------------------------------------------------------
// The filter machinery.

Action FaultInjectingSocketOps::Before(CallInfo* info) {
  info->seq = calls_[Index(info->call)].fetch_add(1);
  BeforeFilter filter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = before_.find(info->call);
    if (it != before_.end()) filter = it->second;
  }
  Action action = filter ? filter(*info) : Action::Pass();
  if (action.delay > absl::ZeroDuration()) absl::SleepFor(action.delay);
  if (action.injects() || action.delay > absl::ZeroDuration()) {
    faults_.fetch_add(1);
    g_total_faults.fetch_add(1);
  }
  return action;
}

int64_t FaultInjectingSocketOps::After(const CallInfo& info, int64_t ret) {
  CallResult result;
  result.ret = ret;
  result.err = ret < 0 ? errno : 0;
  AfterFilter filter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = after_.find(info.call);
    if (it != after_.end()) filter = it->second;
  }
  if (filter) filter(info, &result);
  errno = result.err;
  return result.ret;
}

int64_t FaultInjectingSocketOps::Run(
    CallInfo info, const std::function<int64_t()>& real,
    const std::function<int64_t()>& interrupt) {
  Action action = Before(&info);
  int64_t ret;
  switch (action.kind) {
    case Kind::kFail:
      ret = -1;
      errno = action.err;
      break;
    case Kind::kRealThenFail:
      real();
      ret = -1;
      errno = action.err;
      break;
    case Kind::kInterruptConnect:
      ret = interrupt ? interrupt() : real();
      break;
    default:
      errno = 0;
      ret = real();
      break;
  }
  return After(info, ret);
}

void FaultInjectingSocketOps::NoteOpened(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.count(fd) != 0) ++stray_;  // closed behind the seam's back
  open_[fd] = close_calls_.size();
  close_calls_.push_back(0);
  ++opened_;
}

void FaultInjectingSocketOps::NoteClosed(int fd) {
  // Called before the real close(): once the number is released another
  // thread's socket() may get it at once.
  std::lock_guard<std::mutex> lock(mu_);
  if (eventfds_.erase(fd) != 0) return;
  auto it = open_.find(fd);
  if (it == open_.end()) {
    ++stray_;
    return;
  }
  ++close_calls_[it->second];
  ++closed_;
  open_.erase(it);
}

// ---------------------------------------------------------------------------
// The calls.

int FaultInjectingSocketOps::RunOpening(
    CallInfo info, const std::function<int64_t()>& real,
    const std::function<void(int64_t)>& note) {
  Action action = Before(&info);
  int64_t ret;
  if (action.kind == Kind::kFail || action.kind == Kind::kRealThenFail) {
    ret = -1;  // RealThenFail too: a descriptor made and lost would leak
    errno = action.err;
  } else {
    errno = 0;
    ret = real();
    if (ret >= 0 && note) note(ret);
    if (ret >= 0 && !note) NoteOpened(static_cast<int>(ret));
  }
  return static_cast<int>(After(info, ret));
}

int FaultInjectingSocketOps::Socket(int domain, int type, int protocol) {
  CallInfo info = Info(Call::kSocket);
  info.domain = domain;
  return RunOpening(info,
                    [&] { return target()->Socket(domain, type, protocol); });
}

int FaultInjectingSocketOps::Bind(int fd, const sockaddr* addr, socklen_t len) {
  CallInfo info = AddressInfo(Call::kBind, fd, addr, len);
  return static_cast<int>(
      Run(info, [&] { return target()->Bind(fd, addr, len); }));
}

int FaultInjectingSocketOps::Interrupt(int fd, const sockaddr* addr,
                                       socklen_t len) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const int rc = target()->Connect(fd, addr, len);
  const int err = errno;
  fcntl(fd, F_SETFL, flags);  // blocking again, as the caller left it
  if (rc == 0 || err == EINPROGRESS) {
    errno = EINTR;  // the connect goes on (or is done) in the background
    return -1;
  }
  errno = err;  // failed synchronously: a blocking connect() would too
  return -1;
}

int FaultInjectingSocketOps::Connect(int fd, const sockaddr* addr,
                                     socklen_t len) {
  CallInfo info = AddressInfo(Call::kConnect, fd, addr, len);
  return static_cast<int>(Run(
      info, [&] { return target()->Connect(fd, addr, len); },
      [&] { return Interrupt(fd, addr, len); }));
}

int FaultInjectingSocketOps::Poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  CallInfo info = Info(Call::kPoll, nfds > 0 ? fds[0].fd : -1);
  return static_cast<int>(
      Run(info, [&] { return target()->Poll(fds, nfds, timeout_ms); }));
}

int FaultInjectingSocketOps::GetSockOpt(int fd, int level, int name,
                                        void* value, socklen_t* len) {
  CallInfo info = Info(Call::kGetSockOpt, fd);
  info.level = level;
  info.option = name;
  return static_cast<int>(Run(
      info, [&] { return target()->GetSockOpt(fd, level, name, value, len); }));
}

int FaultInjectingSocketOps::SetSockOpt(int fd, int level, int name,
                                        const void* value, socklen_t len) {
  CallInfo info = Info(Call::kSetSockOpt, fd);
  info.level = level;
  info.option = name;
  return static_cast<int>(Run(
      info, [&] { return target()->SetSockOpt(fd, level, name, value, len); }));
}

int FaultInjectingSocketOps::GetSockName(int fd, sockaddr* addr,
                                         socklen_t* len) {
  CallInfo info = Info(Call::kGetSockName, fd);
  return static_cast<int>(
      Run(info, [&] { return target()->GetSockName(fd, addr, len); }));
}

int FaultInjectingSocketOps::GetPeerName(int fd, sockaddr* addr,
                                         socklen_t* len) {
  CallInfo info = Info(Call::kGetPeerName, fd);
  return static_cast<int>(
      Run(info, [&] { return target()->GetPeerName(fd, addr, len); }));
}

int FaultInjectingSocketOps::Shutdown(int fd, int how) {
  CallInfo info = Info(Call::kShutdown, fd);
  return static_cast<int>(
      Run(info, [&] { return target()->Shutdown(fd, how); }));
}

int FaultInjectingSocketOps::SetNonBlocking(int fd, bool non_blocking) {
  CallInfo info = Info(Call::kSetNonBlocking, fd);
  return static_cast<int>(
      Run(info, [&] { return target()->SetNonBlocking(fd, non_blocking); }));
}

int FaultInjectingSocketOps::Close(int fd) {
  CallInfo info = Info(Call::kClose, fd);
  Action action = Before(&info);
  int64_t ret;
  if (action.kind == Kind::kFail) {  // the descriptor stays open
    ret = -1;
    errno = action.err;
  } else {
    NoteClosed(fd);
    errno = 0;
    ret = target()->Close(fd);
    if (action.kind == Kind::kRealThenFail) {
      ret = -1;
      errno = action.err;
    }
  }
  return static_cast<int>(After(info, ret));
}

int64_t FaultInjectingSocketOps::RunIo(
    Call call, int fd, size_t len, const std::function<int64_t(size_t)>& real) {
  CallInfo info = Info(call, fd);
  info.len = len;
  Action action = Before(&info);
  if (action.kind == Kind::kShort) len = std::min(len, action.max_len);
  int64_t ret;
  if (action.kind == Kind::kFail) {
    ret = -1;
    errno = action.err;
  } else {
    errno = 0;
    ret = real(len);
  }
  return After(info, ret);
}

ssize_t FaultInjectingSocketOps::Recv(int fd, void* buf, size_t len,
                                      int flags) {
  return RunIo(Call::kRecv, fd, len,
               [&](size_t n) { return target()->Recv(fd, buf, n, flags); });
}

ssize_t FaultInjectingSocketOps::Send(int fd, const void* buf, size_t len,
                                      int flags) {
  return RunIo(Call::kSend, fd, len,
               [&](size_t n) { return target()->Send(fd, buf, n, flags); });
}

ssize_t FaultInjectingSocketOps::Read(int fd, void* buf, size_t len) {
  return RunIo(Call::kRead, fd, len,
               [&](size_t n) { return target()->Read(fd, buf, n); });
}

ssize_t FaultInjectingSocketOps::Write(int fd, const void* buf, size_t len) {
  return RunIo(Call::kWrite, fd, len,
               [&](size_t n) { return target()->Write(fd, buf, n); });
}

addrinfo* FaultInjectingSocketOps::MakeList(const Action& action,
                                            const addrinfo* hints) {
  const int want = hints != nullptr ? hints->ai_family : AF_UNSPEC;
  std::vector<AnswerNode*> nodes;
  for (const SocketAddress& a : action.answer) {
    if (action.honor_hints && want != AF_UNSPEC && a.family() != want) continue;
    auto* n = new AnswerNode();
    memcpy(&n->storage, a.data(), a.size());
    n->ai.ai_family = a.family();
    n->ai.ai_addrlen = a.size();
    nodes.push_back(n);
  }
  for (const auto& raw : action.raw_entries) {
    auto* n = new AnswerNode();
    n->storage.ss_family = static_cast<sa_family_t>(raw.first);
    n->ai.ai_family = raw.first;
    n->ai.ai_addrlen = std::min<socklen_t>(raw.second, sizeof(n->storage));
    nodes.push_back(n);
  }
  if (nodes.empty()) return nullptr;
  for (size_t i = 0; i < nodes.size(); ++i) {
    AnswerNode* n = nodes[i];
    n->ai.ai_socktype = SOCK_STREAM;
    n->ai.ai_protocol = IPPROTO_TCP;
    n->ai.ai_addr = reinterpret_cast<sockaddr*>(&n->storage);
    n->ai.ai_next = i + 1 < nodes.size() ? &nodes[i + 1]->ai : nullptr;
  }
  std::lock_guard<std::mutex> lock(mu_);
  our_lists_.insert(&nodes[0]->ai);
  return &nodes[0]->ai;
}

int FaultInjectingSocketOps::GetAddrInfo(const char* node, const char* service,
                                         const addrinfo* hints,
                                         addrinfo** result) {
  CallInfo info = Info(Call::kGetAddrInfo);
  info.node = node;
  info.hints_family = hints != nullptr ? hints->ai_family : AF_UNSPEC;
  Action action = Before(&info);
  int64_t ret;
  int err = 0;
  if (action.kind == Kind::kFail) {
    *result = nullptr;
    ret = action.gai != 0 ? action.gai : EAI_FAIL;
    err = action.err;
  } else if (action.kind == Kind::kAnswer) {
    *result = MakeList(action, hints);
    ret = 0;
  } else {
    errno = 0;
    ret = target()->GetAddrInfo(node, service, hints, result);
    err = errno;
  }
  // Not through After(): getaddrinfo() returns a code, not -1.
  CallResult r;
  r.ret = ret;
  r.err = err;
  AfterFilter filter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = after_.find(Call::kGetAddrInfo);
    if (it != after_.end()) filter = it->second;
  }
  if (filter) filter(info, &r);
  errno = r.err;
  return static_cast<int>(r.ret);
}

void FaultInjectingSocketOps::FreeAddrInfo(addrinfo* result) {
  calls_[Index(Call::kFreeAddrInfo)].fetch_add(1);
  if (result == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = our_lists_.find(result);
    if (it != our_lists_.end()) {
      our_lists_.erase(it);
      for (addrinfo* ai = result; ai != nullptr;) {
        addrinfo* next = ai->ai_next;
        delete reinterpret_cast<AnswerNode*>(ai);
        ai = next;
      }
      return;
    }
  }
  target()->FreeAddrInfo(result);
}

int FaultInjectingSocketOps::StartThread(pthread_t* thread,
                                         const pthread_attr_t* attr,
                                         void* (*start)(void*), void* arg) {
  CallInfo info = Info(Call::kStartThread);
  if (attr != nullptr) pthread_attr_getstacksize(attr, &info.stack_size);
  Action action = Before(&info);
  if (action.kind == Kind::kFail) return action.err != 0 ? action.err : EAGAIN;
  return target()->StartThread(thread, attr, start, arg);
}

int FaultInjectingSocketOps::EventFd(unsigned int initval, int flags) {
  CallInfo info = Info(Call::kEventFd);
  return RunOpening(
      info, [&] { return target()->EventFd(initval, flags); },
      [this](int64_t fd) {
        std::lock_guard<std::mutex> lock(mu_);
        eventfds_.insert(static_cast<int>(fd));
      });
}

int FaultInjectingSocketOps::Pipe2(int fds[2], int flags) {
  CallInfo info = Info(Call::kPipe2);
  return RunOpening(
      info, [&] { return target()->Pipe2(fds, flags); },
      [&](int64_t) {
        NoteOpened(fds[0]);
        NoteOpened(fds[1]);
      });
}

int FaultInjectingSocketOps::PosixSpawnp(
    pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
    const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  CallInfo info = Info(Call::kPosixSpawnp);
  info.file = file;
  Action action = Before(&info);
  if (action.kind == Kind::kFail) return action.err != 0 ? action.err : EAGAIN;
  return target()->PosixSpawnp(pid, file, actions, attr, argv, envp);
}

pid_t FaultInjectingSocketOps::WaitPid(pid_t pid, int* status, int options) {
  CallInfo info = Info(Call::kWaitPid);
  info.pid = pid;
  return static_cast<pid_t>(
      Run(info, [&] { return target()->WaitPid(pid, status, options); }));
}

int FaultInjectingSocketOps::WaitId(idtype_t type, id_t id, siginfo_t* info_out,
                                    int options) {
  CallInfo info = Info(Call::kWaitId);
  info.pid = static_cast<pid_t>(id);
  return static_cast<int>(
      Run(info, [&] { return target()->WaitId(type, id, info_out, options); }));
}

int FaultInjectingSocketOps::Kill(pid_t pid, int sig) {
  CallInfo info = Info(Call::kKill);
  info.pid = pid;
  info.sig = sig;
  return static_cast<int>(Run(info, [&] { return target()->Kill(pid, sig); }));
}

int FaultInjectingSocketOps::PidFdOpen(pid_t pid, unsigned int flags) {
  CallInfo info = Info(Call::kPidFdOpen);
  info.pid = pid;
  return RunOpening(info, [&] { return target()->PidFdOpen(pid, flags); });
}

std::vector<int> OpenFds() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

int IdleThreadCount() {
  std::thread([] {}).join();
  int n = CountThreads();
  // The runtime's thread may still be starting: wait for the count to
  // settle (it only ever grows by the runtime's own threads).
  for (int i = 0; i < 50; ++i) {
    absl::SleepFor(absl::Milliseconds(2));
    const int now = CountThreads();
    if (now == n && i >= 5) break;
    n = now;
  }
  return n;
}

}  // namespace testing
}  // namespace tether
