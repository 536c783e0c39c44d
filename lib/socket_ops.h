// lib/socket_ops.h: the one seam in front of the operating system.
//
// Every system call tether makes on a socket, a pipe, an eventfd, a child
// process or a thread, and every getaddrinfo(), goes through a SocketOps, so
// tests can inject faults deterministically
// (tests/testing/fault_injecting_socket_ops.h). Each method has the POSIX
// signature and convention: -1 (or the getaddrinfo code) with errno set on
// failure, unless it says otherwise. None retries EINTR: callers decide.
//
// Not here, by design: library calls that make no system call
// (posix_spawn_file_actions_*, posix_spawnattr_*, sigset operations), the
// signal-mask bookkeeping around a pipe write (pthread_sigmask, sigpending,
// sigtimedwait in lib/fd_stream.cc: they only guard the seam's Write), and
// the worker pool's own memory and futex calls (lib/worker_pool.cc).
//
// Thread safety: implementations must be safe for concurrent calls.

#ifndef TETHER_LIB_SOCKET_OPS_H_
#define TETHER_LIB_SOCKET_OPS_H_

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

namespace tether {
namespace internal {

class SocketOps {
 public:
  virtual ~SocketOps() = default;

  // The real operating system. Belongs to tether and must never be deleted.
  static SocketOps* Default();

  virtual int Socket(int domain, int type, int protocol) = 0;
  virtual int Bind(int fd, const sockaddr* addr, socklen_t len) = 0;
  virtual int Connect(int fd, const sockaddr* addr, socklen_t len) = 0;
  virtual int Poll(pollfd* fds, nfds_t nfds, int timeout_ms) = 0;
  virtual int GetSockOpt(int fd, int level, int name, void* value,
                         socklen_t* len) = 0;
  virtual int SetSockOpt(int fd, int level, int name, const void* value,
                         socklen_t len) = 0;
  virtual int GetSockName(int fd, sockaddr* addr, socklen_t* len) = 0;
  virtual int GetPeerName(int fd, sockaddr* addr, socklen_t* len) = 0;
  virtual int Shutdown(int fd, int how) = 0;
  // Sets or clears O_NONBLOCK (ioctl FIONBIO: one system call).
  virtual int SetNonBlocking(int fd, bool non_blocking) = 0;
  virtual int Close(int fd) = 0;
  virtual ssize_t Recv(int fd, void* buf, size_t len, int flags) = 0;
  virtual ssize_t Send(int fd, const void* buf, size_t len, int flags) = 0;
  virtual ssize_t Read(int fd, void* buf, size_t len) = 0;         // pipes
  virtual ssize_t Write(int fd, const void* buf, size_t len) = 0;  // pipes
  virtual int GetAddrInfo(const char* node, const char* service,
                          const addrinfo* hints, addrinfo** result) = 0;
  virtual void FreeAddrInfo(addrinfo* result) = 0;
  // pthread_create() convention: returns 0 or an error number.
  virtual int StartThread(pthread_t* thread, const pthread_attr_t* attr,
                          void* (*start)(void*), void* arg) = 0;
  // eventfd(2): a CompletionQueue's descriptor, an FdStream's wake-ups.
  virtual int EventFd(unsigned int initval, int flags) = 0;

  // Child processes (lib/pipeline.cc).
  virtual int Pipe2(int fds[2], int flags) = 0;
  // posix_spawnp(3) convention: returns 0 or an error number (errno is not
  // used). The file actions and attributes are built by the caller.
  virtual int PosixSpawnp(pid_t* pid, const char* file,
                          const posix_spawn_file_actions_t* actions,
                          const posix_spawnattr_t* attr, char* const argv[],
                          char* const envp[]) = 0;
  virtual pid_t WaitPid(pid_t pid, int* status, int options) = 0;
  virtual int WaitId(idtype_t type, id_t id, siginfo_t* info, int options) = 0;
  virtual int Kill(pid_t pid, int sig) = 0;
  // pidfd_open(2) (Linux 5.3+; -1/ENOSYS before): a descriptor that polls
  // readable once the process has exited.
  virtual int PidFdOpen(pid_t pid, unsigned int flags) = 0;
};

// Forwards every call to a target; a fake overrides only what it breaks
// (leveldb's EnvWrapper).
class SocketOpsWrapper : public SocketOps {
 public:
  explicit SocketOpsWrapper(SocketOps* target) : target_(target) {}
  SocketOps* target() const { return target_; }

