/* Hand-written CPU code blob for the HAL tests: the ABI of ExecutableABI.h without the compiler.
 *   add_f32:   c[i] = a[i] + b[i] for 1000 floats, 16 workgroups of 64 (the last one partial)
 *   mark_wg:   out[wg] += 1 for every workgroup it is called with (checks each runs once)
 *   scale_f32: y[i] = x[i] * scalars[0] for 256 floats, one workgroup
 *   fan_out:   one workgroup that hands mark_wg's workgroups [0, 4096) to the runtime's
 *              kiln_cpu_host_v2.run_workgroups (as a whole entry point hands its matmul
 *              chunks); flag[0] = 1 when the host was there, -1 when not
 *   fan_out_4: the same from 4 workgroups at once (a dispatch already spread over the
 *              threads), workgroup w handing over the marks [1024 w, 1024 w + 1024)
 *   borrow:    one workgroup that takes a block of scalars[0] bytes from kiln_cpu_host_v2.alloc
 *              (as a whole entry point's temporaries), fills it with 1.0f, writes its address
 *              to out[0] and the sum of its floats to out[1] (-1: no alloc service, -2: null
 *              block), then frees it
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

/* Zero until the runtime fills it in. */
__attribute__((visibility("default"))) kiln_cpu_host kiln_cpu_host_v2;

/* Hands mark_wg's workgroups [0, count) over out + first. */
static void hand_over(void *const *buffers, const int64_t *scalars, uint32_t first,
                      uint32_t count) {
  int32_t *flag = (int32_t *)buffers[1];
  if (!kiln_cpu_host_v2.run_workgroups) {
    flag[0] = -1;
    return;
  }
  flag[0] = 1;
  void *marks[1] = {(int32_t *)buffers[0] + first};
  kiln_cpu_host_v2.run_workgroups(kiln_cpu_host_v2.context, mark_wg, marks, scalars, count);
}

static void fan_out(void *const *buffers, const int64_t *scalars, uint32_t begin, uint32_t end) {
  for (uint32_t wg = begin; wg < end; ++wg)
    hand_over(buffers, scalars, 0, 4096);
}

static void fan_out_4(void *const *buffers, const int64_t *scalars, uint32_t begin,
                      uint32_t end) {
  for (uint32_t wg = begin; wg < end; ++wg)
    hand_over(buffers, scalars, wg * 1024, 1024);
}

static void borrow(void *const *buffers, const int64_t *scalars, uint32_t begin, uint32_t end) {
  int64_t *out = (int64_t *)buffers[0];
  (void)begin;
  (void)end;
  if (!kiln_cpu_host_v2.alloc || !kiln_cpu_host_v2.free) {
    out[1] = -1;
    return;
  }
  float *block = (float *)kiln_cpu_host_v2.alloc(kiln_cpu_host_v2.context, (uint64_t)scalars[0]);
  if (!block) {
    out[1] = -2;
    return;
  }
  int64_t n = scalars[0] / 4;
  for (int64_t i = 0; i < n; ++i)
    block[i] = 1.0f;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += block[i];
  out[0] = (int64_t)(intptr_t)block;
  out[1] = (int64_t)sum;
  kiln_cpu_host_v2.free(kiln_cpu_host_v2.context, block);
}

static const uint64_t add_sizes[] = {4000, 4000, 4000};
static const uint64_t fan_sizes[] = {4 * 4096, 4};
static const uint64_t mark_sizes[] = {4 * 4096};
static const uint64_t scale_sizes[] = {1024, 1024};
static const uint64_t borrow_sizes[] = {16};

static const kiln_cpu_dispatch_desc dispatches[] = {
    {"add_f32", add_f32, add_sizes, 3, 0, {16, 1, 1}, 0},
    {"mark_wg", mark_wg, mark_sizes, 1, 0, {64, 32, 2}, 0},
    {"scale_f32", scale_f32, scale_sizes, 2, 1, {1, 1, 1}, 0},
    {"fan_out", fan_out, fan_sizes, 2, 0, {1, 1, 1}, 0},
    {"fan_out_4", fan_out_4, fan_sizes, 2, 0, {4, 1, 1}, 0},
    {"borrow", borrow, borrow_sizes, 1, 1, {1, 1, 1}, 0},
};

static const kiln_cpu_executable_desc executable = {
    KILN_CPU_EXECUTABLE_MAGIC, KILN_CPU_EXECUTABLE_VERSION, 6, 0, dispatches};

__attribute__((visibility("default"))) const kiln_cpu_executable_desc *
kiln_cpu_executable_v1(void) {
  return &executable;
}
