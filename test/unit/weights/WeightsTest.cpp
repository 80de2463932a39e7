//===- WeightsTest.cpp - Loading by the parameter table; initialization ---===//
#include "TestArtifacts.h"

#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
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
      EXPECT_EQ(w.findF32("wte.weight")[8 * 50 + 3], float(8 * 50 + 3));
      EXPECT_EQ(w.findF32("h.0.ln_1.bias")[5], 2005.0f);
      // q/k/v[o][i] = c_attn[i][part * 8 + o]  (slice along axis 1, then transpose)
      const char *parts[] = {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"};
      for (int part = 0; part < 3; ++part) {
        const float *q = w.findF32(parts[part]);
        ASSERT_NE(q, nullptr);
        for (int o = 0; o < 8; ++o)
          for (int i = 0; i < 8; ++i)
            ASSERT_EQ(q[o * 8 + i], 3000.0f + float(i * 24 + part * 8 + o))
                << parts[part] << " " << o << "," << i;
      }
      const float *proj = w.findF32("h.0.attn.proj.weight");
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
  EXPECT_EQ(w.findF32("ln.weight")[3], 4.0f);
  EXPECT_EQ(w.findF32("ln.bias")[0], 5.0f);

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
      EXPECT_EQ(w.findF32("h.0.ln_1.weight")[i], 0.5f * float(i) - 1.0f);
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
  EXPECT_EQ(w.findF32("h.0.ln_1.bias")[0], 2000.0f);
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
  EXPECT_TRUE(std::equal(want.begin(), want.end(), w.f32(3)));

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
  EXPECT_EQ(w.findF32("h.0.attn.proj.weight")[1], 4000.0f + 8);
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

//===----------------------------------------------------------------------===//
// bf16 parameters
//===----------------------------------------------------------------------===//

namespace {
float fromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

/// The bfloat16 pattern of f32 `x`, rounded to nearest even, by comparing distances in double
/// (not the runtime's bit trick); NaN gives 0xffff, which no load may produce from a NaN's
/// place (the callers check NaN-ness separately).
uint16_t expectBf16(float x) {
  uint32_t bits = bitsOf(x);
  if (std::isnan(x))
    return 0xffff;
  if (std::isinf(x))
    return uint16_t(bits >> 16);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000), lo = uint16_t((bits >> 16) & 0x7fff);
  uint16_t hi = uint16_t(lo + 1);
  double ax = std::fabs(double(x)), vlo = double(fromBits(uint32_t(lo) << 16));
  double vhi = hi == 0x7f80 ? std::ldexp(1.0, 128) : double(fromBits(uint32_t(hi) << 16));
  double dlo = ax - vlo, dhi = vhi - ax;
  uint16_t pick = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) ? hi : lo);
  return uint16_t(sign | pick);
}

/// Compares a loaded bf16 parameter with the expected f32 values rounded to nearest even.
void expectRounded(const WeightSet &w, const char *name, const std::vector<float> &want) {
  size_t i = w.indexOf(name);
  ASSERT_LT(i, w.size()) << name;
  ASSERT_EQ(w.dtype(i), DType::BF16) << name;
  ASSERT_EQ(w.byteSize(i), 2 * want.size()) << name;
  EXPECT_EQ(w.f32(i), nullptr) << name;
  const uint16_t *got = static_cast<const uint16_t *>(w.bytes(i));
  for (size_t k = 0; k < want.size(); ++k) {
    if (std::isnan(want[k])) {
      EXPECT_EQ(got[k] & 0x7f80, 0x7f80) << name << "[" << k << "] is not a NaN";
      EXPECT_NE(got[k] & 0x007f, 0) << name << "[" << k << "] is not a NaN";
    } else {
      ASSERT_EQ(got[k], expectBf16(want[k]))
          << name << "[" << k << "] from f32 0x" << std::hex << bitsOf(want[k]);
    }
  }
}

