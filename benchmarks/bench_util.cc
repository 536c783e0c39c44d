#include "benchmarks/bench_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace tether {
namespace bench {
namespace {

[[noreturn]] void Die(const char* what) {
  perror(what);
  abort();
}

int64_t KibOf(const char* path, const char* key) {
  std::ifstream in(path);
  std::string line;
  const size_t n = strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      return strtoll(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

const char* LoopbackIp(int family) {
  return family == AF_INET6 ? "::1" : "127.0.0.1";
}

int RawConnect(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    Die("bench: raw connect");
  }
  return fd;
}

void CloseRst(int fd) {
  const linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

void CloseRst(Socket& socket) {
  const int fd = socket.fd();
  if (fd >= 0) {
    const linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  socket.Close().IgnoreError();
}

uint64_t RaiseFdLimit(uint64_t n) {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < n) {
    r.rlim_cur = n;
    if (r.rlim_max < n) r.rlim_max = n;  // Needs CAP_SYS_RESOURCE.
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
      getrlimit(RLIMIT_NOFILE, &r);
      r.rlim_cur = r.rlim_max;  // The most we may have.
      setrlimit(RLIMIT_NOFILE, &r);
    }
  }
  getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

int64_t StatusKib(const char* key) { return KibOf("/proc/self/status", key); }
int64_t MeminfoKib(const char* key) { return KibOf("/proc/meminfo", key); }

int CountSynSent(uint16_t port) {
  char suffix[8];
  snprintf(suffix, sizeof suffix, ":%04X", port);
  int n = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // Header.
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, st;
      fields >> sl >> local >> remote >> st;
      if (st == "02" && remote.size() > 5 &&
          remote.compare(remote.size() - 5, 5, suffix) == 0) {
        ++n;
      }
    }
  }
  return n;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::lround(p / 100.0 * (v.size() - 1)));
  return v[std::min(i, v.size() - 1)];
}

}  // namespace bench
}  // namespace tether
