//===- SamplerTest.cpp - Processors, the Rng and sampling ------------------===//
//
// Hand-worked cases from the Hugging Face definitions; reference_test.py compares random
// cases against numpy.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/generate/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::gen;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<int> kept(const std::vector<float> &logits) {
  std::vector<int> ids;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -kInf)
      ids.push_back(int(i));
  return ids;
}

TEST(Rng, SplitMixSeedsXoshiro) {
  // SplitMix64 from seed 0 gives 0xe220a8397b1dcdaf first (Vigna's splitmix64.c); the first
  // xoshiro256** output is rotl(s1 * 5, 7) * 9 of the second SplitMix64 value.
  uint64_t s1 = 0x6e789e6aa1b965f4ull;
  uint64_t expected = ((s1 * 5) << 7 | (s1 * 5) >> 57) * 9;
  Rng rng(0);
  EXPECT_EQ(rng.next(), expected);
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
  }
  for (int i = 0; i < 10000; ++i) {
    double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Options, RangesAreChecked) {
  SamplingOptions o;
  EXPECT_TRUE(o.validate().ok());
  EXPECT_TRUE(o.greedy());
  o.temperature = -1;
  EXPECT_NE(o.validate().message().find("temperature"), std::string::npos);
  o.temperature = std::nanf("");
  EXPECT_FALSE(o.validate().ok());
  o = SamplingOptions();
  o.topK = -3;
  EXPECT_NE(o.validate().message().find("top-k"), std::string::npos);
  o = SamplingOptions();
  o.topP = 1.5f;
  EXPECT_NE(o.validate().message().find("top-p"), std::string::npos);
  o.topP = 0.0f;
  EXPECT_TRUE(o.validate().ok());
  o = SamplingOptions();
  o.repetitionPenalty = 0;
  EXPECT_NE(o.validate().message().find("penalty"), std::string::npos);
  std::unique_ptr<Sampler> s;
  EXPECT_FALSE(Sampler::create(0, SamplingOptions(), s).ok());
}

TEST(RepetitionPenalty, DividesPositiveMultipliesNegative) {
  std::vector<float> l = {2.0f, -2.0f, 0.0f, 3.0f};
  const int32_t ids[] = {0, 1, 2};
  applyRepetitionPenalty(l.data(), ids, 3, 2.0f);
  EXPECT_EQ(l, (std::vector<float>{1.0f, -4.0f, 0.0f, 3.0f}));
  std::vector<float> inf = {-kInf, 5.0f};
  const int32_t both[] = {0, 1};
  applyRepetitionPenalty(inf.data(), both, 2, 0.5f); // a penalty < 1 rewards repeats
  EXPECT_EQ(inf[0], -kInf);
  EXPECT_EQ(inf[1], 10.0f);
}

TEST(Temperature, Divides) {
  std::vector<float> l = {1.0f, -3.0f, -kInf};
  applyTemperature(l.data(), 3, 0.5f);
  EXPECT_EQ(l, (std::vector<float>{2.0f, -6.0f, -kInf}));
}

TEST(TopK, KeepsTiesAtTheKth) {
  std::vector<float> scratch(6);
  std::vector<float> l = {1, 5, 3, 3, 0, 3};
  applyTopK(l.data(), 6, 2, scratch.data());
  EXPECT_EQ(kept(l), (std::vector<int>{1, 2, 3, 5})); // 5 and every 3
  std::vector<float> m = {1, 5, 3, 2};
  applyTopK(m.data(), 4, 0, scratch.data()); // clamped to 1
  EXPECT_EQ(kept(m), (std::vector<int>{1}));
  std::vector<float> n = {1, -kInf, -kInf, 2};
  applyTopK(n.data(), 4, 3, scratch.data()); // fewer finite logits than k
  EXPECT_EQ(kept(n), (std::vector<int>{0, 3}));
}

