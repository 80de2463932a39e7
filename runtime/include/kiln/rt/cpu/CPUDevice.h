//===- CPUDevice.h - The HAL's CPU driver ---------------------------------===//
//
// Buffers are 64-byte aligned host memory. Executables are the compiler's native shared
// objects (ExecutableABI.h), loaded straight from memory: the bytes go to an anonymous memfd
// and are dlopen'ed through /proc/self/fd, so no file appears on disk. A dispatch splits its
// workgroups over the device's pinned thread pool and returns when they are done. With
// KILN_PERF_MAP=1 in the environment, loading also writes /tmp/perf-<pid>.map (PerfMap.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_CPUDEVICE_H
#define KILN_RT_CPU_CPUDEVICE_H

#include "kiln/rt/hal/HAL.h"

namespace kiln::rt::cpu {

struct CPUDeviceOptions {
  /// Worker threads including the caller; 0 means one per CPU the process may use.
  unsigned threads = 0;
  /// Pin each worker to its own CPU.
  bool pin = true;
  /// Fill in the code's `kiln_cpu_host_v2` (ExecutableABI.h): the threads for the dispatches
  /// it calls, the pool for its temporaries. Off, the code does without them (every
  /// workgroup on the calling thread, malloc): what tests of those fallbacks run.
  bool hostServices = true;
};

/// Creates the CPU device.
hal::Status createCPUDevice(const CPUDeviceOptions &options, std::unique_ptr<hal::Device> &out);

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_CPUDEVICE_H
