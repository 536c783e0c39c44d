#include "tests/testing/mock_socket_ops.h"

namespace tether {
namespace testing {

MockSocketOps::MockSocketOps(internal::SocketOps* target)
    : target_(target != nullptr ? target : internal::SocketOps::Default()) {
  ForwardToDefaultImpl();
}

void MockSocketOps::ForwardToDefaultImpl() {
  using internal::SocketOps;
  using ::testing::Invoke;
  ON_CALL(*this, Socket).WillByDefault(Invoke(target_, &SocketOps::Socket));
  ON_CALL(*this, Bind).WillByDefault(Invoke(target_, &SocketOps::Bind));
  ON_CALL(*this, Connect).WillByDefault(Invoke(target_, &SocketOps::Connect));
  ON_CALL(*this, Poll).WillByDefault(Invoke(target_, &SocketOps::Poll));
  ON_CALL(*this, GetSockOpt)
      .WillByDefault(Invoke(target_, &SocketOps::GetSockOpt));
  ON_CALL(*this, SetSockOpt)
      .WillByDefault(Invoke(target_, &SocketOps::SetSockOpt));
  ON_CALL(*this, GetSockName)
      .WillByDefault(Invoke(target_, &SocketOps::GetSockName));
  ON_CALL(*this, GetPeerName)
      .WillByDefault(Invoke(target_, &SocketOps::GetPeerName));
  ON_CALL(*this, Shutdown).WillByDefault(Invoke(target_, &SocketOps::Shutdown));
  ON_CALL(*this, SetNonBlocking)
      .WillByDefault(Invoke(target_, &SocketOps::SetNonBlocking));
  ON_CALL(*this, Close).WillByDefault(Invoke(target_, &SocketOps::Close));
  ON_CALL(*this, Recv).WillByDefault(Invoke(target_, &SocketOps::Recv));
  ON_CALL(*this, Send).WillByDefault(Invoke(target_, &SocketOps::Send));
  ON_CALL(*this, Read).WillByDefault(Invoke(target_, &SocketOps::Read));
  ON_CALL(*this, Write).WillByDefault(Invoke(target_, &SocketOps::Write));
  ON_CALL(*this, GetAddrInfo)
      .WillByDefault(Invoke(target_, &SocketOps::GetAddrInfo));
  ON_CALL(*this, FreeAddrInfo)
      .WillByDefault(Invoke(target_, &SocketOps::FreeAddrInfo));
  ON_CALL(*this, StartThread)
      .WillByDefault(Invoke(target_, &SocketOps::StartThread));
  ON_CALL(*this, EventFd).WillByDefault(Invoke(target_, &SocketOps::EventFd));
  ON_CALL(*this, Pipe2).WillByDefault(Invoke(target_, &SocketOps::Pipe2));
  ON_CALL(*this, PosixSpawnp)
      .WillByDefault(Invoke(target_, &SocketOps::PosixSpawnp));
  ON_CALL(*this, WaitPid).WillByDefault(Invoke(target_, &SocketOps::WaitPid));
  ON_CALL(*this, WaitId).WillByDefault(Invoke(target_, &SocketOps::WaitId));
  ON_CALL(*this, Kill).WillByDefault(Invoke(target_, &SocketOps::Kill));
  ON_CALL(*this, PidFdOpen)
      .WillByDefault(Invoke(target_, &SocketOps::PidFdOpen));
}

}  // namespace testing
}  // namespace tether
