//===- Generator.cpp - The generation loop --------------------------------===//
#include "kiln/rt/generate/Generator.h"

#include <algorithm>
#include <chrono>
#include <string>

using namespace kiln::rt;
using namespace kiln::rt::gen;

const char *kiln::rt::gen::stopReasonName(StopReason reason) {
  switch (reason) {
  case StopReason::Eos:
    return "eos";
  case StopReason::MaxNewTokens:
    return "max-new-tokens";
  case StopReason::Capacity:
    return "capacity";
  case StopReason::Callback:
    return "stopped";
  }
  return "unknown";
}

Generator::Generator(LogitsSource &source, const GenerationOptions &options)
    : source_(source), options_(options), logits_(size_t(source.vocabSize()), 0.0f) {}

Status Generator::create(LogitsSource &source, const GenerationOptions &options,
                         std::unique_ptr<Generator> &out) {
  const int64_t vocab = source.vocabSize();
  if (options.maxNewTokens < 0)
    return Status::invalid("the maximum number of new tokens must be >= 0, got " +
                           std::to_string(options.maxNewTokens));
  if (source.capacity() <= 0)
    return Status::invalid("the model's context holds no positions");
  std::unique_ptr<Sampler> sampler;
  if (Status s = Sampler::create(vocab, options.sampling, sampler); !s.ok())
    return s;
  for (int32_t id : options.eosIds)
    if (id < 0 || id >= vocab)
      return Status::invalid("end-of-sequence id " + std::to_string(id) +
                             " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  out.reset(new Generator(source, options));
  out->sampler_ = std::move(sampler);
  return Status::success();
}

bool Generator::isEos(int32_t id) const {
  return std::find(options_.eosIds.begin(), options_.eosIds.end(), id) != options_.eosIds.end();
}

Status Generator::generate(const int32_t *prompt, int64_t count, TokenCallback onToken,
                           GenerationStats &stats) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  stats = GenerationStats();
  stats.promptTokens = count;
  const int64_t vocab = source_.vocabSize(), capacity = source_.capacity();
  if (count <= 0)
    return Status::invalid("the prompt is empty; generation needs at least one token");
  if (count > capacity)
    return Status::invalid("the prompt has " + std::to_string(count) +
                           " tokens; the model's context holds " + std::to_string(capacity));
  for (int64_t i = 0; i < count; ++i)
    if (prompt[i] < 0 || prompt[i] >= vocab)
      return Status::invalid("prompt id " + std::to_string(prompt[i]) + " at position " +
                             std::to_string(i) + " is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");

  const Clock::time_point start = Clock::now();
  sampler_->reset(prompt, count);
  // Every token of the sequence (prompt + output) must have a position inside the context.
  const int64_t room = capacity - count;
  const int64_t limit = std::min(options_.maxNewTokens, room);
  stats.stopReason = options_.maxNewTokens <= room ? StopReason::MaxNewTokens
                                                   : StopReason::Capacity;
  if (limit == 0)
    return Status::success();

  float *logits = logits_.data();
  if (Status s = source_.prefill(prompt, count, logits); !s.ok())
    return s;
  const Clock::time_point prefilled = Clock::now();
  stats.prefillMs = ms(start, prefilled);
  Clock::time_point firstToken = prefilled;
  int32_t token = 0;
  for (int64_t n = 0; n < limit; ++n) {
    if (n > 0)
      if (Status s = source_.decode(token, logits); !s.ok())
        return s;
    if (Status s = sampler_->next(logits, token); !s.ok())
      return Status::invalid("step " + std::to_string(n + 1) + ": " + s.message());
    stats.newTokens = n + 1;
    bool more = onToken(token);
    if (n == 0) {
      firstToken = Clock::now();
      stats.timeToFirstTokenMs = ms(start, firstToken);
    }
    if (isEos(token)) {
      stats.stopReason = StopReason::Eos;
      break;
    }
    if (!more) {
      stats.stopReason = StopReason::Callback;
      break;
    }
  }
  stats.decodeMs = ms(firstToken, Clock::now());
  return Status::success();
}
