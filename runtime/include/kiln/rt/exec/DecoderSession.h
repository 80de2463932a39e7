//===- DecoderSession.h - Generation with a runtime-owned KV cache -*- C++ -*-===//
//
// A decoder session runs a model's `prefill` and `decode` entry points (docs/artifact.md,
// "State") against KV caches it owns: allocated zeroed once per session, passed to every call
// and updated in place by the compiled code. Inputs other than the token ids and the position
// (an encoder-decoder model's cross-attention keys and values and source mask) are bound once
// with bindInput() and held for the whole sequence. docs/runtime.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_EXEC_DECODERSESSION_H
#define KILN_RT_EXEC_DECODERSESSION_H

#include "kiln/rt/artifact/Status.h"
#include "kiln/rt/exec/Executor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

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
  /// allocates the session's buffers for `batch` rows (1 .. 2^20). Entry points compiled for a
  /// static batch (kilnc --specialize) accept only that batch.
  static Status create(Executor &executor, int64_t batch, std::unique_ptr<DecoderSession> &out);

  int64_t batch() const;
  /// Tokens already in the cache (the same for every row).
  int64_t position() const;
  /// Tokens the cache holds (the model's max_positions).
  int64_t capacity() const;
  /// Logits per row.
  int64_t vocabSize() const;

  /// The entry points' inputs other than the token ids (their first input) and `position`, in
  /// signature order: an encoder-decoder model's cross-attention keys and values (`cross_k_0`,
  /// `cross_v_0`, ...: outputs of its `encode`) and `mask`; empty for a decoder-only model.
  /// prefill() and decode() refuse to run until each is bound.
  const std::vector<TensorSignature> &extraInputs() const;
  /// Copies `tensor` into the session as extra input `name`, used by every later prefill() and
  /// decode() (reset() keeps it) until it is bound again. Its dtype and rank must be the
  /// signature's, static sizes equal, the batch size the session's; a symbolic size (the
  /// source length `seq`) takes the tensor's value and must agree across the extra inputs
  /// and with the size `prefill` / `decode` were compiled for (kilnc --specialize), which is
  /// checked by the next call. Binding, and the first call after it (which rebinds
  /// the schedules), may allocate; other decode() calls do not.
  Status bindInput(std::string_view name, const Tensor &tensor);

  /// Appends `seq` tokens per row (`ids` is [batch, seq], row-major) at position() and writes
  /// the logits of each row's last token to `logits` ([batch, vocabSize()]). Refused before
  /// anything runs when position() + seq > capacity(), seq < 1 or an id is outside
  /// [0, vocab); the session is unchanged then. A `prefill` compiled for chunks of C tokens
  /// (kilnc --specialize) runs chunks at 0, C, 2C, ... and, when seq is not a multiple of C,
  /// the last C tokens (recomputing a few positions); a prompt shorter than C goes through
  /// `decode` token by token. docs/runtime.md, "Specialized prefill / decode".
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

/// The size entry point `entry` of `executor`'s model was compiled for along dimension
/// `symbol` (kilnc --specialize records it in the schedule's static_dims), or nothing when the
/// entry point takes any size there or does not exist. An encoder-decoder model's `encode`
/// compiled for `seq = N` runs sources padded to N positions (the mask hides the padding).
std::optional<int64_t> compiledSize(Executor &executor, std::string_view entry,
                                    std::string_view symbol);

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_DECODERSESSION_H