TEST(TopP, KeepsTheSmallestNucleus) {
  std::vector<int32_t> order(4);
  std::vector<double> w(4);
  // probabilities 0.1, 0.2, 0.3, 0.4: ascending cumulative 0.1, 0.3, 0.6, 1.0.
  auto logits = [] {
    return std::vector<float>{std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  };
  std::vector<float> l = logits();
  applyTopP(l.data(), 4, 0.65f, order.data(), w.data()); // remove cumulative <= 0.35
  EXPECT_EQ(kept(l), (std::vector<int>{2, 3}));
  l = logits();
  applyTopP(l.data(), 4, 0.75f, order.data(), w.data()); // remove cumulative <= 0.25
  EXPECT_EQ(kept(l), (std::vector<int>{1, 2, 3}));
  l = logits();
  applyTopP(l.data(), 4, 0.0f, order.data(), w.data()); // everything but the most probable
  EXPECT_EQ(kept(l), (std::vector<int>{3}));
  l = logits();
  applyTopP(l.data(), 4, 1.0f, order.data(), w.data());
  EXPECT_EQ(kept(l), (std::vector<int>{0, 1, 2, 3}));
  // Ties: ascending order breaks them by ascending id, so the lower ids go first.
  std::vector<float> t = {0, 0, 0, 0};
  applyTopP(t.data(), 4, 0.5f, order.data(), w.data());
  EXPECT_EQ(kept(t), (std::vector<int>{2, 3}));
}

TEST(TopP, LargeVocabularyNeedsSeveralChunks) {
  const int64_t v = 5000;
  std::vector<float> l(v, 0.0f);
  std::vector<int32_t> order(v);
  std::vector<double> w(v);
  applyTopP(l.data(), v, 0.9f, order.data(), w.data()); // uniform: keep 90% of the ids, the highest
  std::vector<int> k = kept(l);
  ASSERT_EQ(k.size(), 4500u);
  EXPECT_EQ(k.front(), 500);
}

TEST(Argmax, LowestIdOnTies) {
  std::vector<float> l = {1, 7, 7, -kInf, 7};
  EXPECT_EQ(argmaxLogit(l.data(), 5), 1);
  std::vector<float> m = {-kInf, -kInf, -1e30f};
  EXPECT_EQ(argmaxLogit(m.data(), 3), 2);
}

TEST(SampleLogit, InverseCdfInIdOrder) {
  std::vector<double> w(4);
  // weights 1, 0, 2, 1 (one logit -inf): cumulative 0.25, 0.25, 0.75, 1.
  std::vector<float> l = {0, -kInf, std::log(2.0f), 0};
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.0, w.data()), 0);
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.2499, w.data()), 0);
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.2501, w.data()), 2);
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.7499, w.data()), 2);
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.7501, w.data()), 3);
  EXPECT_EQ(sampleLogit(l.data(), 4, 0.999999, w.data()), 3);
  std::vector<float> none = {-kInf, -kInf};
  EXPECT_EQ(sampleLogit(none.data(), 2, 0.5, w.data()), -1);
  // +inf (an overflowed temperature) shares the mass equally.
  std::vector<float> inf = {kInf, 1e30f, kInf};
  EXPECT_EQ(sampleLogit(inf.data(), 3, 0.4, w.data()), 0);
  EXPECT_EQ(sampleLogit(inf.data(), 3, 0.6, w.data()), 2);
}

