// tcl/package.cc: `package require tether` (issue 19). Tether_Init() adds
//
//   tether::socket ?-async? ?-myaddr addr? ?-myport port? host port
//       Tcl's client `socket`, same options and errors, connecting through
//       tether (tcl/channel.h); -server is handed to Tcl's own `socket`.
//   tether::install / tether::uninstall
//       replace / restore this interpreter's global `socket`: client sockets
//       go through tether, `socket -server` still reaches Tcl's own command.
//   tether::stats
//       the process Connector's counters, as a dict.
//
// Thread safety: commands run on their interpreter's thread, as Tcl
// requires; the state they share across threads is the Connector
// (tcl/connector.h). install keeps the replaced command's Tcl_CmdInfo in the
// new command's clientData, freed when that command is deleted (uninstall,
// `rename socket {}`, or `interp delete`).

#include <netdb.h>
#include <sys/socket.h>
#include <tcl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tcl/channel.h"
#include "tcl/connector.h"

namespace tether_tcl {
namespace {

constexpr char kVersion[] = "0.1.0";

// A `socket` command line, parsed as Tcl_SocketObjCmd parses it.
struct SocketArgs {
  bool server = false;
  ClientRequest client;
  const char* myaddr = nullptr;
};

int WrongArgs(Tcl_Interp* interp, Tcl_Obj* const objv[]) {
  const char* cmd = Tcl_GetString(objv[0]);
  Tcl_SetObjResult(
      interp,
      Tcl_ObjPrintf("wrong # args: should be \"%s ?-myaddr addr? ?-myport "
                    "myport? ?-async? host port\" or \"%s -server command "
                    "?-myaddr addr? port\"",
                    cmd, cmd));
  Tcl_SetErrorCode(interp, "TCL", "WRONGARGS", nullptr);
  return TCL_ERROR;
}

// TclSockGetPort: a number or a service name; over 65535 is an error.
int GetPort(Tcl_Interp* interp, Tcl_Obj* obj, int* port) {
  if (Tcl_GetIntFromObj(nullptr, obj, port) != TCL_OK) {
    const servent* sp = getservbyname(Tcl_GetString(obj), "tcp");
    if (sp != nullptr) {
      *port = ntohs(static_cast<uint16_t>(sp->s_port));
      return TCL_OK;
    }
  }
  if (Tcl_GetIntFromObj(interp, obj, port) != TCL_OK) return TCL_ERROR;
  if (*port > 0xFFFF) {
    Tcl_SetObjResult(
        interp,
        Tcl_NewStringObj("couldn't open socket: port number too high", -1));
    return TCL_ERROR;
  }
  return TCL_OK;
}

int NeedArgument(Tcl_Interp* interp, const char* option) {
  Tcl_SetObjResult(interp,
                   Tcl_ObjPrintf("no argument given for %s option", option));
  return TCL_ERROR;
}

// Parses objv as Tcl's `socket` does, with its error messages.
int ParseSocketArgs(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[],
                    SocketArgs* out) {
  static const char* const kOptions[] = {"-async", "-myaddr", "-myport",
                                         "-server", nullptr};
  int a = 1;
  for (; a < objc && Tcl_GetString(objv[a])[0] == '-'; a++) {
    int index;
    if (Tcl_GetIndexFromObj(interp, objv[a], kOptions, "option", TCL_EXACT,
                            &index) != TCL_OK) {
      return TCL_ERROR;
    }
    if ((index == 0 && out->server) || (index == 3 && out->client.async)) {
      Tcl_SetObjResult(
          interp,
          Tcl_NewStringObj("cannot set -async option for server sockets", -1));
      return TCL_ERROR;
    }
    if (index == 0) {
      out->client.async = true;
      continue;
    }
    if (++a >= objc) return NeedArgument(interp, kOptions[index]);
    if (index == 1) out->myaddr = Tcl_GetString(objv[a]);
    if (index == 2 &&
        GetPort(interp, objv[a], &out->client.local_port) != TCL_OK) {
      return TCL_ERROR;
    }
    if (index == 3) out->server = true;
  }
  if (out->server) {
    if (out->client.local_port != 0) {
      Tcl_SetObjResult(
          interp,
          Tcl_NewStringObj("option -myport is not valid for servers", -1));
      return TCL_ERROR;
    }
    return a == objc - 1 ? TCL_OK : WrongArgs(interp, objv);
  }
  if (a != objc - 2) return WrongArgs(interp, objv);
  out->client.host = Tcl_GetString(objv[a]);
  return GetPort(interp, objv[a + 1], &out->client.port);
}

// Resolves -myaddr here, as Tcl does (a numeric one needs no lookup), and
// checks that it can be bound, so an impossible -myaddr fails `socket
// -async` at once, in Tcl's words, instead of in the background.
int ResolveLocal(Tcl_Interp* interp, SocketArgs* args) {
  if (args->myaddr == nullptr) return TCL_OK;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(args->myaddr, nullptr, &hints, &list);
  if (rc != 0) {
    Tcl_SetObjResult(interp,
                     Tcl_ObjPrintf("couldn't open socket: %s",
                                   rc == EAI_SYSTEM ? Tcl_PosixError(interp)
                                                    : gai_strerror(rc)));
    return TCL_ERROR;
  }
  char ip[NI_MAXHOST];
  getnameinfo(list->ai_addr, list->ai_addrlen, ip, sizeof(ip), nullptr, 0,
              NI_NUMERICHOST);
  const bool v6 = list->ai_family == AF_INET6;
  int err = 0;
  const int fd = socket(list->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, list->ai_addr, list->ai_addrlen) < 0) err = errno;
  if (fd >= 0) close(fd);
  freeaddrinfo(list);
  if (err != 0) {
    errno = err;
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("couldn't open socket: %s",
                                           Tcl_PosixError(interp)));
    return TCL_ERROR;
  }
  args->client.local_address = ip;
  args->client.family = v6 ? tether::Family::kIPv6 : tether::Family::kIPv4;
  return TCL_OK;
}

