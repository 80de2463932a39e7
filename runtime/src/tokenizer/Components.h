//===- Components.h - The stages of a tokenizer pipeline ---------*- C++ -*-===//
//
// Text flows through: added-token extraction -> normalizer -> pre-tokenizer -> model ->
// post-processor; ids flow back through the decoder. Each stage is built from its JSON
// object in tokenizer.json by the make* functions, which throw ConfigError on anything they
// do not understand.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_TOKENIZER_COMPONENTS_H
#define KILN_RT_TOKENIZER_COMPONENTS_H

#include "kiln/rt/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt::tok {

using Json = nlohmann::json;

/// A problem in the file's content; the loader prefixes the file name.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A piece of (normalized) text with, per byte, the byte range of the original text it
/// came from.
struct Piece {
  std::string text;
  /// Empty while the piece is an unchanged stretch of the original text starting at Base.
  std::vector<std::pair<uint32_t, uint32_t>> align;
  uint32_t base = 0;
  int64_t addedId = -1; ///< >= 0 when the piece is one added token
  /// The text stands for its bytes mapped to the GPT-2 byte alphabet (ByteLevel
  /// pre-tokenizer); byte-level BPE works on the raw bytes directly.
  bool byteLevel = false;

  static Piece fromOriginal(std::string_view s, uint32_t base);
  /// Fills align (before an edit that changes the text).
  void materialize();
  /// Replaces a byteLevel piece by its mapped text.
  void mapToByteAlphabet();
  Piece slice(size_t begin, size_t end) const;
  /// Original range covered by bytes [begin, end) of the piece.
  std::pair<uint32_t, uint32_t> original(size_t begin, size_t end) const;
  /// Rebuilds the piece char by char: \p fn maps each code point to zero or more.
  void mapChars(const std::function<void(uint32_t, std::vector<uint32_t> &)> &fn);
};

/// A token as the model produces it; offsets are bytes of the piece it came from.
struct Token {
  uint32_t id;
  uint32_t begin, end;
  bool ownText = false; ///< the token's string is the word's bytes [begin, end), not id's
};

class Normalizer {
public:
  virtual ~Normalizer() = default;
  virtual void normalize(Piece &p) const = 0;
};

class PreTokenizer {
public:
  virtual ~PreTokenizer() = default;
  /// Splits \p in (pieces without an added token) into \p out.
  virtual void split(const Piece &in, std::vector<Piece> &out) const = 0;
};

/// Byte-level BPE runs on raw bytes when the pre-tokenizer is ByteLevel; this tells how.
struct ByteLevelInfo {
  bool present = false;
};

class Model {
public:
  virtual ~Model() = default;
  virtual void tokenize(const Piece &word, std::vector<Token> &out) const = 0;
  virtual std::optional<uint32_t> tokenToId(std::string_view token) const = 0;
  virtual const std::string *idToToken(uint32_t id) const = 0;
  virtual size_t vocabSize() const = 0;
  /// True when tokenize() takes byteLevel pieces as raw bytes.
  virtual bool takesRawBytes() const { return false; }
  /// True when the model takes the whole text at once (SentencePiece): no cache.
  virtual bool encodesWholeText() const { return false; }
  /// A model with its own decoder (SentencePiece) fills \p out and returns true.
  virtual bool decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens,
                      std::string &out) const {
    (void)ids, (void)skipSpecialTokens, (void)out;
    return false;
  }
  /// Control symbols of the model itself (SentencePiece's <s>, </s>).
  virtual bool isControl(uint32_t id) const {
    (void)id;
    return false;
  }
};

class PostProcessor {
public:
  virtual ~PostProcessor() = default;
  virtual size_t addedTokens(bool pair) const = 0;
  /// Merges \p a and (optionally) \p b into the final encoding.
  virtual Encoding process(Encoding a, Encoding *b, bool addSpecialTokens) const = 0;
};

class Decoder {
public:
  virtual ~Decoder() = default;
  virtual void decodeChain(std::vector<std::string> &tokens) const = 0;
};

std::unique_ptr<Normalizer> makeNormalizer(const Json &j);
/// Rebuilds \p p from Hugging Face style (character, change) pairs over the original
/// characters \p olds (code point, original range): change 0 takes the next original's
/// alignment, +1 is inserted with the previous original's, -n also skips n originals.
void applyChanges(Piece &p,
                  const std::vector<std::pair<uint32_t, std::pair<uint32_t, uint32_t>>> &olds,
                  const std::vector<std::pair<uint32_t, int>> &changes);
/// SentencePiece's `Precompiled` normalization map (Precompiled.cpp); null when empty.
std::unique_ptr<Normalizer> makePrecompiledNormalizer(const Json &j);
std::unique_ptr<PreTokenizer> makePreTokenizer(const Json &j);
/// \p byteLevel: the pre-tokenizer maps bytes to the GPT-2 byte alphabet.
std::unique_ptr<Model> makeModel(const Json &j);
std::unique_ptr<PostProcessor> makePostProcessor(const Json &j);
/// Native SentencePiece model (serialized ModelProto), run by libsentencepiece.
std::unique_ptr<Model> makeSentencePieceModel(std::string_view bytes);
/// True when \p bytes start like a serialized SentencePiece ModelProto.
bool looksLikeSentencePiece(std::string_view bytes);
std::unique_ptr<Decoder> makeDecoder(const Json &j);

/// Default merge of a pair when the file has no post-processor.
Encoding mergeEncodings(Encoding a, Encoding *b);

/// The GPT-2 byte <-> printable character alphabet.
const std::string &byteToChar(uint8_t b);
/// -1 when \p c is not in the alphabet.
int charToByte(uint32_t c);

/// JSON helpers that throw ConfigError naming the field.
const Json &field(const Json &j, const char *key, const char *where);
std::string getString(const Json &j, const char *key, const char *where);
bool getBool(const Json &j, const char *key, bool dflt);

} // namespace kiln::rt::tok

#endif // KILN_RT_TOKENIZER_COMPONENTS_H
