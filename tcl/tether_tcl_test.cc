// Tests for the Tcl package (tcl/): each test runs Tcl scripts in an
// interpreter embedded here, with Tether_Init() called directly, so the
// package runs under ThreadSanitizer and AddressSanitizer like the rest of
// tether. Every wait is on a condition with a bounded timeout (a Tcl
// `after` that ends the vwait, or a deadline on a counter).

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <tcl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

extern "C" int Tether_Init(Tcl_Interp* interp);

namespace {

// An interpreter with the package loaded and a `wait_for VAR MS` helper:
// vwait on VAR, or set it to "timeout" after MS milliseconds.
class Interp {
 public:
  Interp() : interp_(Tcl_CreateInterp()) {
    EXPECT_EQ(Tether_Init(interp_), TCL_OK);
    Eval(R"(proc wait_for {var ms} {
              upvar #0 $var v
              set id [after $ms [list set ::$var timeout]]
              vwait ::$var
              after cancel $id
              return $v
            })");
  }
  ~Interp() {
    if (interp_ != nullptr) Tcl_DeleteInterp(interp_);
  }
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  // Evaluates `script`; returns its result, or "ERROR: " and the message.
  std::string Eval(const std::string& script) {
    const int rc = Tcl_Eval(interp_, script.c_str());
    std::string result = Tcl_GetStringResult(interp_);
    return rc == TCL_OK ? result : "ERROR: " + result;
  }
  Tcl_Interp* get() { return interp_; }
  void Delete() {
    Tcl_DeleteInterp(interp_);
    interp_ = nullptr;
  }

 private:
  Tcl_Interp* interp_;
};

// A listening socket on 127.0.0.1, port chosen by the kernel; its address
// in *addr.
int Listen(int backlog, sockaddr_in* addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(addr), len), 0);
  EXPECT_EQ(listen(fd, backlog), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len);
  return fd;
}

int Port(const sockaddr_in& addr) { return ntohs(addr.sin_port); }

// A loopback listener whose accept queue is full, so a connect to it stays
// pending (its SYNs are dropped) until cancelled.
class HangingListener {
 public:
  HangingListener() : listener_(Listen(0, &addr_)), port_(Port(addr_)) {
    for (int i = 0; i < 4; i++) {  // fill the queue (backlog 0 holds one)
      const int fd =
          socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_));
      fillers_.push_back(fd);
    }
  }
  ~HangingListener() {
    for (int fd : fillers_) close(fd);
    close(listener_);
  }
  int port() const { return port_; }

 private:
  sockaddr_in addr_;  // first: the initializers below write it
  int listener_;
  int port_;
  std::vector<int> fillers_;
};

int OpenDescriptors() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (readdir(dir) != nullptr) n++;
  closedir(dir);
  return n;
}

int64_t Stat(Interp& interp, const char* key) {
  return std::stoll(
      interp.Eval(absl::StrCat("dict get [tether::stats] ", key)));
}

