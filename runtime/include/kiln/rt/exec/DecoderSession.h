//===- DecoderSession.h - Generation with a runtime-owned KV cache -*- C++ -*-===//
//
// A decoder session runs a causal language model's `prefill` and `decode` entry points
// (docs/artifact.md, "State") against KV caches it owns: allocated zeroed once per session,
// passed to every call and updated in place by the compiled code. docs/runtime.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_EXEC_DECODERSESSION_H
#define KILN_RT_EXEC_DECODERSESSION_H

#include "kiln/rt/artifact/Status.h"
#include "kiln/rt/exec/Executor.h"

#include <cstdint>
#include <memory>

namespace kiln::rt::exec {

/// One generation stream of `batch` rows advancing together. Every buffer (state, inputs,
/// logits) is allocated by create(); decode() allocates nothing on the heap. Not thread-safe;
/// several sessions may share one Executor if they are not used at the same time.
class DecoderSession {
public:
  ~DecoderSession();
  DecoderSession(const DecoderSession &) = delete;
  DecoderSession &operator=(const DecoderSession &) = delete;

  /// Checks that `executor`'s model has `prefill` and `decode` entry points with CPU code and
  /// allocates the session's buffers for `batch` rows (1 .. 2^20).
  static Status create(Executor &executor, int64_t batch, std::unique_ptr<DecoderSession> &out);

  int64_t batch() const;
  /// Tokens already in the cache (the same for every row).
  int64_t position() const;
  /// Tokens the cache holds (the model's max_positions).
  int64_t capacity() const;
  /// Logits per row.
  int64_t vocabSize() const;

  /// Appends `seq` tokens per row (`ids` is [batch, seq], row-major) at position() and writes
  /// the logits of each row's last token to `logits` ([batch, vocabSize()]). Refused before
  /// anything runs when position() + seq > capacity(), seq < 1 or an id is outside
  /// [0, vocab); the session is unchanged then.
  Status prefill(const int32_t *ids, int64_t seq, float *logits);
  /// prefill() of one token per row (`ids` is [batch]) through the `decode` entry point.
  Status decode(const int32_t *ids, float *logits);
  /// Empties the cache: position() becomes 0.
  void reset();

private:
  DecoderSession();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_DECODERSESSION_H