/// sampleManifest() with its matrices (wte and the attention weights) as bf16.
Manifest bf16SampleManifest() {
  Manifest m = sampleManifest();
  for (Parameter &p : m.parameters)
    if (p.shape.size() == 2)
      p.dtype = DType::BF16;
  return m;
}

/// Kiln parameter values of the HfCheckpoint layout: q/k/v[o][i] = c_attn[i][part * 8 + o],
/// proj[o][i] = c_proj[i][o].
std::vector<float> attnPart(const std::vector<float> &cattn, int part) {
  std::vector<float> v(64);
  for (int o = 0; o < 8; ++o)
    for (int i = 0; i < 8; ++i)
      v[o * 8 + i] = cattn[i * 24 + part * 8 + o];
  return v;
}
std::vector<float> projOf(const std::vector<float> &cproj) {
  std::vector<float> v(64);
  for (int o = 0; o < 8; ++o)
    for (int i = 0; i < 8; ++i)
      v[o * 8 + i] = cproj[i * 8 + o];
  return v;
}
} // namespace

TEST(Bf16Parameters, F32CheckpointIsRoundedToNearestEven) {
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("transformer.", false);
  // Values around every rounding case, in the fused, transposed c_attn and in wte.
  const uint32_t special[] = {
      0x3f800000, 0x3f808000, 0x3f818000, 0xbf818000, 0x3f808001, 0x3f807fff, 0x3fffffff,
      0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff, 0x80000000, 0x7f800000, 0xff800000,
      0x7fc00000, 0x7f800001, 0x00000001, 0x00008000, 0x00018000, 0x80008001, 0x007fffff};
  for (size_t k = 0; k < std::size(special); ++k) {
    ck.cattn[k * 9] = fromBits(special[k]);
    ck.wte[k * 31] = fromBits(special[k]);
  }
  for (size_t k = 0; k < ck.wte.size(); ++k) // many values with bits below the bf16 mantissa
    if (k % 31 != 0)
      ck.wte[k] = float(k) * 1.0009765625f + 1.0f / 3.0f;
  e[0].data = ck.wte.data();
  e[3].data = ck.cattn.data();
  std::string path = tempPath("f32-into-bf16.safetensors");
  ASSERT_TRUE(writeSafetensors(path, e).ok());
  WeightSet w;
  Status s = WeightSet::load(bf16SampleManifest(), path, w);
  ASSERT_TRUE(s.ok()) << s.message();
  expectRounded(w, "wte.weight", ck.wte);
  const char *parts[] = {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"};
  for (int part = 0; part < 3; ++part)
    expectRounded(w, parts[part], attnPart(ck.cattn, part));
  expectRounded(w, "h.0.attn.proj.weight", projOf(ck.cproj));
  // Vectors stay f32, bit for bit, in place.
  size_t ln = w.indexOf("h.0.ln_1.bias");
  ASSERT_EQ(w.dtype(ln), DType::F32);
  EXPECT_EQ(w.byteSize(ln), 8 * sizeof(float));
  ASSERT_NE(w.f32(ln), nullptr);
  EXPECT_EQ(w.f32(ln)[3], 2003.0f);
  EXPECT_EQ(w.findF32("wte.weight"), nullptr); // not f32
  EXPECT_EQ(w.find("wte.weight"), w.bytes(0));
  EXPECT_EQ(w.find("no.such.weight"), nullptr);
  EXPECT_EQ(w.indexOf("no.such.weight"), w.size());
}

TEST(Bf16Parameters, Bf16CheckpointIsUsedInPlace) {
  // kiln init writes bf16 parameters as BF16 tensors: they load in place from the mapping.
  Manifest m = bf16SampleManifest();
  std::string path = tempPath("bf16-init.safetensors");
  ASSERT_TRUE(writeInitializedWeights(m, 7, path).ok());
  SafetensorsFile f;
  ASSERT_TRUE(SafetensorsFile::open(path, f).ok());
  WeightSet w;
  Status s = WeightSet::load(m, f, w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.naming(), "kiln");
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    const Parameter &p = m.parameters[i];
    const SafetensorsTensor *t = f.find(p.name);
    ASSERT_NE(t, nullptr) << p.name;
    EXPECT_EQ(t->dtype, p.dtype) << p.name; // F32 vectors, BF16 matrices
    EXPECT_EQ(w.bytes(i), static_cast<const void *>(f.bytes(*t))) << p.name << " not in place";
    std::vector<float> values(static_cast<size_t>(p.numElements()));
    initializeParameter(p, 7, values.data());
    if (p.dtype == DType::BF16) {
      expectRounded(w, p.name.c_str(), values);
    } else {
      ASSERT_NE(w.f32(i), nullptr);
      EXPECT_TRUE(std::equal(values.begin(), values.end(), w.f32(i))) << p.name;
    }
  }
}

