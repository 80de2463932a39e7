//===- Sampler.h - Logits processors and token sampling ---------*- C++ -*-===//
//
// Turns one step's logits into the next token with Hugging Face `generate()` semantics: the
// repetition penalty, then (when sampling) temperature, top-k and top-p, then a draw from the
// softmax with a seeded, portable generator; greedy decoding (argmax) when the temperature is
// 0. See docs/generation.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_GENERATE_SAMPLER_H
#define KILN_RT_GENERATE_SAMPLER_H

#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace kiln::rt::gen {

/// The portable pseudo-random generator of sampling: xoshiro256** (Blackman and Vigna, 2018)
/// whose 256-bit state is filled by four SplitMix64 steps from the 64-bit seed. The same seed
/// gives the same numbers on every machine and with every standard library.
class Rng {
public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  /// The next 64 random bits.
  uint64_t next();
  /// A double uniform in [0, 1): the top 53 bits of next() times 2^-53.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state_[4];
};

/// How the next token is chosen. The defaults are greedy decoding with no penalty.
struct SamplingOptions {
  /// 0: greedy (argmax, the lowest id on ties). > 0: sample from softmax(logits / temperature).
  float temperature = 0.0f;
  /// Keep only the tokens whose logit is at least the k-th largest (ties kept). 0: off.
  int64_t topK = 0;
  /// Keep the most probable tokens whose probabilities sum to top-p (nucleus). 1: off.
  float topP = 1.0f;
  /// CTRL's penalty on every token already in the prompt or the output. 1: off.
  float repetitionPenalty = 1.0f;
  /// Seed of the Rng (only sampling draws from it).
  uint64_t seed = 0;

  bool greedy() const { return temperature == 0.0f; }
  /// Checks the ranges: temperature finite and >= 0, top-k >= 0, top-p in [0, 1], the
  /// repetition penalty finite and > 0.
  Status validate() const;
};

//===----------------------------------------------------------------------===//
// The processors, one function each, in place on one row of `vocab` logits. Each is the
// Hugging Face class of the same name; docs/generation.md gives the definitions.
//===----------------------------------------------------------------------===//

/// RepetitionPenaltyLogitsProcessor: for each id in `distinctIds` (no repeats), a logit l
/// becomes l * penalty when l < 0 and l / penalty otherwise.
void applyRepetitionPenalty(float *logits, const int32_t *distinctIds, int64_t count,
                            float penalty);
/// TemperatureLogitsWarper: every logit divided by `temperature` (> 0).
void applyTemperature(float *logits, int64_t vocab, float temperature);
/// TopKLogitsWarper: logits below the k-th largest become -inf (k clamped to [1, vocab]).
/// `scratch` holds `vocab` floats.
void applyTopK(float *logits, int64_t vocab, int64_t k, float *scratch);
/// TopPLogitsWarper: with the logits sorted ascending (ties by ascending id), the tokens whose
/// cumulative softmax probability (double precision) is <= 1 - topP become -inf; the most
/// probable one always stays. `order` and `weights` hold `vocab` values each.
void applyTopP(float *logits, int64_t vocab, float topP, int32_t *order, double *weights);
/// The id of the largest logit, the lowest such id on ties.
int32_t argmaxLogit(const float *logits, int64_t vocab);
/// Inverse-CDF draw from softmax(logits) for `u` in [0, 1): walking ids upward, the first id
/// whose cumulative weight exp(l - max) exceeds u times the total (in double). +inf logits
/// (an overflowed temperature) share the whole mass equally. Returns -1 when every logit is
/// -inf. `weights` holds `vocab` doubles.
int32_t sampleLogit(const float *logits, int64_t vocab, double u, double *weights);

/// Chooses tokens step by step. It remembers the ids seen so far (for the penalty) and owns
/// every buffer it needs, so next() never allocates.
class Sampler {
public:
  /// A sampler for a vocabulary of `vocab` ids; fails when `options` is out of range.
  static Status create(int64_t vocab, const SamplingOptions &options,
                       std::unique_ptr<Sampler> &out);

  /// Forgets the history, reseeds the Rng, and records `prompt` (ids in [0, vocab)) for the
  /// repetition penalty.
  void reset(const int32_t *prompt, int64_t count);
  /// Processes `logits` in place and writes the chosen token. The token joins the history.
  /// Fails when a logit is NaN or +inf, or when no token is left to choose.
  Status next(float *logits, int32_t &token);

  const SamplingOptions &options() const { return options_; }
  int64_t vocabSize() const { return vocab_; }
  /// The distinct ids of the history, in order of first appearance.
  const int32_t *history() const { return distinct_.data(); }
  int64_t historySize() const { return distinctCount_; }

private:
  Sampler(int64_t vocab, const SamplingOptions &options);
  void observe(int32_t id);

  int64_t vocab_;
  SamplingOptions options_;
  Rng rng_;
  std::vector<uint8_t> seen_;
  std::vector<int32_t> distinct_;
  int64_t distinctCount_ = 0;
  std::vector<int32_t> order_;
  std::vector<float> values_;
  std::vector<double> weights_;
};

} // namespace kiln::rt::gen

#endif // KILN_RT_GENERATE_SAMPLER_H
