//===- Sampler.cpp - Logits processors and token sampling -----------------===//
#include "kiln/rt/generate/Sampler.h"

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

using namespace kiln::rt;
using namespace kiln::rt::gen;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t splitMix64(uint64_t &x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// The unnormalized softmax weight of a logit, given the row's maximum. A +inf maximum (an
/// overflowed temperature) is the limit of the softmax: the +inf logits share the mass.
inline double weight(float logit, float max) {
  if (std::isinf(max) && max > 0)
    return logit == max ? 1.0 : 0.0;
  return std::exp(double(logit) - double(max));
}

float maxLogit(const float *logits, int64_t vocab) {
  float m = kNegInf;
  for (int64_t i = 0; i < vocab; ++i)
    m = std::max(m, logits[i]);
  return m;
}

std::string formatFloat(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", double(v));
  return buf;
}

} // namespace

//===----------------------------------------------------------------------===//
// Rng
//===----------------------------------------------------------------------===//

void Rng::reseed(uint64_t seed) {
  for (uint64_t &s : state_)
    s = splitMix64(seed);
}

uint64_t Rng::next() {
  uint64_t *s = state_;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

Status SamplingOptions::validate() const {
  if (!std::isfinite(temperature) || temperature < 0)
    return Status::invalid("temperature must be a finite number >= 0 (0: greedy), got " +
                           formatFloat(temperature));
  if (topK < 0)
    return Status::invalid("top-k must be >= 0 (0: off), got " + std::to_string(topK));
  if (!(topP >= 0 && topP <= 1))
    return Status::invalid("top-p must be in [0, 1] (1: off), got " + formatFloat(topP));
  if (!std::isfinite(repetitionPenalty) || repetitionPenalty <= 0)
    return Status::invalid("the repetition penalty must be a finite number > 0 (1: off), got " +
                           formatFloat(repetitionPenalty));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Processors
//===----------------------------------------------------------------------===//

void kiln::rt::gen::applyRepetitionPenalty(float *logits, const int32_t *distinctIds,
                                           int64_t count, float penalty) {
  if (penalty == 1.0f)
    return;
  for (int64_t i = 0; i < count; ++i) {
    float &l = logits[distinctIds[i]];
    l = l < 0 ? l * penalty : l / penalty;
  }
}

void kiln::rt::gen::applyTemperature(float *logits, int64_t vocab, float temperature) {
  if (temperature == 1.0f)
    return;
  for (int64_t i = 0; i < vocab; ++i)
    logits[i] = logits[i] / temperature;
}

void kiln::rt::gen::applyTopK(float *logits, int64_t vocab, int64_t k, float *scratch) {
  k = std::max<int64_t>(k, 1);
  if (k >= vocab)
    return;
  std::copy_n(logits, vocab, scratch);
  std::nth_element(scratch, scratch + (k - 1), scratch + vocab, std::greater<float>());
  const float kth = scratch[k - 1];
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] < kth)
      logits[i] = kNegInf;
}

namespace {

/// Writes each logit's softmax weight exp(l - max) (see weight()) to `weights`; returns the
/// maximum.
float computeWeights(const float *logits, int64_t vocab, double *weights) {
  const float max = maxLogit(logits, vocab);
  if (max == kNegInf) {
    std::fill_n(weights, vocab, 0.0);
    return max;
  }
  for (int64_t i = 0; i < vocab; ++i)
    weights[i] = logits[i] == kNegInf ? 0.0 : weight(logits[i], max);
  return max;
}

/// Top-p on precomputed weights: removed tokens get a -inf logit and a zero weight.
void topPOnWeights(float *logits, double *weights, int64_t vocab, float topP, int32_t *order) {
  // Hugging Face sorts ascending and removes the tokens whose cumulative probability (their
  // own included) is <= 1 - top_p. Walking the same order downward, a token's cumulative
  // probability is 1 minus the mass above it, so the kept tokens are a prefix of the
  // descending order, found without sorting by a selection on mass (expected linear time).
  // Tokens of zero weight are always removed (their cumulative probability is 0), so only the
  // others take part.
  double total = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    total += weights[i];
    if (weights[i] > 0)
      order[n++] = int32_t(i);
  }
  const double limit = (1.0 - double(topP)) * total;
  // The descending order: larger logit first, then larger id (the reverse of a stable
  // ascending sort).
  auto above = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a > b);
  };
  // order[0, lo) are kept and lie above order[lo, n); massAbove is their mass. The first
  // removed rank is in [lo, hi]; order[hi, n) are removed.
  int64_t lo = 0, hi = n;
  double massAbove = 0;
  while (hi - lo > 32) {
    int32_t *first = order + lo, *last = order + hi, *mid = first + (hi - lo) / 2;
    // Median of three as the pivot.
    if (above(*mid, *first))
      std::swap(*mid, *first);
    if (above(*(last - 1), *mid))
      std::swap(*(last - 1), *mid);
    if (above(*mid, *first))
      std::swap(*mid, *first);
    const int32_t pivot = *mid;
    int32_t *split = std::partition(first, last, [&](int32_t a) { return above(a, pivot); });
    std::iter_swap(split, std::find(split, last, pivot));
    double upper = 0;
    for (int32_t *p = first; p != split; ++p)
      upper += weights[*p];
    const int64_t rank = split - order;
    if (rank == 0 || total - (massAbove + upper) > limit) {
      massAbove += upper + weights[pivot]; // the pivot and everything above it stay
      lo = rank + 1;
    } else {
      hi = rank; // the pivot goes, and so does everything below it
    }
  }
  std::sort(order + lo, order + hi, above);
  int64_t kept = hi;
  for (int64_t r = lo; r < hi; ++r) {
    if (r > 0 && total - massAbove <= limit) {
      kept = r;
      break;
    }
    massAbove += weights[order[r]];
  }
  for (int64_t r = kept; r < n; ++r) {
    logits[order[r]] = kNegInf;
    weights[order[r]] = 0.0;
  }
  for (int64_t i = 0; i < vocab; ++i)
    if (weights[i] == 0.0)
      logits[i] = kNegInf;
}

