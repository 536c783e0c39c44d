// tcl/channel.cc: the "tether" Tcl channel type (see channel.h for how
// events reach the channel's thread).
//
// Who owns what: a ChannelState is made by OpenClientChannel() and freed by
// Close2Proc() (the full close), both on the channel's thread. It holds the
// Socket (shared with the connect in flight) and a Link, which the connect's
// on_complete holds too. on_complete, on a tether thread, reads Link under
// its mutex and queues a DoneEvent carrying the channel's id; the
// channel's thread maps the id to its ChannelState through OpenChannels(),
// a per-thread table only that thread touches.

#include "tcl/channel.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tcl/connector.h"
#include "tcl/errors.h"
#include "tether/connector.h"
#include "tether/socket.h"

namespace tether_tcl {
namespace {

// What a connect's on_complete knows of its channel; shared by both.
struct Link {
  explicit Link(uint64_t channel_id) : id(channel_id) {}
  const uint64_t id;  // the channel's key in OpenChannels()
  std::mutex mu;
  Tcl_ThreadId thread = Tcl_GetCurrentThread();  // guarded by mu
  bool open = true;  // guarded by mu; false once the channel is closed
};

struct ChannelState {
  Tcl_Channel channel = nullptr;
  std::shared_ptr<tether::Socket> socket;
  std::shared_ptr<Link> link;
  int interest = 0;                // the mask of the last watchProc call
  int handler_fd = -1;             // descriptor with a file handler, or -1
  Tcl_TimerToken timer = nullptr;  // readiness of a failed connect
  bool error_reported = false;     // -error gave the connect's error once
};

// The queued notice "this channel's connect is complete".
struct DoneEvent {
  Tcl_Event header;  // first, as Tcl requires
  uint64_t id;
};

std::atomic<uint64_t> g_next_id{1};  // relaxed: only uniqueness matters

// This thread's open tether channels, by id. Only this thread uses it.
std::unordered_map<uint64_t, ChannelState*>& OpenChannels() {
  thread_local std::unordered_map<uint64_t, ChannelState*> channels;
  return channels;
}

ChannelState* State(ClientData data) {
  return static_cast<ChannelState*>(data);
}

// --- Readiness: file handler once connected, timer once failed ------------

void FileReady(ClientData data, int mask) {
  ChannelState* st = State(data);
  const int ready = mask & st->interest;
  if (ready != 0) Tcl_NotifyChannel(st->channel, ready);
}

// A failed connect is readable and writable for as long as it is watched.
void FailedReady(ClientData data) {
  ChannelState* st = State(data);
  st->timer = nullptr;
  const int ready = st->interest & (TCL_READABLE | TCL_WRITABLE);
  if (ready == 0) return;
  st->timer = Tcl_CreateTimerHandler(0, FailedReady, st);  // level-triggered
  Tcl_NotifyChannel(st->channel, ready);  // may close the channel: last
}

void StopWatching(ChannelState* st) {
  if (st->handler_fd >= 0) Tcl_DeleteFileHandler(st->handler_fd);
  st->handler_fd = -1;
  if (st->timer != nullptr) Tcl_DeleteTimerHandler(st->timer);
  st->timer = nullptr;
}

// Makes the readiness sources match `interest` and the socket's state.
// While connecting there are none: the DoneEvent calls this again.
void Rearm(ChannelState* st) {
  const tether::Socket& s = *st->socket;
  if (s.connecting()) return;
  const int fd = s.fd();
  if (st->interest == 0) return StopWatching(st);
  if (fd >= 0) {
    if (st->timer != nullptr) Tcl_DeleteTimerHandler(st->timer);
    st->timer = nullptr;
    if (st->handler_fd >= 0 && st->handler_fd != fd) {
      Tcl_DeleteFileHandler(st->handler_fd);
    }
    Tcl_CreateFileHandler(fd, st->interest, FileReady, st);
    st->handler_fd = fd;
  } else if (st->timer == nullptr) {
    StopWatching(st);
    st->timer = Tcl_CreateTimerHandler(0, FailedReady, st);
  }
}

int DoneEventProc(Tcl_Event* event, int flags) {
  if ((flags & TCL_FILE_EVENTS) == 0) return 0;  // not now: keep it queued
  const uint64_t id = reinterpret_cast<DoneEvent*>(event)->id;
  auto it = OpenChannels().find(id);
  if (it != OpenChannels().end()) Rearm(it->second);
  return 1;  // Tcl frees the event
}

int KeepEvent(Tcl_Event*, ClientData) { return 0; }

// Makes this thread's Tcl event queue ready for NotifyDone(), which runs on
// another thread. Tcl makes a thread's queue mutex on its first use, and
// Tcl_ThreadQueueEvent() from another thread reads it without a lock
// (Tcl_MutexLock()'s double-checked creation): ThreadSanitizer saw a worker
// lock a mutex this thread made after the connect began. Making it here,
// before the connect starts or the channel moves here, orders it first.
void PrepareEventQueue() { Tcl_DeleteEvents(KeepEvent, nullptr); }

// on_complete, on a tether thread: tells the channel's thread, if the
// channel is still open there. Never touches Tcl's interpreter.
void NotifyDone(const std::shared_ptr<Link>& link) {
  if (Finalizing()) return;
  std::lock_guard<std::mutex> lock(link->mu);
  if (!link->open) return;
  auto* event = reinterpret_cast<DoneEvent*>(Tcl_Alloc(sizeof(DoneEvent)));
  event->header.proc = DoneEventProc;
  event->header.nextPtr = nullptr;
  event->id = link->id;
  Tcl_ThreadQueueEvent(link->thread, &event->header, TCL_QUEUE_TAIL);
  Tcl_ThreadAlert(link->thread);
}

// --- The driver procs ---------------------------------------------------

int InputProc(ClientData data, char* buf, int size, int* error) {
  ChannelState* st = State(data);
  absl::StatusOr<size_t> n =
      st->socket->Read(absl::Span<char>(buf, static_cast<size_t>(size)));
  if (n.ok()) return static_cast<int>(*n);
  const int err = DriverErrno(*st->socket, n.status());
  if (err == ECONNRESET) return 0;  // a soft end of file, as in Tcl
  *error = err;
  return -1;
}

int OutputProc(ClientData data, const char* buf, int size, int* error) {
  ChannelState* st = State(data);
  absl::StatusOr<size_t> n =
      st->socket->Write(absl::Span<const char>(buf, static_cast<size_t>(size)));
  if (n.ok()) return static_cast<int>(*n);
  *error = DriverErrno(*st->socket, n.status());
  return -1;
}

int BlockModeProc(ClientData data, int mode) {
  ChannelState* st = State(data);
  absl::Status s = st->socket->SetBlocking(mode == TCL_MODE_BLOCKING);
  return s.ok() ? 0 : StatusErrno(s);
}

void WatchProc(ClientData data, int mask) {
  ChannelState* st = State(data);
  st->interest = mask;
  Rearm(st);
}

int GetHandleProc(ClientData data, int, ClientData* handle) {
  const tether::Socket& s = *State(data)->socket;
  const int fd = s.connecting() ? -1 : s.fd();
  if (fd < 0) return TCL_ERROR;
  *handle = reinterpret_cast<ClientData>(static_cast<intptr_t>(fd));
  return TCL_OK;
}

// The full close: stops the events, cancels a connect still running,
// releases the descriptor and frees the state.
int CloseAll(ChannelState* st) {
  StopWatching(st);
  OpenChannels().erase(st->link->id);
  {
    std::lock_guard<std::mutex> lock(st->link->mu);
    st->link->open = false;
  }
  absl::Status s = st->socket->Close();
  const int err = s.ok() ? 0 : StatusErrno(s);
  delete st;
  return err;
}

int Close2Proc(ClientData data, Tcl_Interp*, int flags) {
  ChannelState* st = State(data);
  if ((flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) == 0) return CloseAll(st);
  tether::Socket& s = *st->socket;
  // shutdown() of a socket still connecting: ENOTCONN, as in Tcl, and never
  // a wait (Tcl_Close calls this with TCL_CLOSE_READ before every close).
  if (s.connecting()) return ENOTCONN;
  int read_error = 0;
  int write_error = 0;
  if ((flags & TCL_CLOSE_READ) != 0) {
    absl::Status r = s.Close(tether::Direction::kRead);
    if (!r.ok()) read_error = DriverErrno(s, r);
  }
  if ((flags & TCL_CLOSE_WRITE) != 0) {
    absl::Status w = s.Close(tether::Direction::kWrite);
    if (!w.ok()) write_error = DriverErrno(s, w);
  }
  Rearm(st);
  return read_error != 0 ? read_error : write_error;  // TcpClose2Proc's rule
}

void ThreadActionProc(ClientData data, int action) {
  ChannelState* st = State(data);
  if (action == TCL_CHANNEL_THREAD_REMOVE) {
    StopWatching(st);  // file handlers and timers belong to this thread
    OpenChannels().erase(st->link->id);
    return;
  }
  OpenChannels()[st->link->id] = st;
  PrepareEventQueue();
  std::lock_guard<std::mutex> lock(st->link->mu);
  st->link->thread = Tcl_GetCurrentThread();
}

int GetOptionProc(ClientData data, Tcl_Interp* interp, const char* name,
                  Tcl_DString* ds);

const Tcl_ChannelType kChannelType = {
    "tether",               // typeName
    TCL_CHANNEL_VERSION_5,  // version
    TCL_CLOSE2PROC,         // closeProc: Close2Proc with flags 0
    InputProc,              // inputProc
    OutputProc,             // outputProc
    nullptr,                // seekProc
    nullptr,                // setOptionProc
    GetOptionProc,          // getOptionProc
    WatchProc,              // watchProc
    GetHandleProc,          // getHandleProc
    Close2Proc,             // close2Proc
    BlockModeProc,          // blockModeProc
    nullptr,                // flushProc
    nullptr,                // handlerProc
    nullptr,                // wideSeekProc
    ThreadActionProc,       // threadActionProc
    nullptr,                // truncateProc
};

// --- Options: TIP 427's queries, from the Socket's lock-free state -------

// Appends {numeric-host host-name port}, as Tcl's TcpHostPortList does
// (reverse lookup unless ::tcl::unsupported::noReverseDNS is set).
void AppendHostPort(Tcl_Interp* interp, Tcl_DString* ds,
                    const tether::SocketAddress& address) {
  char numeric[NI_MAXHOST];
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (getnameinfo(address.data(), address.size(), numeric, sizeof(numeric),
                  port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    std::snprintf(numeric, sizeof(numeric), "%s", address.ip().c_str());
    std::snprintf(port, sizeof(port), "%u", address.port());
  }
  Tcl_DStringAppendElement(ds, numeric);
  int flags = 0;
  if (interp != nullptr &&
      Tcl_GetVar2(interp, "::tcl::unsupported::noReverseDNS", nullptr, 0) !=
          nullptr) {
    flags |= NI_NUMERICHOST;
  }
  if (getnameinfo(address.data(), address.size(), host, sizeof(host), nullptr,
                  0, flags) != 0) {
    std::snprintf(host, sizeof(host), "%s", numeric);
  }
  Tcl_DStringAppendElement(ds, host);
  Tcl_DStringAppendElement(ds, port);
}

// -error: empty while connecting; a failed connect's error once (Tcl's
// -error reads and clears); then the connected socket's SO_ERROR.
void AppendError(ChannelState* st, Tcl_DString* ds) {
  const tether::Socket& s = *st->socket;
  if (s.connecting()) return;
  if (!s.error().ok()) {
    if (!st->error_reported)
      Tcl_DStringAppend(ds, ConnectErrorText(s).c_str(), -1);
    st->error_reported = true;
    return;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (s.fd() >= 0 &&
      getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
    Tcl_DStringAppend(ds, Tcl_ErrnoMsg(err), -1);
  }
}

// -sockname / -peername: empty while connecting and after a failure.
void AppendAddress(Tcl_Interp* interp, Tcl_DString* ds, const char* option,
                   const std::optional<tether::SocketAddress>& address,
                   bool all) {
  if (all) {
    Tcl_DStringAppendElement(ds, option);
    Tcl_DStringStartSublist(ds);
  }
  if (address.has_value()) AppendHostPort(interp, ds, *address);
  if (all) Tcl_DStringEndSublist(ds);
}

bool Is(const char* name, size_t len, const char* option) {
  return len > 1 && name[1] == option[1] &&
         std::strncmp(name, option, len) == 0;
}

int GetOptionProc(ClientData data, Tcl_Interp* interp, const char* name,
                  Tcl_DString* ds) {
  ChannelState* st = State(data);
  const tether::Socket& s = *st->socket;
  const size_t len = name == nullptr ? 0 : std::strlen(name);
  if (Is(name, len, "-error")) {
    AppendError(st, ds);
  } else if (Is(name, len, "-connecting")) {
    Tcl_DStringAppend(ds, s.connecting() ? "1" : "0", -1);
  } else if (len == 0 || Is(name, len, "-peername")) {
    AppendAddress(interp, ds, "-peername", s.peername(), len == 0);
    if (len == 0) AppendAddress(interp, ds, "-sockname", s.sockname(), true);
  } else if (Is(name, len, "-sockname")) {
    AppendAddress(interp, ds, "-sockname", s.sockname(), false);
  } else {
    return Tcl_BadChannelOption(interp, name, "connecting peername sockname");
  }
  return TCL_OK;
}

// --- Opening ----------------------------------------------------------------

tether::ConnectOptions Options(const ClientRequest& request,
                               std::shared_ptr<Link> link) {
  tether::ConnectOptions options;
  options.local_address = request.local_address;
  options.local_port = static_cast<uint16_t>(request.local_port);
  options.family = request.family;
  if (!request.local_address.empty() || request.local_port != 0) {
    // Tcl's client bind sets SO_REUSEADDR (a -myport whose port still has a
    // connection in TIME_WAIT binds anyway): the control hook runs before
    // tether's bind().
    options.control = [](int fd, const tether::SocketAddress&) {
      int one = 1;
      if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0) {
        return absl::OkStatus();
      }
      return absl::ErrnoToStatus(errno, "setsockopt(SO_REUSEADDR)");
    };
  }
  options.on_complete = [link = std::move(link)](tether::Socket&) {
    NotifyDone(link);
  };
  return options;
}

// "couldn't open socket: ..." with errorCode, as Tcl_OpenTcpClient says it.
void SetOpenError(Tcl_Interp* interp, const tether::Socket& s) {
  std::string text = ConnectErrorText(s);
  if (s.error_code() != 0) {
    errno = s.error_code();
    text = Tcl_PosixError(interp);  // sets errorCode {POSIX ECONNREFUSED ...}
  }
  Tcl_SetObjResult(interp,
                   Tcl_ObjPrintf("couldn't open socket: %s", text.c_str()));
}

Tcl_Channel Wrap(std::shared_ptr<tether::Socket> socket,
                 std::shared_ptr<Link> link) {
  auto* st = new ChannelState;
  st->socket = std::move(socket);
  st->link = std::move(link);
  char name[40];
  std::snprintf(
      name, sizeof(name), "sock%llx",
      static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(st)));
  st->channel =
      Tcl_CreateChannel(&kChannelType, name, st, TCL_READABLE | TCL_WRITABLE);
  OpenChannels()[st->link->id] = st;
  // Tcl's own client sockets translate like this.
  Tcl_SetChannelOption(nullptr, st->channel, "-translation", "auto crlf");
  return st->channel;
}

}  // namespace

Tcl_Channel OpenClientChannel(Tcl_Interp* interp,
                              const ClientRequest& request) {
  std::shared_ptr<tether::Connector> connector = SharedConnector();
  if (connector == nullptr) {
    Tcl_SetObjResult(
        interp, Tcl_NewStringObj("couldn't open socket: Tcl is exiting", -1));
    return nullptr;
  }
  PrepareEventQueue();
  auto link =
      std::make_shared<Link>(g_next_id.fetch_add(1, std::memory_order_relaxed));
  std::shared_ptr<tether::Socket> socket =
      connector->Connect(request.host, request.port, Options(request, link));
  if (!request.async) (void)socket->Wait(absl::InfiniteDuration());
  const bool bad_input =
      !socket->connecting() &&
      socket->error().code() == absl::StatusCode::kInvalidArgument;
  if (bad_input || (!request.async && !socket->error().ok())) {
    SetOpenError(interp, *socket);
    {
      std::lock_guard<std::mutex> lock(link->mu);
      link->open = false;
    }
    (void)socket->Close();
    return nullptr;
  }
  return Wrap(std::move(socket), std::move(link));
}

}  // namespace tether_tcl
