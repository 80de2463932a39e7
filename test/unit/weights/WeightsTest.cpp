//===- WeightsTest.cpp - Loading by the parameter table; initialization ---===//
#include "TestArtifacts.h"

#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

using namespace kiln::rt;
using kiln::test::sampleManifest;

namespace {
/// One scratch folder for this binary's tests, removed when they end.
class ScratchFolder : public ::testing::Environment {
public:
  static std::string &path() {
    static std::string dir;
    return dir;
  }
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-weights-load-XXXXXX";
    const char *d = mkdtemp(tmpl);
    path() = d ? d : "";
  }
  void TearDown() override {
    if (!path().empty())
      std::filesystem::remove_all(path());
  }
};
const ::testing::Environment *const kScratch =
    ::testing::AddGlobalTestEnvironment(new ScratchFolder);

std::string tempPath(const char *name) { return ScratchFolder::path() + "/" + name; }

bool contains(const std::string &s, const std::string &n) { return s.find(n) != std::string::npos; }

/// A Hugging Face GPT-2 style checkpoint for sampleManifest(): Conv1D weights stored [in, out],
/// q|k|v fused in c_attn [8, 24]. Values are v(tensor, i) = tensor * 1000 + i.
struct HfCheckpoint {
  std::vector<float> wte, ln1w, ln1b, cattn, cproj, lmHead, attnBias;
  std::vector<SafetensorsEntry> entries(const std::string &prefix, bool withExtras) {
    auto fill = [](std::vector<float> &v, size_t n, float base) {
      v.resize(n);
      for (size_t i = 0; i < n; ++i)
        v[i] = base + float(i);
    };
    fill(wte, 97 * 8, 0);
    fill(ln1w, 8, 1000);
    fill(ln1b, 8, 2000);
    fill(cattn, 8 * 24, 3000);
    fill(cproj, 8 * 8, 4000);
    fill(lmHead, 97 * 8, 0);
    fill(attnBias, 16, 0);
    std::vector<SafetensorsEntry> e = {
        {prefix + "wte.weight", DType::F32, {97, 8}, wte.data(), {}},
        {prefix + "h.0.ln_1.weight", DType::F32, {8}, ln1w.data(), {}},
        {prefix + "h.0.ln_1.bias", DType::F32, {8}, ln1b.data(), {}},
        {prefix + "h.0.attn.c_attn.weight", DType::F32, {8, 24}, cattn.data(), {}},
        {prefix + "h.0.attn.c_proj.weight", DType::F32, {8, 8}, cproj.data(), {}},
    };
    if (withExtras) {
      e.push_back({"lm_head.weight", DType::F32, {97, 8}, lmHead.data(), {}});
      e.push_back({prefix + "h.0.attn.bias", DType::F32, {1, 1, 4, 4}, attnBias.data(), {}});
    }
    return e;
  }
};
} // namespace