TEST(Bf16Parameters, Bf16CheckpointIntoF32TableWidens) {
  // Every tensor of the checkpoint stored as BF16 (values exact in bf16), loaded into the f32
  // table: transposes and slices as for f32, each value widened exactly.
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("", false);
  std::vector<std::vector<uint16_t>> bits(e.size());
  std::vector<std::vector<float>> widened(e.size());
  for (size_t t = 0; t < e.size(); ++t) {
    size_t n = 1;
    for (int64_t d : e[t].shape)
      n *= size_t(d);
    const float *src = static_cast<const float *>(e[t].data);
    for (size_t k = 0; k < n; ++k) {
      // Keep 8 significant bits: exact in bf16.
      float v = std::ldexp(std::round(std::ldexp(src[k], -6)), 6) * -0.5f;
      bits[t].push_back(uint16_t(bitsOf(v) >> 16));
      widened[t].push_back(v);
    }
    e[t].dtype = DType::BF16;
    e[t].data = bits[t].data();
  }
  std::string path = tempPath("bf16-into-f32.safetensors");
  ASSERT_TRUE(writeSafetensors(path, e).ok());
  WeightSet w;
  Status s = WeightSet::load(sampleManifest(), path, w);
  ASSERT_TRUE(s.ok()) << s.message();
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(w.dtype(i), DType::F32);
  EXPECT_EQ(w.findF32("wte.weight")[8 * 50 + 3], widened[0][8 * 50 + 3]);
  for (int part = 0; part < 3; ++part) {
    std::vector<float> want = attnPart(widened[3], part);
    const char *parts[] = {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"};
    const float *got = w.findF32(parts[part]);
    ASSERT_NE(got, nullptr);
    for (size_t k = 0; k < 64; ++k)
      ASSERT_EQ(got[k], want[k]) << parts[part] << " " << k;
  }
}

TEST(Bf16Parameters, TransposedAndSlicedTensorsIntoBf16) {
  // A Hugging Face checkpoint with the fused c_attn stored as BF16 and c_proj as F16: the
  // bf16 parameters taken from them by slice and transpose are the stored bf16 values moved
  // (no rounding at all), and the f16 values rounded once (f16 -> f32 is exact).
  HfCheckpoint ck;
  std::vector<SafetensorsEntry> e = ck.entries("transformer.", false);
  std::vector<uint16_t> cattnBits(8 * 24);
  std::vector<float> cattnValues(8 * 24);
  for (size_t k = 0; k < cattnBits.size(); ++k) {
    cattnBits[k] = uint16_t(0x3c00 + k * 97 + (k % 5 ? 0 : 0x8000)); // sign in some
    cattnValues[k] = fromBits(uint32_t(cattnBits[k]) << 16);
  }
  std::vector<uint16_t> cprojHalf(64);
  std::vector<float> cprojValues(64);
  for (size_t k = 0; k < 64; ++k) {
    // 11 significant bits: exact in f16, most not exact in bf16.
    float v = (1025.0f + float(k * 13)) / 512.0f;
    _Float16 h = static_cast<_Float16>(v);
    std::memcpy(&cprojHalf[k], &h, 2);
    cprojValues[k] = v;
  }
  e[3].dtype = DType::BF16;
  e[3].data = cattnBits.data();
  e[4].dtype = DType::F16;
  e[4].data = cprojHalf.data();
  std::string path = tempPath("hf-bf16-f16.safetensors");
  ASSERT_TRUE(writeSafetensors(path, e).ok());
  WeightSet w;
  Status s = WeightSet::load(bf16SampleManifest(), path, w);
  ASSERT_TRUE(s.ok()) << s.message();
  const char *parts[] = {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"};
  for (int part = 0; part < 3; ++part) {
    const uint16_t *got = static_cast<const uint16_t *>(w.find(parts[part]));
    ASSERT_NE(got, nullptr);
    for (int o = 0; o < 8; ++o)
      for (int i = 0; i < 8; ++i)
        ASSERT_EQ(got[o * 8 + i], cattnBits[size_t(i * 24 + part * 8 + o)])
            << parts[part] << " " << o << "," << i;
  }
  expectRounded(w, "h.0.attn.proj.weight", projOf(cprojValues));
  // 1025/512 = 0x40002000 in f32: halfway between bf16 0x4000 and 0x4001, goes to the even.
  EXPECT_EQ(static_cast<const uint16_t *>(w.find("h.0.attn.proj.weight"))[0], 0x4000);
}

TEST(Bf16Parameters, LargeTensorsConvertInPiecesAsAWhole) {
  // Bigger than one conversion chunk (untransposed) and wider than one column block
  // (transposed, sliced along either axis), with values whose low bits matter; f32 and bf16
  // tables give the same values, the bf16 ones rounded to nearest even.
  const size_t R = 37, C = 100;      // c_fc-like stored [R, C], sliced along axis 1 in 2
  const size_t R2 = 40, C2 = 45;     // stored [R2, C2], sliced along axis 0 in 2
  const size_t BIG0 = 130, BIG1 = 150; // 19500 elements, untransposed
  auto value = [](size_t t, size_t k) {
    uint32_t x = uint32_t(k * 2654435761u + t * 40503u);
    // Exponents around 1 with every low mantissa pattern, some negative.
    return fromBits(((x & 1) << 31) | ((120u + (x >> 28)) << 23) | ((x >> 5) & 0x7fffff));
  };
  std::vector<float> fused(R * C), rows(R2 * C2), big(BIG0 * BIG1);
  for (size_t k = 0; k < fused.size(); ++k)
    fused[k] = value(1, k);
  for (size_t k = 0; k < rows.size(); ++k)
    rows[k] = value(2, k);
  for (size_t k = 0; k < big.size(); ++k)
    big[k] = value(3, k);
  std::string path = tempPath("large.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {{"fused", DType::F32, {int64_t(R), int64_t(C)}, fused.data(), {}},
                                      {"rows", DType::F32, {int64_t(R2), int64_t(C2)}, rows.data(), {}},
                                      {"big", DType::F32, {int64_t(BIG0), int64_t(BIG1)}, big.data(), {}}})
                  .ok());
  Manifest m;
  m.model = "large";
  auto add = [&](const char *name, std::vector<int64_t> shape, const char *hf, bool transpose,
                 int index, int axis) {
    Parameter p;
    p.name = name;
    p.shape = shape;
    p.hfName = hf;
    p.transpose = transpose;
    if (index >= 0) {
      p.hasSlice = true;
      p.slice = {index, 2, axis};
    }
    m.parameters.push_back(p);
  };
  add("a0", {int64_t(C / 2), int64_t(R)}, "fused", true, 0, 1);
  add("a1", {int64_t(C / 2), int64_t(R)}, "fused", true, 1, 1);
  add("b1", {int64_t(C2), int64_t(R2 / 2)}, "rows", true, 1, 0);
  add("b0", {int64_t(R2 / 2), int64_t(C2)}, "rows", false, 0, 0); // no transpose
  add("big", {int64_t(BIG0), int64_t(BIG1)}, "big", false, -1, 0);
  // The expected Kiln tensors, by index arithmetic on the stored ones.
  std::map<std::string, std::vector<float>> want;
  for (int part = 0; part < 2; ++part) {
    std::vector<float> &v = want[part ? "a1" : "a0"];
    for (size_t o = 0; o < C / 2; ++o)
      for (size_t i = 0; i < R; ++i)
        v.push_back(fused[i * C + part * (C / 2) + o]);
  }
  for (size_t o = 0; o < C2; ++o)
    for (size_t i = 0; i < R2 / 2; ++i)
      want["b1"].push_back(rows[(R2 / 2 + i) * C2 + o]);
  want["b0"].assign(rows.begin(), rows.begin() + (R2 / 2) * C2);
  want["big"] = big;

  WeightSet wf;
  Status s = WeightSet::load(m, path, wf);
  ASSERT_TRUE(s.ok()) << s.message();
  for (const auto &[name, values] : want) {
    const float *got = wf.findF32(name);
    ASSERT_NE(got, nullptr) << name;
    for (size_t k = 0; k < values.size(); ++k)
      ASSERT_EQ(bitsOf(got[k]), bitsOf(values[k])) << name << "[" << k << "]";
  }
  for (Parameter &p : m.parameters)
    p.dtype = DType::BF16;
  WeightSet wb;
  s = WeightSet::load(m, path, wb);
  ASSERT_TRUE(s.ok()) << s.message();
  for (const auto &[name, values] : want)
    expectRounded(wb, name.c_str(), values);
}