// Waits (bounded) until no connect of the process is in flight.
bool NothingInFlight(Interp& interp) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Stat(interp, "in_flight") != 0) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// An echo server on loopback, on its own thread (so blocking Tcl calls
// cannot starve it): bytes back as they come, then "DONE\n" at EOF.
class EchoServer {
 public:
  EchoServer() : listener_(Listen(64, &addr_)), port_(Port(addr_)) {
    EXPECT_EQ(pipe2(wake_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoServer() {
    close(wake_[1]);
    thread_.join();
    close(wake_[0]);
    close(listener_);
  }
  int port() const { return port_; }

 private:
  void Run() {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    while (poll(fds.data(), fds.size(), -1) >= 0 && fds[0].revents == 0) {
      if (fds[1].revents != 0) {
        fds.push_back(
            {accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC), POLLIN, 0});
      }
      for (size_t i = 2; i < fds.size(); i++) {
        if (fds[i].revents != 0 && !Echo(fds[i].fd)) {
          close(fds[i].fd);
          fds.erase(fds.begin() + static_cast<long>(i--));
        }
      }
    }
    for (size_t i = 2; i < fds.size(); i++) close(fds[i].fd);
  }
  // Echoes what is there; at EOF says DONE and returns false.
  static bool Echo(int fd) {
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) return write(fd, buf, static_cast<size_t>(n)) == n;
    if (n == 0) (void)!write(fd, "DONE\n", 5);
    return false;
  }

  sockaddr_in addr_;  // first: the initializers below write it
  int listener_;
  int port_;
  int wake_[2];
  std::thread thread_;
};

std::string SetPort(int port) { return absl::StrCat("set port ", port); }

TEST(TetherTclTest, AsyncSocketIsEmptyWhileConnecting) {
  HangingListener hanging;
  Interp tcl;
  tcl.Eval(absl::StrCat("set s [tether::socket -async 127.0.0.1 ",
                        hanging.port(), "]"));
  EXPECT_EQ(tcl.Eval("fconfigure $s -connecting"), "1");
  EXPECT_EQ(tcl.Eval("fconfigure $s -error"), "");
  EXPECT_EQ(tcl.Eval("fconfigure $s -peername"), "");
  EXPECT_EQ(tcl.Eval("fconfigure $s -sockname"), "");
  EXPECT_EQ(tcl.Eval("fconfigure $s -blocking 0; gets $s"), "");
  EXPECT_EQ(tcl.Eval("fblocked $s"), "1");
  EXPECT_EQ(tcl.Eval("close $s"), "");  // cancels the connect
  EXPECT_TRUE(NothingInFlight(tcl));
}

TEST(TetherTclTest, WritableFiresOnTheChannelsThreadWhenConnected) {
  EchoServer echo;
  Interp tcl;
  tcl.Eval(SetPort(echo.port()));
  EXPECT_EQ(tcl.Eval(R"(
    set s [tether::socket -async localhost $port]
    fileevent $s writable {set done [fconfigure $s -error]}
    wait_for done 5000
    list $done [fconfigure $s -connecting] [lindex [fconfigure $s -peername] 2]
  )"),
            absl::StrCat("{} 0 ", tcl.Eval("set port")));
  EXPECT_EQ(tcl.Eval("puts $s hello; flush $s; gets $s"), "hello");
  EXPECT_EQ(tcl.Eval("close $s"), "");
}

TEST(TetherTclTest, PollsConnectingWithoutAnEventLoop) {
  EchoServer echo;
  Interp tcl;
  tcl.Eval(SetPort(echo.port()));
  EXPECT_EQ(tcl.Eval(R"(
    set all {}
    for {set i 0} {$i < 20} {incr i} {lappend all [tether::socket -async 127.0.0.1 $port]}
    set deadline [expr {[clock milliseconds] + 5000}]
    set pending $all
    while {[llength $pending] && [clock milliseconds] < $deadline} {
      set still {}
      foreach s $pending { if {[fconfigure $s -connecting]} {lappend still $s} }
      set pending $still
    }
    set errors {}
    foreach s $all { lappend errors [fconfigure $s -error]; close $s }
    list [llength $pending] [lsort -unique $errors]
  )"),
            "0 {{}}");
}

TEST(TetherTclTest, RefusedConnectReportsTclsErrors) {
  Interp tcl;
  tcl.Eval(R"(
    set l [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $l -sockname] 2]
    close $l
  )");
  EXPECT_EQ(tcl.Eval("tether::socket 127.0.0.1 $port"),
            "ERROR: couldn't open socket: connection refused");
  EXPECT_EQ(tcl.Eval("lrange $errorCode 0 1"), "POSIX ECONNREFUSED");
  EXPECT_EQ(tcl.Eval(R"(
    set s [tether::socket -async 127.0.0.1 $port]
    fileevent $s readable {set done readable}
    wait_for done 5000
    fileevent $s readable {}
    list $done [fconfigure $s -error] [fconfigure $s -error] \
        [fconfigure $s -peername] [catch {gets $s} msg] \
        [string match {error reading "sock*": socket is not connected} $msg]
  )"),
            "readable {connection refused} {} {} 1 1");
  EXPECT_EQ(tcl.Eval("close $s"), "");
}

TEST(TetherTclTest, HalfCloseSendsEofAndKeepsTheReply) {
  EchoServer echo;
  Interp tcl;
  tcl.Eval(SetPort(echo.port()));
  EXPECT_EQ(tcl.Eval(R"(
    set s [tether::socket 127.0.0.1 $port]
    puts $s Hey
    close $s write
    set acc {}
    fileevent $s readable {
      if {[gets $s line] < 0} {set done eof} else {lappend acc $line}
    }
    wait_for done 5000
    list $done $acc [catch {close $s write} msg] $msg
  )"),
            "eof {Hey DONE} 1 {Half-close of write-side not possible, side "
            "not opened or already closed}");
  EXPECT_EQ(tcl.Eval("close $s read"), "");
}

