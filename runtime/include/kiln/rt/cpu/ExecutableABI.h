//===- ExecutableABI.h - The contract of a native CPU code blob -*- C -*-===//
//
// A CPU code blob is an ELF shared object produced by the compiler (kilnc, kiln-cpu-compile).
// It exports one C symbol, `kiln_cpu_executable_v1`, a function that returns the executable's
// descriptor: its dispatches, each with its entry function, its buffer and scalar counts and
// its static workgroup count. docs/hal.md describes the ABI; this header is shared, byte for
// byte, by the compiler that writes the table and the runtime that reads it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_EXECUTABLEABI_H
#define KILN_RT_CPU_EXECUTABLEABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// "KCPU" in little-endian byte order.
#define KILN_CPU_EXECUTABLE_MAGIC 0x5550434Bu
#define KILN_CPU_EXECUTABLE_VERSION 1u
#define KILN_CPU_EXECUTABLE_SYMBOL "kiln_cpu_executable_v1"

/// Runs workgroups [wg_begin, wg_end) of one dispatch. `buffers[i]` is the base address of
/// buffer binding i (dense, row-major, the shape the dispatch was compiled for); `scalars` holds
/// the dispatch's push-constant-like i64 values (dynamic sizes first). Workgroups are
/// independent: any split of [0, count) across threads computes the same result.
typedef void (*kiln_cpu_dispatch_fn)(void *const *buffers, const int64_t *scalars,
                                     uint32_t wg_begin, uint32_t wg_end);

typedef struct kiln_cpu_dispatch_desc {
  const char *name;
  kiln_cpu_dispatch_fn fn;
  /// Size in bytes that each buffer binding must at least have (num_buffers entries).
  const uint64_t *buffer_bytes;
  uint32_t num_buffers;
  uint32_t num_scalars;
  /// Workgroup count (x, y, z) for the shapes the dispatch was compiled for; the CPU driver
  /// runs x * y * z linearized workgroups.
  uint32_t workgroup_count[3];
  uint32_t reserved;
} kiln_cpu_dispatch_desc;

typedef struct kiln_cpu_executable_desc {
  uint32_t magic;
  uint32_t version;
  uint32_t num_dispatches;
  uint32_t reserved;
  const kiln_cpu_dispatch_desc *dispatches;
} kiln_cpu_executable_desc;

typedef const kiln_cpu_executable_desc *(*kiln_cpu_executable_query_fn)(void);

#ifdef __cplusplus
}
#endif

#endif // KILN_RT_CPU_EXECUTABLEABI_H