TEST(Bf16Parameters, OtherTableDTypesAreRefusedByName) {
  HfCheckpoint ck;
  std::string path = tempPath("for-f16-table.safetensors");
  ASSERT_TRUE(writeSafetensors(path, ck.entries("", false)).ok());
  for (DType t : {DType::F16, DType::F64}) {
    Manifest m = sampleManifest();
    m.parameters[2].dtype = t; // h.0.ln_1.bias
    WeightSet w;
    Status s = WeightSet::load(m, path, w);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Status::Code::Unsupported) << s.message();
    std::string want = path + ": parameter 'h.0.ln_1.bias' of model 'gpt2' is stored as " +
                       dtypeName(t) + " in the parameter table; kiln loads f32 and bf16 parameters "
                       "and int8_row quantized i8 ones";
    EXPECT_EQ(s.message(), want);
    // kiln init refuses it too, and writes nothing.
    std::string out = tempPath("never-written.safetensors");
    s = writeInitializedWeights(m, 1, out);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(contains(s.message(), "parameter 'h.0.ln_1.bias'")) << s.message();
    EXPECT_NE(access(out.c_str(), F_OK), 0);
  }
}

TEST(Bf16Parameters, TrainingNeedsF32Parameters) {
  EXPECT_TRUE(checkTrainableParameters(sampleManifest(), "model.kc").ok());
  Status s = checkTrainableParameters(bf16SampleManifest(), "model.kc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "model.kc: parameter 'wte.weight' is stored as bf16; training needs f32 "
                         "parameters: compile without --weight-dtype=bf16");
}

