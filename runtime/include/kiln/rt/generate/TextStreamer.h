//===- TextStreamer.h - Incremental detokenization --------------*- C++ -*-===//
//
// Turns a stream of token ids into a stream of text that is always whole UTF-8 characters:
// a byte-level BPE token can end in the middle of a character, so text is held back until
// the next tokens complete it. Works with any decode function (docs/generation.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_GENERATE_TEXTSTREAMER_H
#define KILN_RT_GENERATE_TEXTSTREAMER_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::rt::gen {

class TextStreamer {
public:
  /// Decodes ids to UTF-8 text, replacing incomplete or invalid sequences by U+FFFD (as the
  /// Hugging Face decoders do).
  using DecodeFn = std::function<std::string(const std::vector<uint32_t> &)>;

  /// `context`: the last ids before the stream (the prompt's tail), decoded with each new
  /// token so that decoders that depend on the previous token (a leading space, `##`)
  /// produce the same text as decoding the whole sequence.
  TextStreamer(DecodeFn decode, const std::vector<uint32_t> &context = {});

  /// Adds one id; returns the text it completes (possibly empty).
  std::string push(uint32_t id);
  /// Returns whatever is still held back, decoded as it is (an incomplete character comes out
  /// as U+FFFD), and starts over with no context.
  std::string finish();

private:
  DecodeFn decode_;
  std::vector<uint32_t> ids_;
  size_t prefix_ = 0; ///< ids_[prefix_, read_) were already printed, kept as context
  size_t read_ = 0;
};

/// The length of the longest prefix of `text` that is valid, complete UTF-8.
size_t validUtf8Prefix(const std::string &text);

} // namespace kiln::rt::gen

#endif // KILN_RT_GENERATE_TEXTSTREAMER_H