TEST(Weights, HuggingFaceLayoutWithPrefixTransposeAndSlices) {
  for (bool extras : {false, true}) {
    for (std::string prefix : {"", "transformer."}) {
      HfCheckpoint ck;
      std::string path = tempPath("hf.safetensors");
      ASSERT_TRUE(writeSafetensors(path, ck.entries(prefix, extras)).ok());
      WeightSet w;
      Status s = WeightSet::load(sampleManifest(), path, w);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_TRUE(contains(w.naming(), "hugging face")) << w.naming();
      EXPECT_EQ(w.find("wte.weight")[8 * 50 + 3], float(8 * 50 + 3));
      EXPECT_EQ(w.find("h.0.ln_1.bias")[5], 2005.0f);
      // q/k/v[o][i] = c_attn[i][part * 8 + o]  (slice along axis 1, then transpose)
      const char *parts[] = {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"};
      for (int part = 0; part < 3; ++part) {
        const float *q = w.find(parts[part]);
        ASSERT_NE(q, nullptr);
        for (int o = 0; o < 8; ++o)
          for (int i = 0; i < 8; ++i)
            ASSERT_EQ(q[o * 8 + i], 3000.0f + float(i * 24 + part * 8 + o))
                << parts[part] << " " << o << "," << i;
      }
      const float *proj = w.find("h.0.attn.proj.weight");
      EXPECT_EQ(proj[2 * 8 + 5], 4000.0f + float(5 * 8 + 2));
    }
  }
}

TEST(Weights, LegacyLayerNormGammaBetaNamesLoadAsInTransformers) {
  Manifest m;
  m.model = "bert";
  m.hfPrefixes = {"bert."};
  auto add = [&](const char *name, const char *hf) {
    Parameter p;
    p.name = name;
    p.shape = {4};
    p.hfName = hf;
    m.parameters.push_back(p);
  };
  add("ln.weight", "embeddings.LayerNorm.weight");
  add("ln.bias", "embeddings.LayerNorm.bias");
  add("other.weight", "pooler.weight"); // not a LayerNorm: no legacy spelling
  std::vector<float> gamma = {1, 2, 3, 4}, beta = {5, 6, 7, 8}, other = {9, 10, 11, 12};
  std::string path = tempPath("legacy.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {{"bert.embeddings.LayerNorm.gamma", DType::F32, {4},
                                       gamma.data(), {}},
                                      {"bert.embeddings.LayerNorm.beta", DType::F32, {4},
                                       beta.data(), {}},
                                      {"bert.pooler.weight", DType::F32, {4}, other.data(), {}}})
                  .ok());
  WeightSet w;
  Status s = WeightSet::load(m, path, w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.find("ln.weight")[3], 4.0f);
  EXPECT_EQ(w.find("ln.bias")[0], 5.0f);

  // Only LayerNorm names have a legacy spelling.
  ASSERT_TRUE(writeSafetensors(path, {{"bert.embeddings.LayerNorm.gamma", DType::F32, {4},
                                       gamma.data(), {}},
                                      {"bert.embeddings.LayerNorm.beta", DType::F32, {4},
                                       beta.data(), {}},
                                      {"bert.pooler.gamma", DType::F32, {4}, other.data(), {}}})
                  .ok());
  s = WeightSet::load(m, path, w);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "pooler.weight")) << s.message();
}

TEST(Weights, HalfPrecisionCheckpointsConvert) {
  // ln_1.weight as f16 and bf16: values chosen to be exact in both.
  for (DType t : {DType::F16, DType::BF16}) {
    HfCheckpoint ck;
    std::vector<SafetensorsEntry> e = ck.entries("transformer.", false);
    std::vector<uint16_t> half(8);
    for (int i = 0; i < 8; ++i) {
      float v = 0.5f * float(i) - 1.0f;
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      half[i] = t == DType::BF16 ? uint16_t(bits >> 16)
                                 : [&] {
                                     _Float16 h = static_cast<_Float16>(v);
                                     uint16_t b;
                                     std::memcpy(&b, &h, 2);
                                     return b;
                                   }();
    }
    e[1].dtype = t;
    e[1].data = half.data();
    std::string path = tempPath("half.safetensors");
    ASSERT_TRUE(writeSafetensors(path, e).ok());
    WeightSet w;
    Status s = WeightSet::load(sampleManifest(), path, w);
    ASSERT_TRUE(s.ok()) << s.message();
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(w.find("h.0.ln_1.weight")[i], 0.5f * float(i) - 1.0f);
  }
}

