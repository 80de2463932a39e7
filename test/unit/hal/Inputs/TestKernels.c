/* Hand-written CPU code blob for the HAL tests: the ABI of ExecutableABI.h without the compiler.
 *   add_f32:   c[i] = a[i] + b[i] for 1000 floats, 16 workgroups of 64 (the last one partial)
 *   mark_wg:   out[wg] += 1 for every workgroup it is called with (checks each runs once)
 *   scale_f32: y[i] = x[i] * scalars[0] for 256 floats, one workgroup
 */
#include "kiln/rt/cpu/ExecutableABI.h"

static void add_f32(void *const *buffers, const int64_t *scalars, uint32_t begin, uint32_t end) {
  const float *a = (const float *)buffers[0];
  const float *b = (const float *)buffers[1];
  float *c = (float *)buffers[2];
  (void)scalars;
  for (uint32_t wg = begin; wg < end; ++wg)
    for (uint32_t i = wg * 64; i < wg * 64 + 64 && i < 1000; ++i)
      c[i] = a[i] + b[i];
}

static void mark_wg(void *const *buffers, const int64_t *scalars, uint32_t begin, uint32_t end) {
  int32_t *out = (int32_t *)buffers[0];
  (void)scalars;
  for (uint32_t wg = begin; wg < end; ++wg)
    out[wg] += 1;
}

static void scale_f32(void *const *buffers, const int64_t *scalars, uint32_t begin,
                      uint32_t end) {
  const float *x = (const float *)buffers[0];
  float *y = (float *)buffers[1];
  for (uint32_t wg = begin; wg < end; ++wg)
    for (int i = 0; i < 256; ++i)
      y[i] = x[i] * (float)scalars[0];
}

static const uint64_t add_sizes[] = {4000, 4000, 4000};
static const uint64_t mark_sizes[] = {4 * 4096};
static const uint64_t scale_sizes[] = {1024, 1024};

static const kiln_cpu_dispatch_desc dispatches[] = {
    {"add_f32", add_f32, add_sizes, 3, 0, {16, 1, 1}, 0},
    {"mark_wg", mark_wg, mark_sizes, 1, 0, {64, 32, 2}, 0},
    {"scale_f32", scale_f32, scale_sizes, 2, 1, {1, 1, 1}, 0},
};

static const kiln_cpu_executable_desc executable = {
    KILN_CPU_EXECUTABLE_MAGIC, KILN_CPU_EXECUTABLE_VERSION, 3, 0, dispatches};

__attribute__((visibility("default"))) const kiln_cpu_executable_desc *
kiln_cpu_executable_v1(void) {
  return &executable;
}