TEST(TetherTclTest, SocketCommandErrorsAreTcls) {
  Interp tcl;
  EXPECT_EQ(tcl.Eval("tether::socket"),
            "ERROR: wrong # args: should be \"tether::socket ?-myaddr addr? "
            "?-myport myport? ?-async? host port\" or \"tether::socket "
            "-server command ?-myaddr addr? port\"");
  EXPECT_EQ(tcl.Eval("tether::socket -bogus x 1"),
            "ERROR: bad option \"-bogus\": must be -async, -myaddr, -myport, "
            "or -server");
  EXPECT_EQ(tcl.Eval("tether::socket -async -server x 1"),
            "ERROR: cannot set -async option for server sockets");
  EXPECT_EQ(tcl.Eval("tether::socket localhost 70000"),
            "ERROR: couldn't open socket: port number too high");
  EXPECT_EQ(tcl.Eval("tether::socket -async -myaddr 192.0.2.42 127.0.0.1 9"),
            "ERROR: couldn't open socket: cannot assign requested address");
}

TEST(TetherTclTest, InstallReplacesOnlyTheClientSocket) {
  EchoServer echo;
  Interp tcl;
  tcl.Eval(SetPort(echo.port()));
  const int64_t before = Stat(tcl, "submitted");
  EXPECT_EQ(tcl.Eval("tether::install; tether::install"), "");
  EXPECT_EQ(tcl.Eval(R"(
    set l [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set s [socket 127.0.0.1 $port]
    puts $s ok; flush $s
    set r [gets $s]
    close $s; close $l
    set r
  )"),
            "ok");
  EXPECT_EQ(Stat(tcl, "submitted"), before + 1);
  EXPECT_EQ(tcl.Eval("tether::uninstall; close [socket 127.0.0.1 $port]"), "");
  EXPECT_EQ(Stat(tcl, "submitted"), before + 1);  // Tcl's own socket again
}

TEST(TetherTclTest, InterpDeleteCancelsPendingConnectsAndLeaksNothing) {
  HangingListener hanging;
  Interp observer;
  const int descriptors = OpenDescriptors();
  Interp child;
  child.Eval(
      absl::StrCat("tether::install; for {set i 0} {$i < 20} {incr i} "
                   "{socket -async 127.0.0.1 ",
                   hanging.port(), "}"));
  EXPECT_GE(Stat(observer, "in_flight"), 20);
  child.Delete();
  EXPECT_TRUE(NothingInFlight(observer));
  // A cancelled worker closes its descriptor once its connect() returns.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (OpenDescriptors() != descriptors && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(OpenDescriptors(), descriptors);
}

TEST(TetherTclTest, EachThreadGetsItsOwnEvents) {
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (std::string& result : results) {
    threads.emplace_back([&result] {
      {
        EchoServer echo;
        Interp tcl;
        tcl.Eval(SetPort(echo.port()));
        result = tcl.Eval(R"(
        set s [tether::socket -async 127.0.0.1 $port]
        fconfigure $s -blocking 0 -buffering line
        fileevent $s writable {
          fileevent $s writable {}
          puts $s threaded
          fileevent $s readable {set done [gets $s]}
        }
        wait_for done 5000
        close $s
        set done
      )");
      }
      Tcl_FinalizeThread();  // as a Tcl thread ends: its notifier goes
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& result : results) EXPECT_EQ(result, "threaded");
}

}  // namespace

int main(int argc, char** argv) {
  Tcl_FindExecutable(argv[0]);
  testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  // Exit with connects pending: the exit handler must cancel them and join
  // the workers (a hang here fails the test by its timeout).
  HangingListener hanging;
  Tcl_Interp* interp = Tcl_CreateInterp();
  Tether_Init(interp);
  Tcl_Eval(
      interp,
      absl::StrCat("tether::socket -async 127.0.0.1 ", hanging.port()).c_str());
  Tcl_Finalize();
  return rc;
}
