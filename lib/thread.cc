#include "lib/thread.h"

#include <limits.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tether {
namespace internal {
namespace {

void* Trampoline(void* arg) {
  std::unique_ptr<absl::AnyInvocable<void()>> fn(
      static_cast<absl::AnyInvocable<void()>*>(arg));
  (*fn)();
  return nullptr;
}

absl::StatusOr<pthread_t> Start(SocketOps* ops, pthread_attr_t& attr,
                                absl::AnyInvocable<void()> fn) {
  auto* arg = new absl::AnyInvocable<void()>(std::move(fn));
  pthread_t thread;
  int err = ops->StartThread(&thread, &attr, &Trampoline, arg);
  if (err != 0) {
    delete arg;
    char buf[128];
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot start a worker thread: ", strerror_r(err, buf, sizeof(buf))));
  }
  return thread;
}

}  // namespace

absl::StatusOr<pthread_t> StartThread(SocketOps* ops, size_t stack_size,
                                      absl::AnyInvocable<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr,
                            std::max<size_t>(stack_size, PTHREAD_STACK_MIN));
  absl::StatusOr<pthread_t> t = Start(ops, attr, std::move(fn));
  pthread_attr_destroy(&attr);
  return t;
}

absl::StatusOr<pthread_t> StartThreadOnStack(SocketOps* ops, void* stack,
                                             size_t stack_size,
                                             absl::AnyInvocable<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  int err = pthread_attr_setstack(&attr, stack, stack_size);
  absl::StatusOr<pthread_t> t = err != 0 ? absl::ResourceExhaustedError(
                                               "cannot start a worker thread: "
                                               "bad stack")
                                         : Start(ops, attr, std::move(fn));
  pthread_attr_destroy(&attr);
  return t;
}

}  // namespace internal
}  // namespace tether
