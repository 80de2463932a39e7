//===- GeneratorTest.cpp - The generation loop over a toy model -----------===//
#include "kiln/rt/generate/Generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

// Counts every operator new in the process, to check that the loop allocates nothing.
static std::atomic<long> gAllocations{0};
void *operator new(size_t size) {
  gAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(size ? size : 1))
    return p;
  throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }

using namespace kiln::rt;
using namespace kiln::rt::gen;

namespace {

/// A bigram model: the logits after id t are row t of a table whose largest entry is at
/// (7 * t + 3) mod vocab. It records every call in preallocated arrays.
class BigramSource : public LogitsSource {
public:
  BigramSource(int64_t vocab, int64_t capacity) : vocab_(vocab), capacity_(capacity) {
    table_.resize(size_t(vocab * vocab));
    for (int64_t t = 0; t < vocab; ++t)
      for (int64_t j = 0; j < vocab; ++j)
        table_[size_t(t * vocab + j)] = float((j * 13 + t * 5) % 17) * 0.1f;
    for (int64_t t = 0; t < vocab; ++t)
      table_[size_t(t * vocab + (7 * t + 3) % vocab)] = 10.0f;
    fed_.reserve(size_t(capacity));
  }
  static int32_t next(int32_t t, int64_t vocab) { return int32_t((7 * t + 3) % vocab); }

  int64_t vocabSize() const override { return vocab_; }
  int64_t capacity() const override { return capacity_; }
  Status prefill(const int32_t *ids, int64_t count, float *logits) override {
    ++prefills;
    if (int64_t(fed_.size()) + count > capacity_)
      return Status::invalid("prefill past the capacity");
    fed_.insert(fed_.end(), ids, ids + count);
    return row(ids[count - 1], logits);
  }
  Status decode(int32_t id, float *logits) override {
    if (int64_t(fed_.size()) >= capacity_)
      return Status::invalid("decode past the capacity");
    if (failAt >= 0 && int64_t(fed_.size()) == failAt)
      return Status::invalid("toy model failure");
    fed_.push_back(id);
    return row(id, logits);
  }
  void reset() { fed_.clear(); prefills = 0; }
  const std::vector<int32_t> &fed() const { return fed_; }

  int prefills = 0;
  int64_t failAt = -1;

private:
  Status row(int32_t id, float *logits) {
    std::copy_n(table_.begin() + id * vocab_, vocab_, logits);
    return Status::success();
  }
  int64_t vocab_, capacity_;
  std::vector<float> table_;
  std::vector<int32_t> fed_;
};

struct GenRun {
  std::vector<int32_t> tokens;
  GenerationStats stats;
  Status status;
};

GenRun generate(BigramSource &src, const GenerationOptions &o, std::vector<int32_t> prompt) {
  std::unique_ptr<Generator> g;
  GenRun r;
  r.status = Generator::create(src, o, g);
  if (!r.status.ok())
    return r;
  r.status = g->generate(prompt.data(), int64_t(prompt.size()), [&](int32_t t) {
    r.tokens.push_back(t);
    return true;
  }, r.stats);
  return r;
}

std::vector<int32_t> greedyChain(int32_t from, int n, int64_t vocab) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(from = BigramSource::next(from, vocab));
  return out;
}

TEST(Generator, GreedyFollowsTheModelAndStopsAtMaxNewTokens) {
  BigramSource src(32, 64);
  GenerationOptions o;
  o.maxNewTokens = 10;
  GenRun r = generate(src, o, {5, 9, 1});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.tokens, greedyChain(1, 10, 32));
  EXPECT_EQ(r.stats.stopReason, StopReason::MaxNewTokens);
  EXPECT_EQ(r.stats.promptTokens, 3);
  EXPECT_EQ(r.stats.newTokens, 10);
  // One prefill of the prompt, then each token but the last is fed back, in order.
  EXPECT_EQ(src.prefills, 1);
  std::vector<int32_t> fed = {5, 9, 1};
  fed.insert(fed.end(), r.tokens.begin(), r.tokens.end() - 1);
  EXPECT_EQ(src.fed(), fed);
  EXPECT_GE(r.stats.timeToFirstTokenMs, r.stats.prefillMs);
}

TEST(Generator, StopsAtAnyEosAndStreamsIt) {
  BigramSource src(32, 64);
  GenerationOptions o;
  o.maxNewTokens = 20;
  std::vector<int32_t> chain = greedyChain(1, 20, 32);
  o.eosIds = {31, chain[4]}; // 31 never comes; the 5th token does
  GenRun r = generate(src, o, {1});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.tokens, std::vector<int32_t>(chain.begin(), chain.begin() + 5));
  EXPECT_EQ(r.stats.stopReason, StopReason::Eos);
  EXPECT_STREQ(stopReasonName(r.stats.stopReason), "eos");
}

