/* Code blob for kiln-dispatch-bench: dispatches that do (almost) nothing, so that timing them
 * measures the runtime's cost per dispatch (validation, argument marshalling, thread pool).
 *   nop_1, nop_2, nop_12, nop_48: 1, 2, 12 and 48 workgroups, each storing its index.
 */
#include "kiln/rt/cpu/ExecutableABI.h"

static void nop(void *const *buffers, const int64_t *scalars, uint32_t begin, uint32_t end) {
  volatile int32_t *out = (volatile int32_t *)buffers[0];
  (void)scalars;
  for (uint32_t wg = begin; wg < end; ++wg)
    out[wg] = (int32_t)wg;
}

static const uint64_t sizes[] = {4 * 64};

static const kiln_cpu_dispatch_desc dispatches[] = {
    {"nop_1", nop, sizes, 1, 0, {1, 1, 1}, 0},
    {"nop_2", nop, sizes, 1, 0, {2, 1, 1}, 0},
    {"nop_12", nop, sizes, 1, 0, {12, 1, 1}, 0},
    {"nop_48", nop, sizes, 1, 0, {48, 1, 1}, 0},
};

static const kiln_cpu_executable_desc executable = {
    KILN_CPU_EXECUTABLE_MAGIC, KILN_CPU_EXECUTABLE_VERSION, 4, 0, dispatches};

__attribute__((visibility("default"))) const kiln_cpu_executable_desc *
kiln_cpu_executable_v1(void) {
  return &executable;
}
