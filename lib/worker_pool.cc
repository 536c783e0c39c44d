#include "lib/worker_pool.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/cpu_relax.h"
#include "lib/thread.h"

namespace tether {
namespace internal {
namespace {

// How long an idle worker polls the queue before it blocks. A blocking pop
// costs a futex wake-up on the submitter's path (tens of microseconds here);
// a worker that finished a job usually gets the next one sooner than this.
// (-DTETHER_POOL_NO_SPIN: no polling, for the A/B of docs/performance.md
// §5.7; every idle worker parks at once.)
#ifdef TETHER_POOL_NO_SPIN
constexpr absl::Duration kIdleSpin = absl::ZeroDuration();
#else
constexpr absl::Duration kIdleSpin = absl::Microseconds(50);
#endif

// Worker stacks come from chunks of this many slots (one mmap() each).
constexpr size_t kMaxChunkSlots = 64;
// Larger stacks are left to pthread_create().
constexpr size_t kMaxOwnStack = size_t{64} << 20;
// madvise(MADV_GUARD_INSTALL), Linux 6.13+ (not in older headers).
constexpr int kMadvGuardInstall = 102;

// The starter keeps the descriptor table this many times the live workers
// ahead, checked each time the pool doubles from kFdTableFirstCheck.
constexpr int kFdTableAhead = 4;
constexpr int kFdTableFirstCheck = 256;

// The starter stays pinned (StarterLoop()) until this many starts in a row
// found no new request.
constexpr int kQuietStartsToUnpin = 32;

// Worker::wake.
constexpr uint32_t kAsleep = 0;
constexpr uint32_t kWoken = 1;        // take one task, or park again
constexpr uint32_t kWokenToSpin = 2;  // counted in spinning_: poll the queue

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// Pins the calling thread to one CPU of `allowed` other than `avoid`: the
// one it runs on if it can. Returns that CPU, or -1 (left unpinned).
int PinAwayFrom(int avoid, const cpu_set_t& allowed) {
  int cpu = sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
  for (int i = 0;
       i < CPU_SETSIZE && (cpu == avoid || !CPU_ISSET(cpu, &allowed)); ++i) {
    cpu = (cpu + 1) % CPU_SETSIZE;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof one, &one) == 0 ? cpu : -1;
}

// Makes room for descriptor `fd` in this process's table now. The kernel
// grows the table when a new descriptor does not fit, and in a process with
// threads each growth waits for an RCU grace period (milliseconds) while
// every other thread opening a descriptor blocks: at 10,000 pending
// connects, hundreds of workers in socket() woke together and kept
// Connect()'s caller off its CPU for up to 9 ms. Grown here, the wait is
// the starter's, and it makes no worker meanwhile: few threads are in
// socket() then. A no-op when the table is large enough, or `fd` is past
// RLIMIT_NOFILE.
void GrowFdTable(int fd) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      static_cast<rlim_t>(fd) >= limit.rlim_cur) {
    return;
  }
  const int any = eventfd(0, EFD_CLOEXEC);
  if (any < 0) return;
  // The lowest free descriptor >= fd: never one in use.
  const int high = fcntl(any, F_DUPFD_CLOEXEC, fd);
  if (high >= 0) close(high);
  close(any);
}

// Whether madvise(MADV_GUARD_INSTALL) works here (Linux 6.13+).
bool HaveGuardRegions() {
  static const bool have = [] {
    const size_t page = PageSize();
    void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    const bool ok = madvise(p, page, kMadvGuardInstall) == 0;
    munmap(p, 2 * page);
    return ok;
  }();
  return have;
}

// The static TLS of every loaded module: glibc carves it (and the thread
// descriptor) out of the top of a thread's stack, a stack of ours included.
size_t StaticTlsBytes() {
  static const size_t bytes = [] {
    size_t sum = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_TLS) continue;
            const size_t align = std::max<size_t>(ph.p_align, 1);
            *static_cast<size_t*>(data) +=
                (ph.p_memsz + align - 1) / align * align;
          }
          return 0;
        },
        &sum);
    return sum;
  }();
  return bytes;
}