TEST(Weights, EveryProblemIsReportedByNameAndNothingLoads) {
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("transformer.", true);
  e.erase(e.begin() + 2);                          // missing h.0.ln_1.bias
  e[3].shape = {8, 8};                              // c_proj fine; make c_attn wrong below
  e[2].shape = {8, 23};                             // c_attn: 23 is not divisible by 3
  std::vector<float> extra(3, 0);
  e.push_back({"transformer.h.0.mlp.c_fc.weight", DType::F32, {3}, extra.data(), {}});
  std::vector<float> wteWrong(96 * 8, 0);
  e[0].shape = {96, 8};
  e[0].data = wteWrong.data();
  std::vector<float> cattn(8 * 23, 0);
  e[2].data = cattn.data();
  std::string path = tempPath("bad.safetensors");
  ASSERT_TRUE(writeSafetensors(path, e).ok());

  // Start from a loaded set: a failed load must leave it as it was.
  HfCheckpoint good;
  std::string goodPath = tempPath("good.safetensors");
  ASSERT_TRUE(writeSafetensors(goodPath, good.entries("", false)).ok());
  WeightSet w;
  ASSERT_TRUE(WeightSet::load(sampleManifest(), goodPath, w).ok());

  Status s = WeightSet::load(sampleManifest(), path, w);
  ASSERT_FALSE(s.ok());
  const std::string &m = s.message();
  EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
  EXPECT_TRUE(contains(m, "missing (1)")) << m;
  EXPECT_TRUE(contains(m, "h.0.ln_1.bias (for h.0.ln_1.bias)")) << m;
  EXPECT_TRUE(contains(m, "unexpected (1)")) << m;
  EXPECT_TRUE(contains(m, "transformer.h.0.mlp.c_fc.weight")) << m;
  EXPECT_TRUE(contains(m, "mis-shaped (4)")) << m; // wte + q, k, v
  EXPECT_TRUE(contains(m, "transformer.wte.weight: shape [96, 8] gives [96, 8], but wte.weight is [97, 8]"))
      << m;
  EXPECT_TRUE(contains(m, "cannot be split that way")) << m;
  EXPECT_FALSE(contains(m, "lm_head")) << m; // ignored by hf_ignore
  EXPECT_EQ(w.size(), sampleManifest().parameters.size());
  EXPECT_EQ(w.find("h.0.ln_1.bias")[0], 2000.0f);
}

TEST(Weights, KilnNamedFilesLoadAndReportByKilnName) {
  Manifest m = sampleManifest();
  std::string path = tempPath("kiln.safetensors");
  ASSERT_TRUE(writeInitializedWeights(m, 42, path).ok());
  WeightSet w;
  Status s = WeightSet::load(m, path, w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.naming(), "kiln");
  std::vector<float> want(static_cast<size_t>(m.parameters[3].numElements()));
  initializeParameter(m.parameters[3], 42, want.data());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), w.data(3)));

  // A Kiln-named file lacking one parameter names it.
  Manifest bigger = m;
  Parameter extra = m.parameters[1];
  extra.name = "h.0.ln_2.weight";
  extra.hfName = "h.0.ln_2.weight";
  bigger.parameters.push_back(extra);
  s = WeightSet::load(bigger, path, w);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "Kiln names")) << s.message();
  EXPECT_TRUE(contains(s.message(), "h.0.ln_2.weight")) << s.message();
}

TEST(Weights, NonFloatTensorIsRefused) {
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("", false);
  std::vector<int32_t> ints(8, 1);
  e[1].dtype = DType::I32;
  e[1].data = ints.data();
  std::string path = tempPath("int.safetensors");
  ASSERT_TRUE(writeSafetensors(path, e).ok());
  WeightSet w;
  Status s = WeightSet::load(sampleManifest(), path, w);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "h.0.ln_1.weight: dtype I32")) << s.message();
}

TEST(Weights, ShardsSplitTheTensorsAndMayNotRepeatThem) {
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("transformer.", false);
  std::string a = tempPath("shard-a.safetensors"), b = tempPath("shard-b.safetensors");
  ASSERT_TRUE(writeSafetensors(a, {e[0], e[1], e[2]}).ok());
  ASSERT_TRUE(writeSafetensors(b, {e[3], e[4]}).ok());
  SafetensorsFile fa, fb;
  ASSERT_TRUE(SafetensorsFile::open(a, fa).ok());
  ASSERT_TRUE(SafetensorsFile::open(b, fb).ok());
  WeightSet w;
  Status s = WeightSet::load(sampleManifest(), {&fa, &fb}, "shards", w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.find("h.0.attn.proj.weight")[1], 4000.0f + 8);
  s = WeightSet::load(sampleManifest(), {&fa, &fb, &fa}, "shards", w);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "appears in two files")) << s.message();
}

TEST(Weights, FolderWithoutCheckpointIsRefused) {
  std::string dir = tempPath("empty-folder");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  WeightSet w;
  Status s = WeightSet::load(sampleManifest(), dir, w);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), dir + ": folder has neither")) << s.message();
  rmdir(dir.c_str());
}