TEST(Generator, EosInThePromptDoesNotStop) {
  BigramSource src(32, 64);
  GenerationOptions o;
  o.maxNewTokens = 3;
  o.eosIds = {1};
  GenRun r = generate(src, o, {1, 1});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.tokens.size(), 3u);
}

TEST(Generator, StopsAtCapacity) {
  BigramSource src(32, 8);
  GenerationOptions o;
  o.maxNewTokens = 100;
  GenRun r = generate(src, o, {2, 3, 4});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.tokens.size(), 5u); // prompt + output = 8 positions
  EXPECT_EQ(r.stats.stopReason, StopReason::Capacity);
  // Exactly at the capacity, max-new-tokens is the reason.
  src.reset();
  o.maxNewTokens = 5;
  r = generate(src, o, {2, 3, 4});
  EXPECT_EQ(r.tokens.size(), 5u);
  EXPECT_EQ(r.stats.stopReason, StopReason::MaxNewTokens);
  // A prompt that fills the context leaves no room.
  src.reset();
  r = generate(src, o, std::vector<int32_t>(8, 1));
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_EQ(r.stats.stopReason, StopReason::Capacity);
}

TEST(Generator, CallbackCanStop) {
  BigramSource src(32, 64);
  GenerationOptions o;
  o.maxNewTokens = 10;
  std::unique_ptr<Generator> g;
  ASSERT_TRUE(Generator::create(src, o, g).ok());
  const int32_t prompt[] = {3};
  int seen = 0;
  GenerationStats stats;
  ASSERT_TRUE(g->generate(prompt, 1, [&](int32_t) { return ++seen < 4; }, stats).ok());
  EXPECT_EQ(seen, 4);
  EXPECT_EQ(stats.stopReason, StopReason::Callback);
}

TEST(Generator, BadPromptsAndOptionsAreErrors) {
  BigramSource src(32, 8);
  GenerationOptions o;
  GenRun r = generate(src, o, {});
  EXPECT_NE(r.status.message().find("empty"), std::string::npos);
  r = generate(src, o, {1, 32});
  EXPECT_NE(r.status.message().find("prompt id 32 at position 1"), std::string::npos)
      << r.status.message();
  r = generate(src, o, {-1});
  EXPECT_FALSE(r.status.ok());
  r = generate(src, o, std::vector<int32_t>(9, 1));
  EXPECT_NE(r.status.message().find("context holds 8"), std::string::npos);
  o.eosIds = {40};
  r = generate(src, o, {1});
  EXPECT_NE(r.status.message().find("end-of-sequence id 40"), std::string::npos);
  o = GenerationOptions();
  o.maxNewTokens = -1;
  EXPECT_FALSE(generate(src, o, {1}).status.ok());
  o = GenerationOptions();
  o.sampling.topP = 2;
  EXPECT_FALSE(generate(src, o, {1}).status.ok());
  EXPECT_EQ(src.prefills, 0);
}

TEST(Generator, SourceErrorsStopTheLoop) {
  BigramSource src(32, 64);
  src.failAt = 4;
  GenerationOptions o;
  o.maxNewTokens = 10;
  GenRun r = generate(src, o, {1, 2});
  EXPECT_EQ(r.status.message(), "toy model failure");
  EXPECT_EQ(r.tokens.size(), 3u); // from the prefill and the decodes at positions 2 and 3
}

TEST(Generator, SamplingIsReproducibleAcrossRuns) {
  BigramSource src(32, 256);
  GenerationOptions o;
  o.maxNewTokens = 100;
  o.sampling.temperature = 3.0f; // flat enough to leave the greedy chain
  o.sampling.seed = 99;
  GenRun a = generate(src, o, {1});
  src.reset();
  GenRun b = generate(src, o, {1});
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, greedyChain(1, 100, 32));
  src.reset();
  o.sampling.seed = 100;
  EXPECT_NE(generate(src, o, {1}).tokens, a.tokens);
}

TEST(Generator, LoopAllocatesNothing) {
  const int64_t vocab = 512;
  BigramSource src(vocab, 1024);
  GenerationOptions o;
  o.maxNewTokens = 500;
  o.sampling.temperature = 0.8f;
  o.sampling.topK = 40;
  o.sampling.topP = 0.9f;
  o.sampling.repetitionPenalty = 1.3f;
  std::unique_ptr<Generator> g;
  ASSERT_TRUE(Generator::create(src, o, g).ok());
  std::vector<int32_t> prompt = {1, 2, 3, 4}, out(600);
  size_t n = 0;
  GenerationStats stats;
  long before = gAllocations.load();
  Status s = g->generate(prompt.data(), 4, [&](int32_t t) {
    out[n++] = t;
    return true;
  }, stats);
  long after = gAllocations.load();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(n, 500u);
  EXPECT_EQ(after - before, 0) << "allocations during generate()";
}

} // namespace
