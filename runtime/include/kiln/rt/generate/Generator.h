//===- Generator.h - The generation loop ------------------------*- C++ -*-===//
//
// Prefill + decode over any source of next-token logits (a compiled model with its KV cache,
// or a table in tests), choosing each token with a Sampler and streaming it to a callback as it
// is produced. See docs/generation.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_GENERATE_GENERATOR_H
#define KILN_RT_GENERATE_GENERATOR_H

#include "kiln/rt/artifact/Status.h"
#include "kiln/rt/generate/Sampler.h"

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln::rt::gen {

/// Next-token logits for one sequence, with a cache of the positions seen so far. The generator
/// expects an empty cache when generate() starts.
class LogitsSource {
public:
  virtual ~LogitsSource() = default;
  /// Number of logits per position.
  virtual int64_t vocabSize() const = 0;
  /// Number of positions the cache holds (the model's context length).
  virtual int64_t capacity() const = 0;
  /// Appends `count` ids at the next positions and writes the logits of the last one
  /// (`vocabSize()` floats).
  virtual Status prefill(const int32_t *ids, int64_t count, float *logits) = 0;
  /// Appends one id at the next position and writes its logits.
  virtual Status decode(int32_t id, float *logits) = 0;
};

/// Why generation stopped.
enum class StopReason {
  Eos,          ///< an end-of-sequence id was produced (it is the last token streamed)
  MaxNewTokens, ///< the requested number of new tokens was produced
  Capacity,     ///< prompt + output filled the source's capacity
  Callback,     ///< the token callback asked to stop
};
const char *stopReasonName(StopReason reason);

struct GenerationOptions {
  /// The most tokens to produce after the prompt.
  int64_t maxNewTokens = 16;
  SamplingOptions sampling;
  /// Generation stops after any of these ids is produced. Empty: never on a token.
  std::vector<int32_t> eosIds;
};

/// Figures of one generate() call. Times are wall-clock milliseconds.
struct GenerationStats {
  int64_t promptTokens = 0;
  int64_t newTokens = 0;
  /// The prefill call alone.
  double prefillMs = 0;
  /// From the start of generate() to the first token handed to the callback.
  double timeToFirstTokenMs = 0;
  /// From the first token to the last: the decode calls and sampling of tokens 2..n.
  double decodeMs = 0;
  StopReason stopReason = StopReason::MaxNewTokens;

  /// Tokens 2..n per second of decodeMs (0 when fewer than two tokens were produced).
  double decodeTokensPerSecond() const {
    return newTokens > 1 && decodeMs > 0 ? double(newTokens - 1) * 1000.0 / decodeMs : 0.0;
  }
};

/// A non-owning reference to a callable `bool(int32_t token)`; returning false stops
/// generation. Cheap to pass by value and never allocates.
class TokenCallback {
public:
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TokenCallback>>>
  TokenCallback(F &&f)
      : object_(const_cast<void *>(static_cast<const void *>(&f))),
        call_([](void *o, int32_t t) -> bool {
          return (*static_cast<std::remove_reference_t<F> *>(o))(t);
        }) {}
  bool operator()(int32_t token) const { return call_(object_, token); }

private:
  void *object_;
  bool (*call_)(void *, int32_t);
};

/// The generation loop. All buffers are allocated by create(); generate() allocates nothing.
class Generator {
public:
  static Status create(LogitsSource &source, const GenerationOptions &options,
                       std::unique_ptr<Generator> &out);

  /// Prefills `prompt` (1 .. capacity ids, each in [0, vocabSize)), then produces tokens one
  /// at a time, calling `onToken` with each as soon as it is chosen, until an EOS id, the
  /// maximum number of new tokens, the source's capacity, or a false from `onToken`.
  Status generate(const int32_t *prompt, int64_t count, TokenCallback onToken,
                  GenerationStats &stats);

  const GenerationOptions &options() const { return options_; }

private:
  Generator(LogitsSource &source, const GenerationOptions &options);
  bool isEos(int32_t id) const;

  LogitsSource &source_;
  GenerationOptions options_;
  std::unique_ptr<Sampler> sampler_;
  std::vector<float> logits_;
};

} // namespace kiln::rt::gen

#endif // KILN_RT_GENERATE_GENERATOR_H