// The usable bytes of a worker stack of ours, or 0 to leave stacks to
// pthread_create(): for huge stacks, and when the static TLS would take a
// large share of the stack (sanitizers: TSan's is about 900 KiB; the
// sanitizers grow a stack they allocate, never one given to them).
size_t StackBytes(size_t stack_size) {
#ifdef TETHER_POOL_GLIBC_STACKS  // the A/B of docs/performance.md §5.7
  if (stack_size > 0) return 0;
#endif
  const size_t page = PageSize();
  size_t s = std::max<size_t>(stack_size, PTHREAD_STACK_MIN);
  if (s > kMaxOwnStack || StaticTlsBytes() > s / 4) return 0;
  return (s + page - 1) / page * page;
}

// A parked worker sleeps on its own futex word: one system call to wake it,
// no mutex (a condition variable signalled under its mutex costs a second
// futex call when the woken thread blocks on that mutex). The word is an
// atomic: TSan sees the hand-over through it, not through the futex.
void FutexWait(std::atomic<uint32_t>* word, uint32_t value) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE,
          value, nullptr, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1,
          nullptr, nullptr, 0);
}

// A number from a /proc/sys file; -1 when unreadable.
int64_t ReadProcNumber(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return -1;
  long long v = -1;
  if (std::fscanf(f, "%lld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

// The starter's stack: it only calls pthread_create() and mmap().
constexpr size_t kStarterStack = 64 * 1024;

}  // namespace

const ThreadCap& SystemThreadCap() {
  static const ThreadCap* cap = [] {
    // The share: a quarter of the lowest limit stays for everyone else
    // (this process's other threads, other processes, the shell to kill
    // us); docs/performance.md, "Capacity".
    int64_t lowest = INT_MAX;
    std::string why = "no system limit";
    auto consider = [&](int64_t limit, const std::string& name) {
      if (limit > 0 && limit < lowest) {
        lowest = limit;
        why = absl::StrCat(name, " ", limit);
      }
    };
    consider(ReadProcNumber("/proc/sys/kernel/pid_max"), "kernel.pid_max");
    consider(ReadProcNumber("/proc/sys/kernel/threads-max"),
             "kernel.threads-max");
    rlimit nproc;
    if (getrlimit(RLIMIT_NPROC, &nproc) == 0 &&
        nproc.rlim_cur != RLIM_INFINITY &&
        nproc.rlim_cur < static_cast<rlim_t>(INT_MAX)) {
      consider(static_cast<int64_t>(nproc.rlim_cur), "RLIMIT_NPROC");
    }
    const int threads =
        lowest == INT_MAX ? INT_MAX : static_cast<int>(lowest / 4 * 3);
    return new ThreadCap{
        threads, absl::StrCat("3/4 of ", why, ": ", threads, " threads")};
  }();
  return *cap;
}

thread_local const WorkerPool* WorkerPool::tls_pool_ = nullptr;
thread_local WorkerPool::Worker* WorkerPool::tls_worker_ = nullptr;

struct WorkerPool::Worker {
  pthread_t thread;
  void* stack = nullptr;  // lowest address of its stack slot, or nullptr
  size_t index = 0;       // in all_, under mu_
  // Pop(): kAsleep while parked; WakeOne()/Shutdown() store kWoken or
  // kWokenToSpin and wake it.
  std::atomic<uint32_t> wake{kAsleep};
  Worker* next_exited = nullptr;  // in exited_
  Worker* next_parked = nullptr;  // in parked_, under park_mu_
  bool counted_starting = false;  // made by the starter, in starting_
  bool born_pinned = false;       // made by the starter while pinned
};

WorkerPool::WorkerPool(const Options& options)
    : options_(options),
      stack_bytes_(StackBytes(options.stack_size)),
      slot_bytes_(stack_bytes_ == 0 ? 0 : stack_bytes_ + PageSize()),
      system_cap_(&SystemThreadCap()),
      learned_cap_(INT_MAX) {
  queue_.set_capacity(static_cast<std::ptrdiff_t>(options_.max_queued));
}

WorkerPool::~WorkerPool() {
  Shutdown();
  if (starter_left_) {  // It ran Shutdown(); it has left its task.
    MutexLock lock(&mu_);
    pthread_join(starter_, nullptr);
  }
  if (shut_down_by_ != nullptr) {  // It ran Shutdown(); it has left its task.
    pthread_join(shut_down_by_->thread, nullptr);
    delete shut_down_by_;
    FreeStacks();
  }
  // Tasks a Submit() racing Shutdown() queued after its last look.
  AbandonQueued();
}

bool WorkerPool::OnWorkerThread() const { return tls_pool_ == this; }

void WorkerPool::RestoreAffinity() const {
  if (sched_setaffinity(0, sizeof affinity_, &affinity_) != 0) {
    // The mask no longer fits (the cpuset changed): every CPU the kernel
    // allows, rather than staying on one.
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &all);
    sched_setaffinity(0, sizeof all, &all);
  }
}

absl::Status WorkerPool::Submit(std::unique_ptr<Task>* task,
                                bool only_if_idle) {
  // relaxed: a fast path only; StartWorker() re-checks under mu_, and a task
  // queued after Stop() began is abandoned by it.
  if (stopping_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("connector is shutting down");
  }
  bool reserved = false;
  // acq_rel: claims one idle worker (or records one more queued task).
  if (balance_.fetch_sub(1, std::memory_order_acq_rel) <= 0) {
    absl::Status s = ReserveWorker(&reserved);
    if (s.ok() && !reserved && only_if_idle) {
      s = absl::UnavailableError("no idle worker");
    }
    // A hand-off that must start at once (a race's attempt, on a worker)
    // starts its thread here; so does every start when no starter runs.
    if (s.ok() && reserved && (only_if_idle || !EnsureStarter())) {
      reserved = false;
      StartWorker(&s);
    }
    if (!s.ok()) {
      balance_.fetch_add(1, std::memory_order_acq_rel);  // undo the claim
      return s;
    }
  }
  if (!TryPush(task->get())) {
    balance_.fetch_add(1, std::memory_order_acq_rel);
    if (reserved) live_.fetch_sub(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many queued connects (max_queued ", options_.max_queued, ")"));
  }
  Push(task->release());
  // After the push: a start that fails takes a queued task to fail.
  if (reserved) RequestStart();
  return absl::OkStatus();
}

absl::Status WorkerPool::ReserveWorker(bool* reserved) {
  // relaxed: the count only bounds the pool; thread start/join order the
  // rest.
  int n = live_.load(std::memory_order_relaxed);
  do {
    if (n >= options_.max_workers) return absl::OkStatus();  // wait for one
    if (n >= system_cap_->threads) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "cannot start a worker thread: the pool holds its share of the "
          "system's threads (",
          system_cap_->why, ")"));
    }
    if (n >= learned_cap_.load(std::memory_order_relaxed)) {
      MutexLock lock(&mu_);
      return start_error_.ok()
                 ? absl::ResourceExhaustedError("cannot start a worker thread")
                 : start_error_;
    }
  } while (!live_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  *reserved = true;
  return absl::OkStatus();
}

