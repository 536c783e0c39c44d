// tests/testing/mock_socket_ops.h: a gMock SocketOps.
//
// Every method forwards to a target (the real OS by default) until a test
// says otherwise, so a test sets an expectation on one call only (folly's
// MockDispatcher::forwardToDefaultImpl):
//
//   ::testing::NiceMock<MockSocketOps> mock(&fault_injecting_ops);
//   EXPECT_CALL(mock, Connect(_, _, _)).Times(1);
//   ConnectorOptions o;
//   o.socket_ops = &mock;

#ifndef TETHER_TESTS_TESTING_MOCK_SOCKET_OPS_H_
#define TETHER_TESTS_TESTING_MOCK_SOCKET_OPS_H_

#include "gmock/gmock.h"
#include "lib/socket_ops.h"

namespace tether {
namespace testing {

// A gMock SocketOps; every method forwards to `target` (the real OS when
// null) until a test says otherwise.
class MockSocketOps : public internal::SocketOps {
 public:
  explicit MockSocketOps(internal::SocketOps* target = nullptr);

  MOCK_METHOD(int, Socket, (int, int, int), (override));
  MOCK_METHOD(int, Bind, (int, const sockaddr*, socklen_t), (override));
  MOCK_METHOD(int, Connect, (int, const sockaddr*, socklen_t), (override));
  MOCK_METHOD(int, Poll, (pollfd*, nfds_t, int), (override));
  MOCK_METHOD(int, GetSockOpt, (int, int, int, void*, socklen_t*), (override));
  MOCK_METHOD(int, SetSockOpt, (int, int, int, const void*, socklen_t),
              (override));
  MOCK_METHOD(int, GetSockName, (int, sockaddr*, socklen_t*), (override));
  MOCK_METHOD(int, GetPeerName, (int, sockaddr*, socklen_t*), (override));
  MOCK_METHOD(int, Shutdown, (int, int), (override));
  MOCK_METHOD(int, SetNonBlocking, (int, bool), (override));
  MOCK_METHOD(int, Close, (int), (override));
  MOCK_METHOD(ssize_t, Recv, (int, void*, size_t, int), (override));
  MOCK_METHOD(ssize_t, Send, (int, const void*, size_t, int), (override));
  MOCK_METHOD(ssize_t, Read, (int, void*, size_t), (override));
  MOCK_METHOD(ssize_t, Write, (int, const void*, size_t), (override));
  MOCK_METHOD(int, GetAddrInfo,
              (const char*, const char*, const addrinfo*, addrinfo**),
              (override));
  MOCK_METHOD(void, FreeAddrInfo, (addrinfo*), (override));
  MOCK_METHOD(int, StartThread,
              (pthread_t*, const pthread_attr_t*, void* (*)(void*), void*),
              (override));
  MOCK_METHOD(int, EventFd, (unsigned int, int), (override));
  MOCK_METHOD(int, Pipe2, (int*, int), (override));
  MOCK_METHOD(int, PosixSpawnp,
              (pid_t*, const char*, const posix_spawn_file_actions_t*,
               const posix_spawnattr_t*, char* const*, char* const*),
              (override));
  MOCK_METHOD(pid_t, WaitPid, (pid_t, int*, int), (override));
  MOCK_METHOD(int, WaitId, (idtype_t, id_t, siginfo_t*, int), (override));
  MOCK_METHOD(int, Kill, (pid_t, int), (override));
  MOCK_METHOD(int, PidFdOpen, (pid_t, unsigned int), (override));

  internal::SocketOps* target() const { return target_; }

 private:
  // Makes every method forward to target_ by default.
  void ForwardToDefaultImpl();

  internal::SocketOps* const target_;
};

}  // namespace testing
}  // namespace tether

#endif  // TETHER_TESTS_TESTING_MOCK_SOCKET_OPS_H_