  int Socket(int domain, int type, int protocol) override {
    return target_->Socket(domain, type, protocol);
  }
  int Bind(int fd, const sockaddr* addr, socklen_t len) override {
    return target_->Bind(fd, addr, len);
  }
  int Connect(int fd, const sockaddr* addr, socklen_t len) override {
    return target_->Connect(fd, addr, len);
  }
  int Poll(pollfd* fds, nfds_t nfds, int timeout_ms) override {
    return target_->Poll(fds, nfds, timeout_ms);
  }
  int GetSockOpt(int fd, int level, int name, void* value,
                 socklen_t* len) override {
    return target_->GetSockOpt(fd, level, name, value, len);
  }
  int SetSockOpt(int fd, int level, int name, const void* value,
                 socklen_t len) override {
    return target_->SetSockOpt(fd, level, name, value, len);
  }
  int GetSockName(int fd, sockaddr* addr, socklen_t* len) override {
    return target_->GetSockName(fd, addr, len);
  }
  int GetPeerName(int fd, sockaddr* addr, socklen_t* len) override {
    return target_->GetPeerName(fd, addr, len);
  }
  int Shutdown(int fd, int how) override { return target_->Shutdown(fd, how); }
  int SetNonBlocking(int fd, bool non_blocking) override {
    return target_->SetNonBlocking(fd, non_blocking);
  }
  int Close(int fd) override { return target_->Close(fd); }
  ssize_t Recv(int fd, void* buf, size_t len, int flags) override {
    return target_->Recv(fd, buf, len, flags);
  }
  ssize_t Send(int fd, const void* buf, size_t len, int flags) override {
    return target_->Send(fd, buf, len, flags);
  }
  ssize_t Read(int fd, void* buf, size_t len) override {
    return target_->Read(fd, buf, len);
  }
  ssize_t Write(int fd, const void* buf, size_t len) override {
    return target_->Write(fd, buf, len);
  }
  int GetAddrInfo(const char* node, const char* service, const addrinfo* hints,
                  addrinfo** result) override {
    return target_->GetAddrInfo(node, service, hints, result);
  }
  void FreeAddrInfo(addrinfo* result) override {
    target_->FreeAddrInfo(result);
  }
  int StartThread(pthread_t* thread, const pthread_attr_t* attr,
                  void* (*start)(void*), void* arg) override {
    return target_->StartThread(thread, attr, start, arg);
  }
  int EventFd(unsigned int initval, int flags) override {
    return target_->EventFd(initval, flags);
  }
  int Pipe2(int fds[2], int flags) override {
    return target_->Pipe2(fds, flags);
  }
  int PosixSpawnp(pid_t* pid, const char* file,
                  const posix_spawn_file_actions_t* actions,
                  const posix_spawnattr_t* attr, char* const argv[],
                  char* const envp[]) override {
    return target_->PosixSpawnp(pid, file, actions, attr, argv, envp);
  }
  pid_t WaitPid(pid_t pid, int* status, int options) override {
    return target_->WaitPid(pid, status, options);
  }
  int WaitId(idtype_t type, id_t id, siginfo_t* info, int options) override {
    return target_->WaitId(type, id, info, options);
  }
  int Kill(pid_t pid, int sig) override { return target_->Kill(pid, sig); }
  int PidFdOpen(pid_t pid, unsigned int flags) override {
    return target_->PidFdOpen(pid, flags);
  }

 private:
  SocketOps* const target_;
};

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_SOCKET_OPS_H_
