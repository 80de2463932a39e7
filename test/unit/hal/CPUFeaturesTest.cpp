//===- CPUFeaturesTest.cpp - Refusing CPU code the host cannot run --------===//
//
// checkHostCPUFeatures against synthetic hosts, so that every answer is tested on any machine.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUFeatures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace kiln::rt;
using kiln::rt::cpu::checkHostCPUFeatures;

namespace {

/// A host that has exactly `features`.
std::function<bool(std::string_view)> hostWith(std::set<std::string> features) {
  return [features = std::move(features)](std::string_view f) {
    return features.count(std::string(f)) != 0;
  };
}

const char *kAdvice = "; recompile the model on this machine (kilnc without --cpu) or with "
                      "--cpu naming a CPU this machine is";

} // namespace

TEST(CPUFeatures, ListIsSortedAndUnique) {
  const auto &list = cpu::kCheckedCPUFeatures;
  EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
  EXPECT_EQ(std::adjacent_find(list.begin(), list.end()), list.end());
  for (const char *f : {"sse4.1", "avx2", "fma", "avx512f", "avx512bw", "avxvnni"})
    EXPECT_TRUE(cpu::isCheckedCPUFeature(f)) << f;
  EXPECT_FALSE(cpu::isCheckedCPUFeature("aes"));
  EXPECT_FALSE(cpu::isCheckedCPUFeature(""));
}

TEST(CPUFeatures, HostWithEveryFeatureRuns) {
  Status s = checkHostCPUFeatures({"avx2", "avx512f", "fma"},
                                  hostWith({"avx", "avx2", "fma", "avx512f"}), "x86-64-v4",
                                  "g.kc");
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(CPUFeatures, NothingRecordedRunsAnywhere) {
  // Artifacts before format 1.3 record nothing: accepted unchecked.
  Status s = checkHostCPUFeatures({}, hostWith({}), "", "old.kc");
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(CPUFeatures, MissingFeaturesAreListedSorted) {
  Status s = checkHostCPUFeatures({"avx512vl", "avx2", "avx512f", "fma", "avx512bw"},
                                  hostWith({"avx", "avx2", "fma"}), "znver4", "g.kc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::Unsupported);
  EXPECT_EQ(s.message(), std::string("g.kc: its CPU code was compiled for znver4 and needs "
                                     "avx512bw, avx512f, avx512vl, which this CPU does not "
                                     "have") +
                             kAdvice);
}

TEST(CPUFeatures, MissingFeatureWithoutCPUName) {
  Status s = checkHostCPUFeatures({"avx2"}, hostWith({"avx"}), "", "g.kc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            std::string("g.kc: its CPU code needs avx2, which this CPU does not have") + kAdvice);
}

TEST(CPUFeatures, UnknownFeatureIsRefused) {
  // The synthetic host claims to have everything: an unknown name is refused all the same,
  // since the real host could not be asked about it.
  auto everything = [](std::string_view) { return true; };
  Status s = checkHostCPUFeatures({"avx2", "zz-new-ext", "amx-tile"}, everything, "future",
                                  "g.kc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::Unsupported);
  EXPECT_EQ(s.message(), "g.kc: its CPU code was compiled for future and needs CPU features "
                         "this kiln does not know: amx-tile, zz-new-ext; run it with the kiln "
                         "of the kilnc that compiled it, or recompile the model with this kilnc");
}

TEST(CPUFeatures, RealHostAnswersOnlyForCheckedNames) {
  EXPECT_FALSE(cpu::hostHasCPUFeature("zz-new-ext"));
  EXPECT_FALSE(cpu::hostHasCPUFeature("aes"));
  // AVX-512 registers imply the AVX2 ones: whatever this machine is, the answers agree.
  if (cpu::hostHasCPUFeature("avx512f")) {
    EXPECT_TRUE(cpu::hostHasCPUFeature("avx2"));
  }
  if (cpu::hostHasCPUFeature("avx2")) {
    EXPECT_TRUE(cpu::hostHasCPUFeature("avx"));
  }
}
