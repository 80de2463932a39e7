//===- PerfMap.h - Names for Linux perf of code loaded from memory --------===//
//
// The CPU driver loads compiled code from an anonymous memfd, which perf cannot read back, so a
// profile shows bare addresses. With KILN_PERF_MAP=1 in the environment the driver moves the
// code's executable segments to anonymous memory (same addresses, same bytes) and appends one
// line per function of the code's ELF symbol table to /tmp/perf-<pid>.map, perf's map format
// for code it cannot read:
//
//   START SIZE NAME        (START and SIZE in hex, without 0x)
//
// `perf report` then names each dispatch (docs/cpu-backend.md, "Profiling").
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_PERFMAP_H
#define KILN_RT_CPU_PERFMAP_H

#include "kiln/rt/hal/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt::cpu {

/// A defined function of an ELF object: its address relative to the load base, its size.
struct CodeSymbol {
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string name;
};

/// True when KILN_PERF_MAP is set to anything but "" or "0".
bool perfMapRequested();

/// Lists the sized, defined functions of the ELF shared object `code` (its .symtab, or its
/// .dynsym when stripped). Malformed tables are an error naming `name`, never a crash.
hal::Status readFunctionSymbols(const void *code, size_t size, const std::string &name,
                                std::vector<CodeSymbol> &out);

/// Replaces the executable PT_LOAD segments of `code`, loaded at `base`, with anonymous
/// memory holding the same bytes (perf reads names for anonymous code from the map file).
hal::Status makeCodeAnonymous(const void *code, size_t size, uintptr_t base,
                              const std::string &name);

/// Appends `symbols`, loaded at `base`, to the map file at `path` in perf's format.
hal::Status appendPerfMap(const std::string &path, uintptr_t base,
                          const std::vector<CodeSymbol> &symbols);

/// /tmp/perf-<pid>.map of this process.
std::string perfMapPath();

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_PERFMAP_H
