// Tests for lib/pipeline.cc: filters fed and drained from two threads,
// exit statuses, open modes, reaping on every path (no zombie, no
// descriptor), and close-on-exec.

#include "tether/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "tether/channel.h"

namespace tether {
namespace {

constexpr size_t kMiB = 1 << 20;

std::vector<int> OpenFds() {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  const int own = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    int fd;
    if (absl::SimpleAtoi(e->d_name, &fd) && fd != own) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

// Our children that have exited but were not reaped.
int ZombieChildren() {
  int zombies = 0;
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir)) {
    int pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');  // the name may hold anything
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    std::istringstream(stat.substr(paren + 1)) >> state >> ppid;
    zombies += state == 'Z' && ppid == getpid();
  }
  closedir(dir);
  return zombies;
}

// True when `pid` is no longer a child of ours (it was reaped).
bool Reaped(pid_t pid) {
  return waitpid(pid, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

std::shared_ptr<Pipeline> OpenOrDie(std::vector<std::string> argv,
                                    OpenMode mode = OpenMode::kReadWrite) {
  absl::StatusOr<std::shared_ptr<Pipeline>> p = Pipeline::Open(argv, mode);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : nullptr;
}

// Feeds `input` from a second thread (then half-closes) while this thread
// reads the output to end of stream: neither side can deadlock the other.
std::string Filter(Pipeline& p, const std::string& input) {
  absl::Status written;
  std::thread writer([&] {
    written = p.WriteAll(absl::MakeConstSpan(input));
    if (written.ok()) written = p.Close(Direction::kWrite);
  });
  absl::StatusOr<std::string> out = p.ReadToEnd(4 * kMiB);
  writer.join();
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

TEST(PipelineTest, SortsOneMebibyteFedFromAnotherThread) {
  std::mt19937 rng(7);
  std::vector<std::string> lines;
  std::string input;
  while (input.size() < kMiB) {  // fixed-width digits: any locale agrees
    lines.push_back(absl::StrCat(1000000 + rng() % 9000000, "\n"));
    input += lines.back();
  }
  std::sort(lines.begin(), lines.end());
  auto p = OpenOrDie({"sort"});
  ASSERT_NE(p, nullptr);
  const std::string out = Filter(*p, input);
  EXPECT_TRUE(out == absl::StrJoin(lines, "")) << out.size();
  EXPECT_TRUE(p->Close().ok());
  EXPECT_TRUE(Reaped(p->pid()));
}

TEST(PipelineTest, CatEchoesOneMebibyteOfBinary) {
  std::mt19937 rng(8);
  std::string input(kMiB, '\0');
  for (char& c : input) c = static_cast<char>(rng());
  auto p = OpenOrDie({"cat"});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(Filter(*p, input) == input);
  EXPECT_TRUE(p->readable_open());
  EXPECT_FALSE(p->writable_open());
  EXPECT_TRUE(p->Close().ok());
  EXPECT_TRUE(p->Close().ok());  // idempotent
}

TEST(PipelineTest, ExitCodeIsReported) {
  auto p = OpenOrDie({"sh", "-c", "exit 3"});
  ASSERT_NE(p, nullptr);
  absl::Status s = p->Close();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_EQ(s.message(), "child process exited abnormally: exit code 3");
}

TEST(PipelineTest, KillingSignalIsReported) {
  auto p = OpenOrDie({"sh", "-c", "kill -9 $$"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p->ReadToEnd(100), "");
  absl::Status s = p->Close(Direction::kRead);
  EXPECT_TRUE(s.ok()) << s;  // the write side is still open: not reaped yet
  s = p->Close(Direction::kWrite);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_EQ(s.message(),
            "child process exited abnormally: killed by signal 9 (SIGKILL)");
}

TEST(PipelineTest, MissingProgramIsNotFoundAndLeavesNothing) {
  const std::vector<int> fds = OpenFds();
  absl::StatusOr<std::shared_ptr<Pipeline>> p =
      Pipeline::Open({"tether-no-such-program", "arg"});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound) << p.status();
  EXPECT_NE(p.status().message().find("tether-no-such-program"),
            absl::string_view::npos);
  EXPECT_EQ(OpenFds(), fds);
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(PipelineTest, BadArgvIsInvalidArgument) {
  EXPECT_EQ(Pipeline::Open({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pipeline::Open({"echo", std::string("a\0b", 3)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PipelineTest, ReadModeHasNoWriteSideAndNullStdin) {
  auto p = OpenOrDie({"sh", "-c", "cat; echo done"}, OpenMode::kRead);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->readable_open());
  EXPECT_FALSE(p->writable_open());
  absl::Status s = p->Close(Direction::kWrite);
  EXPECT_EQ(s.message(), "channel wasn't opened for writing");
  EXPECT_EQ(p->Write(absl::MakeConstSpan("x", 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*p->ReadToEnd(100), "done\n");       // cat read /dev/null
  EXPECT_TRUE(p->Close(Direction::kRead).ok());  // the last side: reaps
  EXPECT_TRUE(Reaped(p->pid()));
}

TEST(PipelineTest, WriteModeHasNoReadSide) {
  auto p = OpenOrDie({"sh", "-c", "cat >/dev/null"}, OpenMode::kWrite);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->readable_open());
  char buf[4];
  EXPECT_EQ(p->Read(absl::MakeSpan(buf)).status().message(),
            "channel wasn't opened for reading");
  EXPECT_EQ(p->Close(Direction::kRead).message(),
            "channel wasn't opened for reading");
  EXPECT_TRUE(p->WriteAll(absl::MakeConstSpan("data", 4)).ok());
  EXPECT_TRUE(p->Close(Direction::kWrite).ok());  // the last side: reaps
  EXPECT_TRUE(Reaped(p->pid()));
}

TEST(PipelineTest, NonBlockingReadWithNoOutputIsUnavailable) {
  auto p = OpenOrDie({"cat"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->SetBlocking(false).ok());
  char buf[4];
  EXPECT_EQ(p->Read(absl::MakeSpan(buf)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(p->Close().ok());
}

TEST(PipelineTest, WriteAfterChildClosedStdinIsErrorNotSignal) {
  // The child closes its stdin before it writes: once we read the line,
  // the pipe has no reader (process exit alone does not order the two).
  auto p = OpenOrDie({"sh", "-c", "exec 0<&-; echo closed"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p->ReadToEnd(100), "closed\n");
  absl::StatusOr<size_t> n = p->Write(absl::MakeConstSpan("x", 1));
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition)
      << n.status();  // EPIPE
  EXPECT_TRUE(p->Close().ok());
}

TEST(PipelineTest, DestructorWithoutCloseReaps) {
  pid_t pid;
  {
    auto p = OpenOrDie({"cat"});
    ASSERT_NE(p, nullptr);
    pid = p->pid();
    ASSERT_TRUE(p->WriteAll(absl::MakeConstSpan("x", 1)).ok());
  }
  EXPECT_TRUE(Reaped(pid));
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(PipelineTest, DestructorKillsChildThatIgnoresEof) {
  auto p = OpenOrDie({"sh", "-c", "trap '' TERM; exec sleep 100"});
  ASSERT_NE(p, nullptr);
  const pid_t pid = p->pid();
  const auto start = std::chrono::steady_clock::now();
  p.reset();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(1900));  // the grace period
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_TRUE(Reaped(pid));
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(PipelineTest, NoZombieOrDescriptorAfterManyPipelines) {
  const std::vector<int> fds = OpenFds();
  for (int i = 0; i < 200; ++i) {
    auto p = OpenOrDie({"cat"});
    ASSERT_NE(p, nullptr);
    if (i % 4 == 3) continue;  // destroyed without Close()
    const std::string text = absl::StrCat(i);
    ASSERT_EQ(Filter(*p, text), text);
    ASSERT_TRUE(p->Close().ok());
  }
  EXPECT_EQ(OpenFds(), fds);
  EXPECT_EQ(ZombieChildren(), 0);
}

// Every descriptor tether makes is close-on-exec: a child sees 0, 1, 2, its
// own directory descriptor, and only what this process let it inherit.
TEST(PipelineTest, ChildInheritsOnlyStandardDescriptors) {
  std::vector<std::shared_ptr<Pipeline>> held;
  for (int i = 0; i < 3; ++i) held.push_back(OpenOrDie({"cat"}));
  std::set<int> inheritable = {0, 1, 2};
  for (int fd : OpenFds()) {
    if ((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) inheritable.insert(fd);
  }
  auto ls = OpenOrDie({"ls", "/proc/self/fd"}, OpenMode::kRead);
  ASSERT_NE(ls, nullptr);
  absl::StatusOr<std::string> out = ls->ReadToEnd(10000);
  ASSERT_TRUE(out.ok()) << out.status();
  int extra = 0;
  for (absl::string_view name : absl::StrSplit(*out, '\n', absl::SkipEmpty())) {
    int fd;
    ASSERT_TRUE(absl::SimpleAtoi(name, &fd)) << name;
    extra += inheritable.count(fd) == 0;
  }
  EXPECT_LE(extra, 1) << *out;  // ls's own directory descriptor
  EXPECT_TRUE(ls->Close().ok());
  for (auto& p : held) EXPECT_TRUE(p->Close().ok());
}

}  // namespace
}  // namespace tether