/// Pearson's chi-square statistic of `counts` against `probs`.
double chiSquare(const std::vector<long> &counts, const std::vector<double> &probs, long n) {
  double x2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "id " << i << " has probability 0";
      continue;
    }
    double e = probs[i] * double(n);
    x2 += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
  }
  return x2;
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  // Temperature 0.7, top-k 6, top-p 0.9 on 8 logits; the expected distribution is worked out
  // here from the definitions in double precision.
  const std::vector<float> logits = {1.0f, 2.5f, -0.5f, 2.0f, 0.3f, 1.7f, -2.0f, 0.9f};
  SamplingOptions o;
  o.temperature = 0.7f;
  o.topK = 6;
  o.topP = 0.9f;
  o.seed = 1234;
  std::vector<double> scaled(8);
  for (int i = 0; i < 8; ++i)
    scaled[i] = double(logits[i]) / 0.7;
  // top-k 6 drops the two smallest (ids 6 and 2); then softmax over the rest.
  std::vector<int> order = {1, 3, 5, 0, 7, 4};
  double z = 0;
  for (int i : order)
    z += std::exp(scaled[i]);
  std::vector<double> p(8, 0.0);
  double above = 0;
  for (int i : order) {
    if (i != order[0] && 1.0 - above <= 1.0 - 0.9) // top-p: drop the tail of mass <= 0.1
      break;
    p[i] = std::exp(scaled[i]) / z;
    above += p[i];
  }
  double keptMass = std::accumulate(p.begin(), p.end(), 0.0);
  for (double &x : p)
    x /= keptMass;
  ASSERT_EQ(std::count_if(p.begin(), p.end(), [](double x) { return x > 0; }), 4)
      << "the case should exercise top-p";

  std::unique_ptr<Sampler> s;
  ASSERT_TRUE(Sampler::create(8, o, s).ok());
  s->reset(nullptr, 0);
  const long n = 200000;
  std::vector<long> counts(8, 0);
  std::vector<float> row;
  for (long i = 0; i < n; ++i) {
    row = logits;
    int32_t t = -1;
    ASSERT_TRUE(s->next(row.data(), t).ok());
    ++counts[size_t(t)];
  }
  // 3 degrees of freedom (4 kept ids); P(X2 > 16.27) = 0.001.
  EXPECT_LT(chiSquare(counts, p, n), 16.27);
}

TEST(Sampler, SameSeedSameTokensAndResetRestarts) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.seed = 7;
  std::unique_ptr<Sampler> a, b;
  ASSERT_TRUE(Sampler::create(50, o, a).ok());
  ASSERT_TRUE(Sampler::create(50, o, b).ok());
  std::vector<float> base(50);
  for (int i = 0; i < 50; ++i)
    base[size_t(i)] = float((i * 37) % 11) * 0.3f;
  auto run = [&](Sampler &s) {
    s.reset(nullptr, 0);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> row = base;
      int32_t t;
      EXPECT_TRUE(s.next(row.data(), t).ok());
      out.push_back(t);
    }
    return out;
  };
  std::vector<int32_t> first = run(*a);
  EXPECT_EQ(first, run(*b));
  EXPECT_EQ(first, run(*a));
}

TEST(Sampler, GreedyAppliesOnlyThePenalty) {
  SamplingOptions o;
  o.repetitionPenalty = 4.0f;
  o.topK = 1; // ignored when greedy, as in Hugging Face
  std::unique_ptr<Sampler> s;
  ASSERT_TRUE(Sampler::create(4, o, s).ok());
  const int32_t prompt[] = {2, 2, 0};
  s->reset(prompt, 3);
  EXPECT_EQ(s->historySize(), 2);
  std::vector<float> l = {3.0f, 1.0f, 2.0f, 0.5f}; // penalized: 0.75, 1, 0.5, 0.5
  int32_t t;
  ASSERT_TRUE(s->next(l.data(), t).ok());
  EXPECT_EQ(t, 1);
  EXPECT_EQ(l[0], 0.75f);
  l = {3.0f, 1.0f, 2.0f, 0.5f}; // now 1 is penalized too: 0.75, 0.25, 0.5, 0.5
  ASSERT_TRUE(s->next(l.data(), t).ok());
  EXPECT_EQ(t, 0);
}

TEST(Sampler, NonFiniteLogitsAreErrors) {
  std::unique_ptr<Sampler> s;
  ASSERT_TRUE(Sampler::create(3, SamplingOptions(), s).ok());
  s->reset(nullptr, 0);
  std::vector<float> l = {0.0f, std::nanf(""), 1.0f};
  int32_t t;
  Status st = s->next(l.data(), t);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("id 1"), std::string::npos) << st.message();
  l = {0.0f, kInf, 1.0f};
  EXPECT_FALSE(s->next(l.data(), t).ok());
  l = {-kInf, -kInf, -kInf};
  st = s->next(l.data(), t);
  EXPECT_NE(st.message().find("nothing to choose"), std::string::npos) << st.message();
}

} // namespace
