//===- Tokenizer.h - Hugging Face compatible tokenizers ----------*- C++ -*-===//
//
// Loads a Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram; with its normalizer,
// pre-tokenizer, post-processor, decoder and added tokens) and turns text into the same ids
// as the `tokenizers` package, and ids back into text. See docs/tokenizers.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_TOKENIZER_TOKENIZER_H
#define KILN_RT_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt::tok {

/// A tokenizer file that cannot be used: the message names the file and the problem.
class TokenizerError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The result of encoding one text or one pair of texts.
struct Encoding {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> typeIds;
  std::vector<std::string> tokens;
  /// Byte offsets [begin, end) of each token in its input text (after invalid UTF-8 was
  /// replaced by U+FFFD); (0, 0) for added special tokens and padding.
  std::vector<std::pair<size_t, size_t>> offsets;
  std::vector<uint32_t> specialTokensMask;
  std::vector<uint32_t> attentionMask;
  /// Which input each token comes from: 0, 1, or -1 for special tokens and padding.
  std::vector<int> sequenceIds;

  size_t size() const { return ids.size(); }
};

enum class PaddingStrategy { BatchLongest, Fixed };
enum class Direction { Left, Right };

struct PaddingOptions {
  PaddingStrategy strategy = PaddingStrategy::BatchLongest;
  size_t length = 0;              ///< for Fixed
  size_t padToMultipleOf = 0;     ///< 0: no rounding
  Direction direction = Direction::Right;
  uint32_t padId = 0;
  uint32_t padTypeId = 0;
  std::string padToken = "[PAD]";
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };

struct TruncationOptions {
  size_t maxLength = 512;
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  Direction direction = Direction::Right;
  size_t stride = 0;
};

class TokenizerImpl;

/// A loaded tokenizer. Encoding and decoding are const and may run on several threads.
class Tokenizer {
public:
  /// Loads a `tokenizer.json`, or a native SentencePiece model (a `.model` file, or any
  /// file that starts like a serialized ModelProto); throws TokenizerError naming \p path on
  /// any problem.
  static std::unique_ptr<Tokenizer> fromFile(const std::string &path);
  /// Loads a serialized SentencePiece ModelProto; \p name stands for the file in errors.
  static std::unique_ptr<Tokenizer> fromSentencePiece(std::string_view model,
                                                      const std::string &name = "<model>");
  /// Loads from JSON text; \p name stands for the file in error messages.
  static std::unique_ptr<Tokenizer> fromJson(std::string_view json,
                                             const std::string &name = "<json>");
  ~Tokenizer();

  /// Encodes one text. Invalid UTF-8 in \p text is replaced by U+FFFD first.
  Encoding encode(std::string_view text, bool addSpecialTokens = true) const;
  /// Encodes a pair of texts (type ids 0 and 1 as the post-processor says).
  Encoding encodePair(std::string_view first, std::string_view second,
                      bool addSpecialTokens = true) const;
  /// Encodes several texts (or pairs, when \p seconds is non-empty) and pads them together.
  std::vector<Encoding> encodeBatch(const std::vector<std::string> &firsts,
                                    const std::vector<std::string> &seconds = {},
                                    bool addSpecialTokens = true) const;

  /// Turns ids back into text; special tokens are dropped when \p skipSpecialTokens.
  /// Ids outside the vocabulary are skipped, as Hugging Face does.
  std::string decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens = true) const;

  /// The file's normalizer alone applied to \p text (as `normalizer.normalize_str` in
  /// Hugging Face); \p text unchanged when there is none.
  std::string normalize(std::string_view text) const;
  /// The file's pre-tokenizer alone applied to \p text (as `pre_tokenize_str`): the pieces
  /// with their byte offsets in \p text.
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>>
  preTokenize(std::string_view text) const;

  /// Padding and truncation start as the file states them.
  const std::optional<PaddingOptions> &padding() const;
  const std::optional<TruncationOptions> &truncation() const;
  void setPadding(std::optional<PaddingOptions> options);
  /// Throws TokenizerError when \p options leaves no room for the special tokens.
  void setTruncation(std::optional<TruncationOptions> options);

  /// Number of ids, added tokens included.
  size_t vocabSize() const;
  std::optional<uint32_t> tokenToId(std::string_view token) const;
  std::optional<std::string> idToToken(uint32_t id) const;

private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> Impl;
};

} // namespace kiln::rt::tok

#endif // KILN_RT_TOKENIZER_TOKENIZER_H