int OpenClient(Tcl_Interp* interp, SocketArgs* args) {
  if (ResolveLocal(interp, args) != TCL_OK) return TCL_ERROR;
  Tcl_Channel chan = OpenClientChannel(interp, args->client);
  if (chan == nullptr) return TCL_ERROR;
  Tcl_RegisterChannel(interp, chan);
  Tcl_SetObjResult(interp, Tcl_NewStringObj(Tcl_GetChannelName(chan), -1));
  return TCL_OK;
}

int InstalledSocketCmd(ClientData data, Tcl_Interp* interp, int objc,
                       Tcl_Obj* const objv[]);

// Tcl's own `socket`: the one install replaced, else the current one.
bool TclSocket(Tcl_Interp* interp, Tcl_CmdInfo* info) {
  if (!Tcl_GetCommandInfo(interp, "::socket", info)) return false;
  if (info->objProc == InstalledSocketCmd) {
    *info = *static_cast<Tcl_CmdInfo*>(info->objClientData);
  }
  return info->objProc != nullptr;
}

int Socket(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[],
           const Tcl_CmdInfo* tcl_socket) {
  SocketArgs args;
  if (ParseSocketArgs(interp, objc, objv, &args) != TCL_OK) return TCL_ERROR;
  if (!args.server) return OpenClient(interp, &args);
  if (tcl_socket == nullptr) {
    Tcl_SetObjResult(interp,
                     Tcl_NewStringObj("no Tcl socket command for -server", -1));
    return TCL_ERROR;
  }
  return tcl_socket->objProc(tcl_socket->objClientData, interp, objc, objv);
}

int InstalledSocketCmd(ClientData data, Tcl_Interp* interp, int objc,
                       Tcl_Obj* const objv[]) {
  return Socket(interp, objc, objv, static_cast<Tcl_CmdInfo*>(data));
}

int SocketCmd(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  Tcl_CmdInfo info;
  return Socket(interp, objc, objv, TclSocket(interp, &info) ? &info : nullptr);
}

void FreeCmdInfo(ClientData data) { delete static_cast<Tcl_CmdInfo*>(data); }

bool Installed(Tcl_Interp* interp) {
  Tcl_CmdInfo info;
  return Tcl_GetCommandInfo(interp, "::socket", &info) &&
         info.objProc == InstalledSocketCmd;
}

int InstallCmd(ClientData, Tcl_Interp* interp, int objc,
               Tcl_Obj* const objv[]) {
  if (objc != 1) {
    Tcl_WrongNumArgs(interp, 1, objv, nullptr);
    return TCL_ERROR;
  }
  if (Installed(interp)) return TCL_OK;
  auto* original = new Tcl_CmdInfo;
  if (!TclSocket(interp, original)) {
    delete original;
    Tcl_SetObjResult(
        interp, Tcl_NewStringObj("tether::install: no socket command", -1));
    return TCL_ERROR;
  }
  Tcl_CreateObjCommand(interp, "::socket", InstalledSocketCmd, original,
                       FreeCmdInfo);
  return TCL_OK;
}

int UninstallCmd(ClientData, Tcl_Interp* interp, int objc,
                 Tcl_Obj* const objv[]) {
  if (objc != 1) {
    Tcl_WrongNumArgs(interp, 1, objv, nullptr);
    return TCL_ERROR;
  }
  Tcl_CmdInfo info;
  if (!Installed(interp) || !TclSocket(interp, &info)) return TCL_OK;
  // Replacing the command frees the saved info (FreeCmdInfo): copied first.
  Tcl_CreateObjCommand(interp, "::socket", info.objProc, info.objClientData,
                       info.deleteProc);
  return TCL_OK;
}

int StatsCmd(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc != 1) {
    Tcl_WrongNumArgs(interp, 1, objv, nullptr);
    return TCL_ERROR;
  }
  const tether::ConnectorStats s = SharedStats();
  const std::pair<const char*, uint64_t> fields[] = {
      {"submitted", s.submitted}, {"in_flight", s.in_flight},
      {"connected", s.connected}, {"failed", s.failed},
      {"cancelled", s.cancelled}, {"attempts", s.attempts},
      {"workers", s.workers}};
  Tcl_Obj* dict = Tcl_NewDictObj();
  for (const auto& [key, value] : fields) {
    Tcl_DictObjPut(nullptr, dict, Tcl_NewStringObj(key, -1),
                   Tcl_NewWideIntObj(static_cast<Tcl_WideInt>(value)));
  }
  Tcl_SetObjResult(interp, dict);
  return TCL_OK;
}

}  // namespace
}  // namespace tether_tcl

// The package's entry point: `load libtether_tcl.so Tether`.
extern "C" int Tether_Init(Tcl_Interp* interp) {
  using namespace tether_tcl;  // NOLINT(build/namespaces): C entry point
  if (Tcl_PkgRequire(interp, "Tcl", "8.6", 0) == nullptr) return TCL_ERROR;
  Tcl_CreateObjCommand(interp, "::tether::socket", SocketCmd, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::tether::install", InstallCmd, nullptr,
                       nullptr);
  Tcl_CreateObjCommand(interp, "::tether::uninstall", UninstallCmd, nullptr,
                       nullptr);
  Tcl_CreateObjCommand(interp, "::tether::stats", StatsCmd, nullptr, nullptr);
  return Tcl_PkgProvide(interp, "tether", kVersion);
}