//===----------------------------------------------------------------------===//
// int8_row parameters: quantized per row from the checkpoint tensor when loaded
//===----------------------------------------------------------------------===//

namespace {
struct QuantizedRow {
  std::vector<float> w;
  std::vector<int> q; // by hand
  float scale;        // by hand
};

void expectQuantized(const float *w, size_t k, const std::vector<int> &q, float scale,
                     const char *what) {
  std::vector<int8_t> got(k, 99);
  float s = -1;
  EXPECT_TRUE(quantizeRowInt8(w, k, got.data(), &s)) << what;
  EXPECT_EQ(s, scale) << what;
  for (size_t i = 0; i < k; ++i)
    EXPECT_EQ(int(got[i]), q[i]) << what << " [" << i << "]";
}
} // namespace

TEST(Int8Parameters, QuantizeRowByHand) {
  // max |w| = 127: scale 1, so w / s is w itself. Ties go to the even neighbour, both ways:
  // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 63.5 -> 64, -63.5 -> -64, -0.5 -> 0.
  QuantizedRow a{{127, 63.5f, -63.5f, 0.5f, -0.5f, 1.5f, 2.5f, -127, 3.49f, -3.51f},
                 {127, 64, -64, 0, 0, 2, 2, -127, 3, -4},
                 1.0f};
  // The largest magnitude is negative: max |w| = 63.5, scale 0.5 exactly, -63.5 -> -127.
  QuantizedRow b{{-63.5f, 0.25f, 0.75f, 1.25f, -0.25f, 31.75f, 10.0f},
                 {-127, 0, 2, 2, 0, 64, 20},
                 0.5f};
  // A scale that is not exact: 1/127 in f32; 1 -> 127, 0.3 * 127 = 38.1 -> 38,
  // -0.7 * 127 = -88.9 -> -89, 0.5 * 127 = 63.5 is no tie once s is rounded (63.500004 or
  // 63.499996), so only the far values are asserted here.
  QuantizedRow c{{1.0f, 0.3f, -0.7f}, {127, 38, -89}, 1.0f / 127.0f};
  // A zero row: scale 1 and every q 0.
  QuantizedRow z{{0.0f, -0.0f, 0.0f}, {0, 0, 0}, 1.0f};
  const std::pair<const QuantizedRow *, const char *> rows[] = {
      {&a, "a"}, {&b, "b"}, {&c, "c"}, {&z, "zero"}};
  for (const auto &[row, what] : rows)
    expectQuantized(row->w.data(), row->w.size(), row->q, row->scale, what);
  // A row holding an infinity or a NaN cannot be quantized.
  for (float bad : {INFINITY, -INFINITY, NAN}) {
    float w[3] = {1.0f, bad, 2.0f};
    int8_t q[3];
    float s;
    EXPECT_FALSE(quantizeRowInt8(w, 3, q, &s));
  }
}

