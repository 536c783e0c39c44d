#include "lib/socket_ops.h"

#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tether {
namespace internal {
namespace {

class PosixSocketOps final : public SocketOps {
 public:
  int Socket(int domain, int type, int protocol) override {
    return ::socket(domain, type, protocol);
  }
  int Bind(int fd, const sockaddr* addr, socklen_t len) override {
    return ::bind(fd, addr, len);
  }
  int Connect(int fd, const sockaddr* addr, socklen_t len) override {
    return ::connect(fd, addr, len);
  }
  int Poll(pollfd* fds, nfds_t nfds, int timeout_ms) override {
    return ::poll(fds, nfds, timeout_ms);
  }
  int GetSockOpt(int fd, int level, int name, void* value,
                 socklen_t* len) override {
    return ::getsockopt(fd, level, name, value, len);
  }
  int SetSockOpt(int fd, int level, int name, const void* value,
                 socklen_t len) override {
    return ::setsockopt(fd, level, name, value, len);
  }
  int GetSockName(int fd, sockaddr* addr, socklen_t* len) override {
    return ::getsockname(fd, addr, len);
  }
  int GetPeerName(int fd, sockaddr* addr, socklen_t* len) override {
    return ::getpeername(fd, addr, len);
  }
  int Shutdown(int fd, int how) override { return ::shutdown(fd, how); }
  int SetNonBlocking(int fd, bool non_blocking) override {
    int on = non_blocking ? 1 : 0;
    return ::ioctl(fd, FIONBIO, &on);
  }
  int Close(int fd) override { return ::close(fd); }
  ssize_t Recv(int fd, void* buf, size_t len, int flags) override {
    return ::recv(fd, buf, len, flags);
  }
  ssize_t Send(int fd, const void* buf, size_t len, int flags) override {
    return ::send(fd, buf, len, flags);
  }
  ssize_t Read(int fd, void* buf, size_t len) override {
    return ::read(fd, buf, len);
  }
  ssize_t Write(int fd, const void* buf, size_t len) override {
    return ::write(fd, buf, len);
  }
  int GetAddrInfo(const char* node, const char* service, const addrinfo* hints,
                  addrinfo** result) override {
    return ::getaddrinfo(node, service, hints, result);
  }
  void FreeAddrInfo(addrinfo* result) override { ::freeaddrinfo(result); }
  int StartThread(pthread_t* thread, const pthread_attr_t* attr,
                  void* (*start)(void*), void* arg) override {
    return ::pthread_create(thread, attr, start, arg);
  }
  int EventFd(unsigned int initval, int flags) override {
    return ::eventfd(initval, flags);
  }
  int Pipe2(int fds[2], int flags) override { return ::pipe2(fds, flags); }
  int PosixSpawnp(pid_t* pid, const char* file,
                  const posix_spawn_file_actions_t* actions,
                  const posix_spawnattr_t* attr, char* const argv[],
                  char* const envp[]) override {
    return ::posix_spawnp(pid, file, actions, attr, argv, envp);
  }
  pid_t WaitPid(pid_t pid, int* status, int options) override {
    return ::waitpid(pid, status, options);
  }
  int WaitId(idtype_t type, id_t id, siginfo_t* info, int options) override {
    return ::waitid(type, id, info, options);
  }
  int Kill(pid_t pid, int sig) override { return ::kill(pid, sig); }
  int PidFdOpen(pid_t pid, unsigned int flags) override {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
  }
};

}  // namespace

SocketOps* SocketOps::Default() {
  static SocketOps* const ops = new PosixSocketOps;  // never deleted
  return ops;
}

}  // namespace internal
}  // namespace tether
