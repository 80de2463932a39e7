//===- ExecutableABI.h - The contract of a native CPU code blob -*- C -*-===//
//
// A CPU code blob is an ELF shared object produced by the compiler (kilnc, kiln-cpu-compile).
// It exports `kiln_cpu_executable_v1`, a function that returns the executable's descriptor:
// its dispatches, each with its entry function, its buffer and scalar counts and its static
// workgroup count; and `kiln_cpu_host_v2`, the runtime's services to the code, which the
// runtime fills in. docs/hal.md describes the ABI; this header is shared, byte for
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

/// The runtime's services to the code, a zeroed global the code blob exports under this name
/// and the runtime fills in after loading it (and before any dispatch runs). Code that finds
/// a service null does without it: runs the workgroups itself, takes memory from malloc.
/// (v1, without `alloc` and `free`, is no longer filled in: such code runs as if alone.)
#define KILN_CPU_HOST_SYMBOL "kiln_cpu_host_v2"

/// Runs workgroups [0, count) of `fn` with `buffers` and `scalars`, spread over the runtime's
/// threads when it can (when no dispatch with several workgroups is running), and returns
/// when all are done. Called by a dispatch of one workgroup (an entry point compiled whole)
/// for the dispatches it calls (its matmuls' 64-row chunks).
typedef void (*kiln_cpu_run_workgroups_fn)(void *context, kiln_cpu_dispatch_fn fn,
                                           void *const *buffers, const int64_t *scalars,
                                           uint32_t count);

/// A block of at least `bytes` bytes, 64-byte aligned, for the code's temporaries (the
/// buffers of an entry point compiled whole, whose sizes are known only at run time); null
/// when memory is exhausted. Any thread may call it. The runtime keeps freed blocks for the
/// next call instead of returning them to the system.
typedef void *(*kiln_cpu_alloc_fn)(void *context, uint64_t bytes);
/// Gives back a block from `alloc` (null: nothing).
typedef void (*kiln_cpu_free_fn)(void *context, void *block);

typedef struct kiln_cpu_host {
  kiln_cpu_run_workgroups_fn run_workgroups;
  void *context;
  kiln_cpu_alloc_fn alloc;
  kiln_cpu_free_fn free;
} kiln_cpu_host;

#ifdef __cplusplus
}
#endif

#endif // KILN_RT_CPU_EXECUTABLEABI_H