TEST(Int8Parameters, LongRowsRoundHalfToEvenInEveryLane) {
  // Long rows take the vectorized loops: halves at every position (and lane) of a 1003-value
  // row, max |w| = 127 so that w / s is w itself, against std::nearbyint (round half to even).
  std::vector<float> w(1003);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(int(i % 255) - 127) * (i % 3 == 0 ? 1.0f : 0.5f) + (i % 7 == 0 ? 0.25f : 0.0f);
  w[500] = 127.0f;
  std::vector<int> q(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    q[i] = int(std::nearbyint(w[i]));
  expectQuantized(w.data(), w.size(), q, 1.0f, "long");
  // An infinity or a NaN anywhere in a long row is found.
  for (size_t at : {size_t(0), size_t(17), size_t(1002)}) {
    std::vector<float> bad = w;
    bad[at] = at == 17 ? NAN : -INFINITY;
    std::vector<int8_t> out(bad.size());
    float s;
    EXPECT_FALSE(quantizeRowInt8(bad.data(), bad.size(), out.data(), &s)) << at;
  }
}

namespace {
/// A table with one int8_row matrix `w` [3, 4] (checkpoint name `hf.w`, stored transposed
/// when `transpose`) and its scales `w.scale`, between two f32 vectors.
Manifest int8Manifest(bool transpose) {
  Manifest m;
  m.model = "q";
  auto add = [&](std::string name, std::vector<int64_t> shape, DType t, std::string hf) {
    Parameter p;
    p.name = std::move(name);
    p.shape = std::move(shape);
    p.dtype = t;
    p.init = InitKind::Ones;
    p.hfName = std::move(hf);
    m.parameters.push_back(p);
    return m.parameters.size() - 1;
  };
  add("a", {4}, DType::F32, "hf.a");
  size_t w = add("w", {3, 4}, DType::I8, "hf.w");
  m.parameters[w].quant = Quantization::Int8Row;
  m.parameters[w].scale = "w.scale";
  m.parameters[w].transpose = transpose;
  m.parameters[w].init = InitKind::Normal;
  m.parameters[w].initStd = 0.02;
  size_t s = add("w.scale", {3}, DType::F32, "");
  m.parameters[s].scaleOf = "w";
  add("b", {4}, DType::F32, "hf.b");
  return m;
}

// Rows exact in bf16 and f16 with exact scales: 127/64 -> s = 1/64; 1.5/64 -> 1.5 -> 2;
// 0.5/64 -> 0.5 -> 0; -0.5 -> -32. Row 1: 2.5/32 with max 127/32: s = 1/32, 2.5 -> 2;
// -3.5/32 -> -3.5 -> -4. Row 2 is zeros.
const float kW[3][4] = {{1.984375f, -0.5f, 0.0078125f, 0.0234375f},
                        {0.078125f, 3.96875f, -0.109375f, 0.0f},
                        {0.0f, 0.0f, 0.0f, 0.0f}};
const int kQ[3][4] = {{127, -32, 0, 2}, {2, 127, -4, 0}, {0, 0, 0, 0}};
const float kS[3] = {1.0f / 64, 1.0f / 32, 1.0f};

void expectInt8Loaded(const WeightSet &ws, const char *what) {
  size_t w = ws.indexOf("w"), s = ws.indexOf("w.scale");
  ASSERT_LT(w, ws.size());
  ASSERT_LT(s, ws.size());
  EXPECT_EQ(ws.dtype(w), DType::I8);
  EXPECT_EQ(ws.byteSize(w), 12u);
  const int8_t *q = static_cast<const int8_t *>(ws.bytes(w));
  const float *scale = ws.f32(s);
  ASSERT_NE(scale, nullptr);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(scale[r], kS[r]) << what << " row " << r;
    for (int k = 0; k < 4; ++k)
      EXPECT_EQ(int(q[r * 4 + k]), kQ[r][k]) << what << " " << r << "," << k;
  }
}
} // namespace

