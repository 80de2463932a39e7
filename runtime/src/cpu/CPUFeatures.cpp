//===- CPUFeatures.cpp - Does this CPU run the artifact's code? -----------===//
//
// The host is asked through __builtin_cpu_supports, which reads cpuid and, for AVX and
// AVX-512, also checks that the operating system saves the wider registers (XCR0): a CPU with
// AVX-512 under an OS that does not enable it cannot run AVX-512 code either.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUFeatures.h"

#include <algorithm>
#include <iterator>

namespace kiln::rt::cpu {
namespace {

/// One test per checked extension: __builtin_cpu_supports only takes string literals.
struct HostTest {
  std::string_view feature;
  bool (*has)();
};

#define KILN_HOST_TEST(name) {name, [] { return __builtin_cpu_supports(name) != 0; }}
constexpr HostTest kHostTests[] = {
    KILN_HOST_TEST("avx"),
    KILN_HOST_TEST("avx2"),
    KILN_HOST_TEST("avx512bf16"),
    KILN_HOST_TEST("avx512bitalg"),
    KILN_HOST_TEST("avx512bw"),
    KILN_HOST_TEST("avx512cd"),
    KILN_HOST_TEST("avx512dq"),
    KILN_HOST_TEST("avx512f"),
    KILN_HOST_TEST("avx512fp16"),
    KILN_HOST_TEST("avx512ifma"),
    KILN_HOST_TEST("avx512vbmi"),
    KILN_HOST_TEST("avx512vbmi2"),
    KILN_HOST_TEST("avx512vl"),
    KILN_HOST_TEST("avx512vnni"),
    KILN_HOST_TEST("avx512vpopcntdq"),
    KILN_HOST_TEST("avxvnni"),
    KILN_HOST_TEST("bmi"),
    KILN_HOST_TEST("bmi2"),
    KILN_HOST_TEST("f16c"),
    KILN_HOST_TEST("fma"),
    KILN_HOST_TEST("lzcnt"),
    KILN_HOST_TEST("movbe"),
    KILN_HOST_TEST("popcnt"),
    KILN_HOST_TEST("sse3"),
    KILN_HOST_TEST("sse4.1"),
    KILN_HOST_TEST("sse4.2"),
    KILN_HOST_TEST("ssse3"),
};
#undef KILN_HOST_TEST

/// Whether kHostTests tests exactly kCheckedCPUFeatures, in the same order.
constexpr bool testsEveryCheckedFeature() {
  if (std::size(kHostTests) != kCheckedCPUFeatures.size())
    return false;
  for (size_t i = 0; i < kCheckedCPUFeatures.size(); ++i)
    if (kHostTests[i].feature != kCheckedCPUFeatures[i])
      return false;
  return true;
}
static_assert(testsEveryCheckedFeature(), "each of kCheckedCPUFeatures needs its host test");

std::string joined(const std::vector<std::string> &names) {
  std::string s;
  for (const std::string &n : names)
    s += (s.empty() ? "" : ", ") + n;
  return s;
}

} // namespace

bool isCheckedCPUFeature(std::string_view feature) {
  return std::find(kCheckedCPUFeatures.begin(), kCheckedCPUFeatures.end(), feature) !=
         kCheckedCPUFeatures.end();
}

bool hostHasCPUFeature(std::string_view feature) {
  for (const HostTest &t : kHostTests)
    if (t.feature == feature)
      return t.has();
  return false;
}

Status checkHostCPUFeatures(const std::vector<std::string> &required,
                            const std::function<bool(std::string_view)> &hostHas,
                            std::string_view compiledFor, std::string_view what) {
  std::vector<std::string> unknown, missing;
  for (const std::string &f : required) {
    if (!isCheckedCPUFeature(f))
      unknown.push_back(f);
    else if (!hostHas(f))
      missing.push_back(f);
  }
  if (unknown.empty() && missing.empty())
    return Status::success();
  for (std::vector<std::string> *names : {&unknown, &missing}) {
    std::sort(names->begin(), names->end());
    names->erase(std::unique(names->begin(), names->end()), names->end());
  }
  std::string code = std::string(what) + ": its CPU code " +
                     (compiledFor.empty() ? std::string()
                                          : "was compiled for " + std::string(compiledFor) +
                                                " and ");
  // An unknown name comes from a newer kilnc (or a damaged manifest): this kiln cannot tell
  // whether the host has it, and running the code anyway could die of SIGILL.
  if (!unknown.empty())
    return Status::unsupported(code + "needs CPU features this kiln does not know: " +
                               joined(unknown) +
                               "; run it with the kiln of the kilnc that compiled it, or "
                               "recompile the model with this kilnc");
  return Status::unsupported(code + "needs " + joined(missing) +
                             ", which this CPU does not have; recompile the model on this "
                             "machine (kilnc without --cpu) or with --cpu naming a CPU this "
                             "machine is");
}

} // namespace kiln::rt::cpu
