#include "tests/testing/loopback.h"

#include <dirent.h>
#include <stdio.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/time/clock.h"

namespace tether {
namespace testing {
namespace {

int CountDir(const char* path) {
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - (std::string(path) == "/proc/self/fd" ? 1 : 0);  // the DIR's fd
}

}  // namespace

int CountOpenFds() { return CountDir("/proc/self/fd"); }
int CountThreads() { return CountDir("/proc/self/task"); }

std::vector<pid_t> ThreadIds() {
  std::vector<pid_t> ids;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return ids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ids.push_back(std::atoi(e->d_name));
  }
  closedir(d);
  return ids;
}

long StatusField(const char* name) {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  const size_t len = strlen(name);
  long value = -1;
  char line[256];
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      value = std::strtol(line + len + 1, nullptr, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

bool WaitForThreads(int n, absl::Duration timeout) {
  return WaitFor([n] { return CountThreads() <= n; }, timeout);
}

bool ThreadIsSleeping(pid_t tid) {
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* paren = strrchr(buf, ')');  // the name may contain spaces
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'S';
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= end) return condition();
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace testing
}  // namespace tether