bool WorkerPool::EnsureStarter() {
  int state = starter_state_.load(std::memory_order_acquire);
  if (state == 0) {
    MutexLock lock(&mu_);
    state = starter_state_.load(std::memory_order_relaxed);
    if (state == 0 && !stopping_.load(std::memory_order_relaxed)) {
      absl::StatusOr<pthread_t> t =
          StartThread(options_.ops, kStarterStack, [this] { StarterLoop(); });
      if (t.ok()) starter_ = *t;
      state = t.ok() ? 1 : 2;
      starter_state_.store(state, std::memory_order_release);
    }
  }
  return state == 1;
}

void WorkerPool::RequestStart() {
  // acq_rel: the starter reads the reservation after taking it. Only the
  // request that finds the starter idle (0 wanted) wakes it: a burst of
  // Connect()s costs one futex call, and none while the starter is busy.
  // Never counted once stopped: the starter gives back every reservation
  // it finds counted then, so this one would be given back twice.
  uint32_t before = starts_wanted_.load(std::memory_order_relaxed);
  do {
    if ((before & kStopStarter) != 0) {
      // Stopped: no start is made; the queued task is abandoned.
      live_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
  } while (!starts_wanted_.compare_exchange_weak(before, before + 1,
                                                 std::memory_order_acq_rel,
                                                 std::memory_order_relaxed));
  // The starter's threads are born elsewhere (StarterLoop()). sched_getcpu()
  // reads the rseq area: no system call.
  submitter_cpu_.store(sched_getcpu(), std::memory_order_relaxed);
  if (before == 0) FutexWake(&starts_wanted_);
}

void WorkerPool::StarterLoop() {
  tls_pool_ = this;  // OnWorkerThread(): StartFailed() may run a callback
  // Before the first worker: the workers it makes read affinity_.
  const bool can_pin =
      sched_getaffinity(0, sizeof affinity_, &affinity_) == 0 &&
      CPU_COUNT(&affinity_) > 1;
  int pinned_to = -1;  // the CPU, while pinned
  auto unpin = [&] {
    if (pinned_to >= 0) RestoreAffinity();
    pinned_to = -1;
  };
  // starts_wanted_ as the last decrement left it, and how many starts in a
  // row found no request made since (the submitters have stopped).
  uint32_t left = 0;
  int quiet = 0;
  int fd_table_checked_at = kFdTableFirstCheck / 2;
  for (;;) {
    uint32_t wanted = starts_wanted_.load(std::memory_order_acquire);
    if ((wanted & kStopStarter) != 0) {
      // Reservations never started: no longer live.
      live_.fetch_sub(static_cast<int>(wanted & ~kStopStarter),
                      std::memory_order_relaxed);
      return;
    }
    if (wanted == 0) {
      unpin();
      FutexWait(&starts_wanted_, 0);
      continue;
    }
    // While Submit()s keep coming, starts run on one CPU, not the last
    // submitter's: a new thread inherits its creator's affinity, so it is
    // born there (and widens its own at once, in WorkerLoop()). Left to the
    // scheduler, new threads landed on the submitter's CPU ahead of it
    // (EEVDF: a new thread's first deadline is half a slice away), and a
    // burst of them kept Connect()'s caller off its CPU for milliseconds
    // (docs/performance.md §6.9). Once the submitters stop, the backlog of
    // starts is born anywhere again: pinned, it took twice as long.
    quiet = wanted > left ? 0 : quiet + 1;
    if (can_pin && quiet < kQuietStartsToUnpin) {
      const int avoid = submitter_cpu_.load(std::memory_order_relaxed);
      if (pinned_to < 0 || pinned_to == avoid) {
        pinned_to = PinAwayFrom(avoid, affinity_);
      }
    } else {
      unpin();
    }
    JoinExited();
    // Still needed? A busy worker that went idle since the request may
    // have taken the task: then the start is dropped (an idle worker more
    // would only cost wake-ups: at K=64 the pool grew to 2.5x K without
    // this check, and each connect paid 2 more context switches).
    // starting_: workers made but not yet counted in balance_.
    if (balance_.load(std::memory_order_acquire) +
            starting_.load(std::memory_order_acquire) >=
        0) {
      live_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      starting_.fetch_add(1, std::memory_order_acq_rel);
      const int live = live_.load(std::memory_order_relaxed);
      if (live >= 2 * fd_table_checked_at) {
        fd_table_checked_at = live;
        GrowFdTable(kFdTableAhead * live);
      }
      absl::Status error;
      if (!StartWorker(&error, /*counted_starting=*/true,
                       /*born_pinned=*/pinned_to >= 0)) {
        starting_.fetch_sub(1, std::memory_order_acq_rel);
        if (!stopping_.load(std::memory_order_relaxed)) StartFailed(error);
      }
    }
    left = starts_wanted_.fetch_sub(1, std::memory_order_acq_rel) - 1;
  }
}

void WorkerPool::StartFailed(const absl::Status& error) {
  {
    MutexLock lock(&mu_);
    start_error_ = error;
  }
  // Until a worker exits, Submit() refuses to grow past what we have.
  learned_cap_.store(live_.load(std::memory_order_relaxed),
                     std::memory_order_relaxed);
  // The worker was reserved for one queued task: fail one (any; they are
  // alike). Popping it consumes it as that worker would have: balance_ +1.
  balance_.fetch_add(1, std::memory_order_acq_rel);
  Task* task = nullptr;
  if (!TryPop(&task)) {
    // An idle worker took it meanwhile (it counted itself).
    balance_.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  if (task == nullptr) {  // a retirement signal: put it back
    if (!TryPush(nullptr)) balance_.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  task->Fail(error);
  delete task;
}

void* WorkerPool::TakeStackLocked() {
  if (!free_stacks_.empty()) {
    void* s = free_stacks_.back();
    free_stacks_.pop_back();
    return s;
  }
  if (slot_bytes_ == 0 || !own_stacks_) return nullptr;
  if (chunks_.empty() || chunk_used_ == chunk_slots_) {
    // Chunks grow 1, 2, 4, ... up to kMaxChunkSlots slots (and never past
    // max_workers), so a small pool reserves little address space.
    size_t slots =
        chunks_.empty() ? 1 : std::min(chunk_slots_ * 2, kMaxChunkSlots);
    slots = std::min<size_t>(slots, std::max(1, options_.max_workers));
    // MAP_NORESERVE: address space only; a stack's pages are allocated as
    // its thread touches them. Without guard regions (below), each slot's
    // stack is made accessible by mprotect() when first used.
    void* base = mmap(nullptr, slots * slot_bytes_,
                      HaveGuardRegions() ? PROT_READ | PROT_WRITE : PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
      own_stacks_ = false;  // leave stacks to pthread_create() from now on
      return nullptr;
    }
    // Never huge pages: one touched stack page must not cost 2 MiB.
    madvise(base, slots * slot_bytes_, MADV_NOHUGEPAGE);
    chunks_.push_back(Chunk{base, slots * slot_bytes_});
    chunk_slots_ = slots;
    chunk_used_ = 0;
  }
  char* slot =
      static_cast<char*>(chunks_.back().base) + chunk_used_ * slot_bytes_;
  // The slot's first page is its guard. A guard region lives in the page
  // tables, so the chunk stays one mapping and munmap() frees all its
  // stacks at once; without them, the guard is a PROT_NONE page and each
  // stack a mapping of its own (as glibc's are).
  if (HaveGuardRegions() ? madvise(slot, PageSize(), kMadvGuardInstall) != 0
                         : mprotect(slot + PageSize(), stack_bytes_,
                                    PROT_READ | PROT_WRITE) != 0) {
    return nullptr;  // (this slot is wasted; a later call may succeed)
  }
  ++chunk_used_;
  return slot;
}

void WorkerPool::ReturnStackLocked(void* stack) {
  if (stack != nullptr) free_stacks_.push_back(stack);
}

size_t WorkerPool::Queued() const {
  const std::ptrdiff_t n = queue_.size();
  return n > 0 ? static_cast<size_t>(n) : 0;
}

bool WorkerPool::StartWorker(absl::Status* error, bool counted_starting,
                             bool born_pinned) {
  JoinExited();
  // Under mu_, with the stopping_ check: Stop() sets stopping_ under mu_,
  // and Shutdown() takes its snapshot of all_ under mu_ after that, so
  // every worker is either in that snapshot (and joined) or never starts.
  MutexLock lock(&mu_);
  auto* w = new Worker;
  w->counted_starting = counted_starting;
  w->born_pinned = born_pinned;
  absl::StatusOr<pthread_t> t;
  if (stopping_.load(std::memory_order_relaxed)) {
    t = absl::CancelledError("connector is shutting down");
  } else {
    w->stack = TakeStackLocked();
    auto fn = [this, w] { WorkerLoop(w); };
    t = w->stack != nullptr
            ? StartThreadOnStack(options_.ops,
                                 static_cast<char*>(w->stack) + PageSize(),
                                 stack_bytes_, fn)
            : StartThread(options_.ops, options_.stack_size, fn);
  }
  if (!t.ok()) {
    ReturnStackLocked(w->stack);
    delete w;
    live_.fetch_sub(1, std::memory_order_relaxed);
    *error =
        t.status().code() == absl::StatusCode::kCancelled
            ? t.status()
            : absl::ResourceExhaustedError(absl::StrCat(
                  t.status().message(), " (", all_.size(),
                  " worker threads in this pool; ", system_cap_->why, ")"));
    return false;
  }
  w->thread = *t;
  w->index = all_.size();
  all_.push_back(w);
  return true;
}

void WorkerPool::WorkerLoop(Worker* self) {
  tls_pool_ = this;
  tls_worker_ = self;
  // Before the first idle count: the starter may then briefly count this
  // worker in neither (and start one too many), never in both.
  if (self->counted_starting) starting_.fetch_sub(1, std::memory_order_acq_rel);
  if (self->born_pinned) RestoreAffinity();  // see StarterLoop()
  for (;;) {
    balance_.fetch_add(1, std::memory_order_acq_rel);  // idle: one item is mine
    Task* task = Pop(self);
    if (task == nullptr) break;  // Retired, or the pool stops.
    task->Run();
    delete task;
    // relaxed: a shortcut; Pop() checks again where it matters.
    if (stopping_.load(std::memory_order_relaxed)) break;
  }
  Exit(self);
}

void WorkerPool::Exit(Worker* self) {
  live_.fetch_sub(1, std::memory_order_relaxed);
  // A thread is free again: growth may be tried again.
  if (learned_cap_.load(std::memory_order_relaxed) != INT_MAX) {
    learned_cap_.store(INT_MAX, std::memory_order_relaxed);
  }
  // release: JoinExited() reads the record after taking the list. The pool
  // outlives this push: Shutdown() joins every thread before it returns.
  Worker* head = exited_.load(std::memory_order_relaxed);
  do {
    self->next_exited = head;
  } while (!exited_.compare_exchange_weak(head, self, std::memory_order_release,
                                          std::memory_order_relaxed));
}

Task* WorkerPool::Pop(Worker* self) {
  Task* task = nullptr;
  // seq_cst on spinning_ and the fences: a Dekker hand-shake with Push().
  // Either Push() sees this worker spinning, or this worker, having stopped,
  // sees the pushed task (in the re-check before it parks).
  // Only the worker that becomes the spinner touches spinning_ (a count a
  // submitter saw must belong to a worker that will re-check the queue).
  int none = 0;
  bool spinner =
      spinning_.compare_exchange_strong(none, 1, std::memory_order_seq_cst);
  for (;;) {
    const bool was_spinner = spinner;
    if (spinner && Spin(&task)) return task;
    // Park. The re-check under the lock: Shutdown() sets stopping_ before
    // it takes park_mu_ to wake the parked, so a worker parking later sees
    // it here; a task pushed after this check finds this worker parked.
    bool took;
    {
      MutexLock lock(&park_mu_);
      if (stopping_.load(std::memory_order_relaxed)) return nullptr;
      // Counted parked before the re-check (seq_cst, a Dekker hand-shake
      // with WakeOne()'s unlocked look): either a Push() sees the count and
      // takes park_mu_ to wake someone, or this re-check sees its task.
      self->wake.store(kAsleep, std::memory_order_relaxed);
      self->next_parked = parked_;
      parked_ = self;
      parked_count_.fetch_add(1, std::memory_order_seq_cst);
      took = TryPop(&task);
      if (took) {  // still first: nobody could unpark it meanwhile
        parked_ = self->next_parked;
        parked_count_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (took) {
      // Tasks pushed just before this worker stopped spinning found it
      // spinning and woke no one; this check sees them, but takes one.
      if (was_spinner) WakeForQueued();
      return task;
    }
    uint32_t woken;
    // acquire: pairs with the waker's release store.
    while ((woken = self->wake.load(std::memory_order_acquire)) == kAsleep) {
      FutexWait(&self->wake, kAsleep);
    }
    spinner = woken == kWokenToSpin;  // counted in spinning_ by the waker
    if (stopping_.load(std::memory_order_acquire)) {
      if (spinner) spinning_.fetch_sub(1, std::memory_order_seq_cst);
      return nullptr;
    }
    if (!spinner && TryPop(&task)) {
      WakeForQueued();  // passes the wake-ups on: see WakeForQueued()
      return task;
    }
  }
}

bool WorkerPool::Spin(Task** task) {
  const absl::Time end = absl::Now() + kIdleSpin;
  for (int i = 0;; ++i) {
    if (TryPop(task)) {
      spinning_.fetch_sub(1, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      // Tasks queued behind this one found a spinner and woke no one (a
      // burst of Connect() calls makes one wake-up, not one each).
      WakeForQueued();
      return true;
    }
    if ((i & 15) == 15 &&
        (absl::Now() >= end || stopping_.load(std::memory_order_relaxed))) {
      break;
    }
    CpuRelax();
  }
  spinning_.fetch_sub(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return false;
}

void WorkerPool::WakeForQueued() {
  size_t n = std::min<size_t>(Queued(), 2);
  if (n > 0 && spinning_.load(std::memory_order_seq_cst) == 0) {
    if (!WakeOne(/*to_spin=*/true)) return;  // nobody is parked
    --n;
  }
  for (; n > 0 && WakeOne(/*to_spin=*/false); --n) {
  }
}

void WorkerPool::Push(Task* /*task*/) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed after the fence: see Pop(). With no spinner, wake a parked
  // worker to spin: the caller's next Connect() finds it spinning (even
  // before it runs) and makes no system call.
  if (spinning_.load(std::memory_order_relaxed) == 0) WakeOne(/*to_spin=*/true);
}

bool WorkerPool::WakeOne(bool to_spin) {
  // No lock while nobody is parked (the pool busy, or growing): a caller's
  // Connect() then never waits for a worker preempted inside park_mu_.
  // seq_cst: see Pop(); the callers fenced after queueing.
  if (parked_count_.load(std::memory_order_seq_cst) == 0) return false;
  Worker* w;
  {
    MutexLock lock(&park_mu_);
    if (parked_ == nullptr) return false;
    w = parked_;  // LIFO: the most recently active worker is warmest.
    parked_ = w->next_parked;
    parked_count_.fetch_sub(1, std::memory_order_relaxed);
    if (to_spin) spinning_.fetch_add(1, std::memory_order_seq_cst);
  }
  // Outside the lock: the woken worker takes no lock of ours on its way out
  // of Pop(). Once the store is seen, the worker may run, exit and be
  // joined and freed before FutexWake() is made: a futex call on a stale
  // address touches no memory of ours and at worst wakes a waiter there
  // spuriously, which every futex waiter (ours, glibc's) tolerates.
  w->wake.store(to_spin ? kWokenToSpin : kWoken, std::memory_order_release);
  FutexWake(&w->wake);
  return true;
}

void WorkerPool::RetireIdle(int n) {
  for (int i = 0; i < n; ++i) {
    int64_t b = balance_.load(std::memory_order_acquire);
    do {
      if (b <= 0) break;
    } while (
        !balance_.compare_exchange_weak(b, b - 1, std::memory_order_acq_rel));
    if (b <= 0 || !TryPush(nullptr)) break;
    Push(nullptr);
  }
  JoinExited();
}

int WorkerPool::idle() const {
  return static_cast<int>(
      std::max<int64_t>(0, balance_.load(std::memory_order_relaxed)));
}

int WorkerPool::workers() const {
  return live_.load(std::memory_order_relaxed);
}

void WorkerPool::JoinExited() {
  if (exited_.load(std::memory_order_relaxed) == nullptr) return;
  std::vector<Worker*> exited;
  {
    MutexLock lock(&mu_);
    // Once stopping, Shutdown() joins every worker still in all_.
    if (stopping_.load(std::memory_order_relaxed)) return;
    // acquire: pairs with Exit()'s release push.
    for (Worker* w = exited_.exchange(nullptr, std::memory_order_acquire);
         w != nullptr; w = w->next_exited) {
      Worker* last = all_.back();  // O(1) removal from all_
      all_[w->index] = last;
      last->index = w->index;
      all_.pop_back();
      exited.push_back(w);
    }
  }
  for (Worker* w : exited) pthread_join(w->thread, nullptr);
  {
    MutexLock lock(&mu_);
    for (Worker* w : exited) {
      // The stack is free again; its pages need not stay resident.
      if (w->stack != nullptr) {
        madvise(static_cast<char*>(w->stack) + PageSize(), stack_bytes_,
                MADV_DONTNEED);
      }
      ReturnStackLocked(w->stack);
      delete w;
    }
  }
}

void WorkerPool::Stop() {
  {
    MutexLock lock(&mu_);  // See StartWorker().
    if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  }
  // The starter makes no more threads (StartWorker() sees stopping_).
  starts_wanted_.fetch_or(kStopStarter, std::memory_order_acq_rel);
  FutexWake(&starts_wanted_);
  // Every worker stops after its current task: the poller sees stopping_
  // in its loop, a parked worker is woken here, a busy one sees stopping_
  // when it parks (under park_mu_, after this critical section) or here.
  Worker* parked;
  {
    MutexLock lock(&park_mu_);
    parked = parked_;
    parked_ = nullptr;
    parked_count_.store(0, std::memory_order_relaxed);
  }
  while (parked != nullptr) {
    Worker* w = parked;
    parked = w->next_parked;  // before the store: w may then exit
    w->wake.store(kWoken, std::memory_order_release);
    FutexWake(&w->wake);
  }
  AbandonQueued();
}

void WorkerPool::Shutdown() {
  Stop();
  std::vector<Worker*> workers;
  bool join_starter;
  {
    MutexLock lock(&mu_);
    if (joined_) return;
    joined_ = true;
    workers.swap(all_);
    join_starter = starter_state_.load(std::memory_order_relaxed) == 1;
  }
  // Never this thread: joining itself would fail, and its stack must stay
  // mapped until it has exited (~WorkerPool, on another thread).
  if (OnWorkerThread()) {
    if (tls_worker_ == nullptr) {  // the starter (a failed start's callback)
      starter_left_ = true;
      join_starter = false;
    } else {
      shut_down_by_ = tls_worker_;
      workers.erase(std::find(workers.begin(), workers.end(), tls_worker_));
    }
  }
  if (join_starter) {
    pthread_t starter;
    {
      MutexLock lock(&mu_);
      starter = starter_;
    }
    pthread_join(starter, nullptr);
  }
  // The joins are cheap: the stacks are ours (no munmap() per thread), and
  // each exiting thread has long been running on the other CPU.
  for (Worker* w : workers) pthread_join(w->thread, nullptr);
  exited_.store(nullptr, std::memory_order_relaxed);  // all joined above
  for (Worker* w : workers) delete w;
  if (shut_down_by_ == nullptr) FreeStacks();
  // Tasks a racing Submit() queued after Stop() drained the queue.
  AbandonQueued();
}

void WorkerPool::AbandonQueued() {
  Task* task = nullptr;
  while (queue_.try_pop(task)) {
    if (task == nullptr) continue;  // a retirement signal
    task->Abandon();
    delete task;
  }
}

void WorkerPool::FreeStacks() {
  MutexLock lock(&mu_);
  for (const Chunk& c : chunks_) munmap(c.base, c.size);
  chunks_.clear();
  free_stacks_.clear();
}

}  // namespace internal
}  // namespace tether