//===----------------------------------------------------------------------===//
// Initialization
//===----------------------------------------------------------------------===//

namespace {
/// Kolmogorov-Smirnov statistic of `x` against normal(0, std).
double ksStatistic(std::vector<float> x, double std) {
  std::sort(x.begin(), x.end());
  double d = 0, n = double(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double cdf = 0.5 * std::erfc(-double(x[i]) / (std * std::sqrt(2.0)));
    d = std::max({d, std::fabs(cdf - double(i) / n), std::fabs(double(i + 1) / n - cdf)});
  }
  return d;
}
} // namespace

TEST(Init, NormalIsNormalWithTheRequestedStd) {
  Parameter p;
  p.name = "big.weight";
  p.shape = {200, 501}; // odd count exercises the unpaired last element
  p.initStd = 0.02;
  std::vector<float> x(static_cast<size_t>(p.numElements()));
  initializeParameter(p, 1, x.data());
  double sum = 0, sq = 0;
  for (float v : x) {
    sum += v;
    sq += double(v) * v;
  }
  double n = double(x.size()), mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 4 * 0.02 / std::sqrt(n));
  EXPECT_NEAR(sd, 0.02, 0.02 * 0.01);
  // KS critical value at alpha = 0.001 is 1.95 / sqrt(n).
  EXPECT_LT(ksStatistic(x, 0.02), 1.95 / std::sqrt(n));
  // ... and it is not a normal of another std.
  EXPECT_GT(ksStatistic(x, 0.025), 1.95 / std::sqrt(n));
  // Neighbouring values are uncorrelated (lag-1 and the Box-Muller pair).
  double c1 = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    c1 += double(x[i]) * x[i + 1];
  EXPECT_LT(std::fabs(c1 / (n - 1)) / (0.02 * 0.02), 4 / std::sqrt(n));
}

TEST(Init, DeterministicPerSeedAndName) {
  Parameter p;
  p.name = "w";
  p.shape = {64};
  p.initStd = 1.0;
  std::vector<float> a(64), b(64), c(64), d(64);
  initializeParameter(p, 5, a.data());
  initializeParameter(p, 5, b.data());
  initializeParameter(p, 6, c.data());
  Parameter q = p;
  q.name = "w2";
  initializeParameter(q, 5, d.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  // A prefix of a bigger tensor with the same name starts the same way (counter-based).
  Parameter big = p;
  big.shape = {128};
  std::vector<float> e(128);
  initializeParameter(big, 5, e.data());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), e.begin()));
}

TEST(Init, ThreadedFillMatchesAnySplit) {
  // Big enough to be split across threads; two sizes put the split points elsewhere, and a small
  // tensor of the same name is filled by one thread. Overlapping elements must agree.
  Parameter a;
  a.name = "shared.name";
  a.initStd = 0.5;
  a.shape = {(1 << 18) + 3};
  Parameter b = a, c = a;
  b.shape = {(1 << 18) + 1001};
  c.shape = {999};
  std::vector<float> va(size_t(a.numElements())), vb(size_t(b.numElements())), vc(999);
  initializeParameter(a, 9, va.data());
  initializeParameter(b, 9, vb.data());
  initializeParameter(c, 9, vc.data());
  EXPECT_TRUE(std::equal(va.begin(), va.end(), vb.begin()));
  EXPECT_TRUE(std::equal(vc.begin(), vc.end(), va.begin()));
}

TEST(Init, ZerosAndOnes) {
  Parameter p;
  p.name = "b";
  p.shape = {3, 5};
  p.init = InitKind::Zeros;
  std::vector<float> x(15, 7.0f);
  initializeParameter(p, 1, x.data());
  EXPECT_TRUE(std::all_of(x.begin(), x.end(), [](float v) { return v == 0.0f; }));
  p.init = InitKind::Ones;
  initializeParameter(p, 1, x.data());
  EXPECT_TRUE(std::all_of(x.begin(), x.end(), [](float v) { return v == 1.0f; }));
}
