//===- CPUFeatures.h - ISA extensions an artifact's CPU code needs -*- C++ -*-===//
//
// kilnc compiles the CPU code for one CPU (`--cpu`, by default the compiling machine) and
// records in the manifest's target entry which x86 ISA extensions of the list below that CPU
// has (`cpu_features`, docs/artifact.md). Before the runtime loads the code it checks each
// recorded extension against the CPU it runs on, so that code it cannot execute is refused
// with a message instead of dying of SIGILL in the middle of a dispatch.
//
// The list is this header, shared by the compiler (which records only names from it) and the
// runtime (which knows how to test each of them on the host): a name the runtime does not
// know is refused rather than ignored.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_CPU_CPUFEATURES_H
#define KILN_RT_CPU_CPUFEATURES_H

#include "kiln/rt/artifact/Status.h"

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt::cpu {

/// The extensions an artifact records and the runtime checks, spelled as LLVM's x86 target
/// features, sorted. They are the vector and bit-manipulation extensions LLVM's code generation
/// uses on its own (no intrinsics): SSE3 up to the AVX-512 subsets and VNNI. Extensions only
/// reachable through intrinsics (AES, SHA, GFNI, ...) and those every x86-64 CPU has (SSE2) are
/// left out.
inline constexpr std::array<std::string_view, 27> kCheckedCPUFeatures = {
    "avx",         "avx2",         "avx512bf16",      "avx512bitalg", "avx512bw",
    "avx512cd",    "avx512dq",     "avx512f",         "avx512fp16",   "avx512ifma",
    "avx512vbmi",  "avx512vbmi2",  "avx512vl",        "avx512vnni",   "avx512vpopcntdq",
    "avxvnni",     "bmi",          "bmi2",            "f16c",         "fma",
    "lzcnt",       "movbe",        "popcnt",          "sse3",         "sse4.1",
    "sse4.2",      "ssse3"};

/// Whether `feature` is one of kCheckedCPUFeatures.
bool isCheckedCPUFeature(std::string_view feature);

/// Whether the CPU this process runs on, with its operating system's support for the wider
/// registers, has `feature` (one of kCheckedCPUFeatures; false for any other name).
bool hostHasCPUFeature(std::string_view feature);

/// Checks that a CPU for which `hostHas` says which extensions it has can run code compiled
/// for `compiledFor` (an LLVM CPU name, may be empty) that needs `required`. Refuses
/// (Status::unsupported, the message starting with `what`, the artifact's path) any name that
/// is not one of kCheckedCPUFeatures, then any the CPU lacks, naming them all, sorted.
Status checkHostCPUFeatures(const std::vector<std::string> &required,
                            const std::function<bool(std::string_view)> &hostHas,
                            std::string_view compiledFor, std::string_view what);

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_CPUFEATURES_H
