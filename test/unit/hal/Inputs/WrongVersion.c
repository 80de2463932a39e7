/* A code blob whose descriptor claims an ABI version this runtime does not read. */
#include "kiln/rt/cpu/ExecutableABI.h"

static const kiln_cpu_executable_desc executable = {KILN_CPU_EXECUTABLE_MAGIC, 99, 0, 0, 0};

__attribute__((visibility("default"))) const kiln_cpu_executable_desc *
kiln_cpu_executable_v1(void) {
  return &executable;
}