TEST(Int8Parameters, QuantizedFromF32F16AndBf16Checkpoints) {
  std::vector<float> vec(4, 1.0f), flat(&kW[0][0], &kW[0][0] + 12), transposed(12);
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 4; ++k)
      transposed[k * 3 + r] = kW[r][k];
  std::vector<uint16_t> bf(12), half(12), bfT(12);
  for (size_t i = 0; i < 12; ++i) {
    uint32_t b = bitsOf(flat[i]);
    bf[i] = uint16_t(b >> 16); // exact: the low half is zero
    EXPECT_EQ(b & 0xffff, 0u);
    _Float16 h = static_cast<_Float16>(flat[i]);
    std::memcpy(&half[i], &h, 2);
    bfT[i] = uint16_t(bitsOf(transposed[i]) >> 16);
  }
  struct Case {
    const char *what;
    DType t;
    const void *data;
    bool transpose;
  };
  for (const Case &c : {Case{"f32", DType::F32, flat.data(), false},
                        Case{"f16", DType::F16, half.data(), false},
                        Case{"bf16", DType::BF16, bf.data(), false},
                        Case{"f32 transposed", DType::F32, transposed.data(), true},
                        Case{"bf16 transposed", DType::BF16, bfT.data(), true}}) {
    std::vector<int64_t> shape = c.transpose ? std::vector<int64_t>{4, 3}
                                             : std::vector<int64_t>{3, 4};
    std::string path = tempPath("int8.safetensors");
    ASSERT_TRUE(writeSafetensors(path, {{"hf.a", DType::F32, {4}, vec.data(), {}},
                                        {"hf.w", c.t, shape, c.data, {}},
                                        {"hf.b", DType::F32, {4}, vec.data(), {}}})
                    .ok());
    WeightSet ws;
    Status s = WeightSet::load(int8Manifest(c.transpose), path, ws);
    ASSERT_TRUE(s.ok()) << c.what << ": " << s.message();
    expectInt8Loaded(ws, c.what);
  }
}

