// lib/cpu_relax.h: the pause instruction for spin-wait loops.

#ifndef TETHER_LIB_CPU_RELAX_H_
#define TETHER_LIB_CPU_RELAX_H_

namespace tether {
namespace internal {

// Tells the CPU this is a spin-wait (x86 `pause`: yields the core's
// pipeline to its sibling hyperthread, and avoids the memory-order flush
// when the loop exits). A no-op elsewhere.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace internal
}  // namespace tether

#endif  // TETHER_LIB_CPU_RELAX_H_
