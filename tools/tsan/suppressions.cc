// tools/tsan/suppressions.cc: what ThreadSanitizer cannot see in Debian's
// abseil.
//
// Debian's libabsl is not built with -fsanitize=thread, so TSan does not see
// the atomic reference count inside absl::Status. When threads share one
// status representation (a copied Status: the deadline's status in its timer
// entry and in the socket, ~Connector's one cancel status in every socket, a
// resolver's answer in a race and in the socket) and the last copy is
// dropped on another thread than an earlier reader's, TSan sees the read and
// the free with nothing ordering them and reports a race that the reference
// count (acq_rel, in the uninstrumented library) rules out. Seen in CI:
// fault_resolver_test, the main thread's error().message() vs. a worker
// freeing the race's copy. A real use-after-free there would be ASan's to
// find (--config=asan), which instruments the frees themselves. The pattern
// covers both the inlined Status::Unref and Status::UnrefNonInlined.
//
// Debian's libtcl8.6 is not instrumented either. Tcl makes each Tcl_Mutex
// on first use inside Tcl_MutexLock (a check of the pointer outside its
// master lock, then pthread_mutex_init), so when a tether worker queues an
// event to a Tcl thread (tcl/channel.cc: Tcl_ThreadQueueEvent) the mutex it
// locks may have been made by that thread with nothing TSan can see
// ordering the two. The pattern names Tcl_MutexLock, which is in the stack
// of such a report (its init side) and in no stack of ours.
//
// Linked into every binary and test of a TSan build only (.bazelrc
// --config=tsan: --custom_malloc=//tools/tsan:suppressions, and
// TETHER_TSAN), never into a user's binary. It must be in the executable,
// not in a shared library, for TSan's runtime to find it.

#ifdef TETHER_TSAN
extern "C" const char* __tsan_default_suppressions() {
  return "race:absl::*Status::Unref\n"
         "race:Tcl_MutexLock\n";
}
#endif