/// The inverse-CDF draw on precomputed weights; -1 when every weight is 0.
int32_t drawOnWeights(const double *weights, int64_t vocab, double u) {
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += weights[i];
  const double target = u * total;
  double acc = 0;
  int32_t last = -1;
  for (int64_t i = 0; i < vocab; ++i) {
    if (weights[i] <= 0)
      continue;
    acc += weights[i];
    last = int32_t(i);
    if (acc > target)
      return last;
  }
  return last; // rounding left the target at the very top
}

} // namespace

void kiln::rt::gen::applyTopP(float *logits, int64_t vocab, float topP, int32_t *order,
                              double *weights) {
  if (topP >= 1.0f || vocab <= 1)
    return;
  if (computeWeights(logits, vocab, weights) == kNegInf)
    return;
  topPOnWeights(logits, weights, vocab, topP, order);
}

int32_t kiln::rt::gen::argmaxLogit(const float *logits, int64_t vocab) {
  int32_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best])
      best = int32_t(i);
  return best;
}

int32_t kiln::rt::gen::sampleLogit(const float *logits, int64_t vocab, double u,
                                   double *weights) {
  computeWeights(logits, vocab, weights);
  return drawOnWeights(weights, vocab, u);
}

//===----------------------------------------------------------------------===//
// Sampler
//===----------------------------------------------------------------------===//

Sampler::Sampler(int64_t vocab, const SamplingOptions &options)
    : vocab_(vocab), options_(options), rng_(options.seed), seen_(size_t(vocab), 0),
      distinct_(size_t(vocab), 0), order_(size_t(vocab), 0), values_(size_t(vocab), 0.0f),
      weights_(size_t(vocab), 0.0) {}

Status Sampler::create(int64_t vocab, const SamplingOptions &options,
                       std::unique_ptr<Sampler> &out) {
  if (vocab <= 0 || vocab > std::numeric_limits<int32_t>::max())
    return Status::invalid("the vocabulary size must be in [1, 2^31), got " +
                           std::to_string(vocab));
  if (Status s = options.validate(); !s.ok())
    return s;
  out.reset(new Sampler(vocab, options));
  return Status::success();
}

void Sampler::observe(int32_t id) {
  if (!seen_[size_t(id)]) {
    seen_[size_t(id)] = 1;
    distinct_[size_t(distinctCount_++)] = id;
  }
}

void Sampler::reset(const int32_t *prompt, int64_t count) {
  for (int64_t i = 0; i < distinctCount_; ++i)
    seen_[size_t(distinct_[size_t(i)])] = 0;
  distinctCount_ = 0;
  rng_.reseed(options_.seed);
  for (int64_t i = 0; i < count; ++i)
    observe(prompt[i]);
}

Status Sampler::next(float *logits, int32_t &token) {
  // NaN and +inf both fail `l <= FLT_MAX`; one branch-free pass.
  bool bad = false;
  for (int64_t i = 0; i < vocab_; ++i)
    bad |= !(logits[i] <= std::numeric_limits<float>::max());
  if (bad)
    for (int64_t i = 0; i < vocab_; ++i)
      if (!(logits[i] <= std::numeric_limits<float>::max()))
        return Status::invalid("the model produced a non-finite logit (" +
                               formatFloat(logits[i]) + " for id " + std::to_string(i) + ")");
  applyRepetitionPenalty(logits, distinct_.data(), distinctCount_, options_.repetitionPenalty);
  if (options_.greedy()) {
    token = argmaxLogit(logits, vocab_);
    if (logits[token] == kNegInf)
      return Status::invalid("every token has a logit of -inf; there is nothing to choose");
  } else {
    applyTemperature(logits, vocab_, options_.temperature);
    if (options_.topK > 0)
      applyTopK(logits, vocab_, options_.topK, values_.data());
    // One pass of exp serves top-p and the draw.
    double *w = weights_.data();
    if (computeWeights(logits, vocab_, w) == kNegInf)
      return Status::invalid("every token has a logit of -inf; there is nothing to choose");
    if (options_.topP < 1.0f)
      topPOnWeights(logits, w, vocab_, options_.topP, order_.data());
    token = drawOnWeights(w, vocab_, rng_.uniform());
  }
  observe(token);
  return Status::success();
}