TEST(Int8Parameters, ScalesAreNeverMissingButAFileCannotSupplyThem) {
  std::vector<float> vec(4, 1.0f), flat(&kW[0][0], &kW[0][0] + 12), three(3, 1.0f);
  std::string path = tempPath("int8-missing.safetensors");
  // No hf.w: the matrix is missing, its scales are not.
  ASSERT_TRUE(writeSafetensors(path, {{"hf.a", DType::F32, {4}, vec.data(), {}},
                                      {"hf.b", DType::F32, {4}, vec.data(), {}}})
                  .ok());
  WeightSet ws;
  Status s = WeightSet::load(int8Manifest(false), path, ws);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "missing (1):\n    hf.w (for w)")) << s.message();
  EXPECT_FALSE(contains(s.message(), "w.scale")) << s.message();
  // A tensor named like the scales is not read: it is unexpected.
  ASSERT_TRUE(writeSafetensors(path, {{"a", DType::F32, {4}, vec.data(), {}},
                                      {"w", DType::F32, {3, 4}, flat.data(), {}},
                                      {"w.scale", DType::F32, {3}, three.data(), {}},
                                      {"b", DType::F32, {4}, vec.data(), {}}})
                  .ok());
  s = WeightSet::load(int8Manifest(false), path, ws);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "unexpected (1):\n    w.scale")) << s.message();
  // A mis-shaped matrix is reported as any other.
  std::vector<float> big(15, 0.5f);
  ASSERT_TRUE(writeSafetensors(path, {{"hf.a", DType::F32, {4}, vec.data(), {}},
                                      {"hf.w", DType::F32, {3, 5}, big.data(), {}},
                                      {"hf.b", DType::F32, {4}, vec.data(), {}}})
                  .ok());
  s = WeightSet::load(int8Manifest(false), path, ws);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "hf.w: shape [3, 5] gives [3, 5], but w is [3, 4]"))
      << s.message();
  // A row holding an infinity is refused by name.
  std::vector<float> inf = flat;
  inf[5] = INFINITY;
  ASSERT_TRUE(writeSafetensors(path, {{"hf.a", DType::F32, {4}, vec.data(), {}},
                                      {"hf.w", DType::F32, {3, 4}, inf.data(), {}},
                                      {"hf.b", DType::F32, {4}, vec.data(), {}}})
                  .ok());
  s = WeightSet::load(int8Manifest(false), path, ws);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "hf.w (for w): row 1")) << s.message();
}

TEST(Int8Parameters, InitWritesTheMatrixAsF32AndNoScales) {
  Manifest m = int8Manifest(false);
  std::string path = tempPath("int8-init.safetensors");
  ASSERT_TRUE(writeInitializedWeights(m, 7, path).ok());
  SafetensorsFile f;
  ASSERT_TRUE(SafetensorsFile::open(path, f).ok());
  ASSERT_NE(f.find("w"), nullptr);
  EXPECT_EQ(f.find("w")->dtype, DType::F32);
  EXPECT_EQ(f.find("w.scale"), nullptr);
  // It loads back, quantized like a checkpoint: the largest |value| of each row is +-127.
  WeightSet ws;
  Status s = WeightSet::load(m, f, ws);
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> values(12);
  initializeParameter(m.parameters[1], 7, values.data());
  const int8_t *q = static_cast<const int8_t *>(ws.find("w"));
  const float *scale = ws.findF32("w.scale");
  for (int r = 0; r < 3; ++r) {
    int big = 0;
    for (int k = 0; k < 4; ++k) {
      big = std::max(big, std::abs(int(q[r * 4 + k])));
      EXPECT_NEAR(q[r * 4 + k] * scale[r], values[r * 4 + k], scale[r] / 2 * 1.0001f);
    }
    EXPECT_EQ(big, 127);
  }
  EXPECT_FALSE(checkTrainableParameters(m, "q.kc").ok());
}
