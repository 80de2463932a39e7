//===- SentencePiece.cpp - Native SentencePiece .model files ---------------===//
//
// A SentencePiece model file (a serialized ModelProto) runs through libsentencepiece
// itself: its normalizer, its model (Unigram, BPE, word, char), its byte fallback and its
// decoder are SentencePiece's own, so ids equal `sentencepiece.SentencePieceProcessor`'s.
// The whole text is one "word" of the tokenizer pipeline; there is no other stage.
//
//===----------------------------------------------------------------------===//

#include "Components.h"

#include <sentencepiece_processor.h>

namespace kiln::rt::tok {
namespace {

class SentencePieceModel : public Model {
public:
  explicit SentencePieceModel(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
      : Sp(std::move(sp)) {}

  void tokenize(const Piece &word, std::vector<Token> &out) const override {
    sentencepiece::ImmutableSentencePieceText spt = Sp->EncodeAsImmutableProto(word.text);
    for (const auto &p : spt.pieces())
      out.push_back(Token{p.id(), p.begin(), p.end(), false});
  }
  std::optional<uint32_t> tokenToId(std::string_view token) const override {
    int id = Sp->PieceToId(token);
    if (id < 0 || (Sp->IsUnknown(id) && Sp->IdToPiece(id) != token))
      return std::nullopt;
    return static_cast<uint32_t>(id);
  }
  const std::string *idToToken(uint32_t id) const override {
    if (id >= static_cast<uint32_t>(Sp->GetPieceSize()))
      return nullptr;
    return &Sp->IdToPiece(static_cast<int>(id));
  }
  size_t vocabSize() const override { return static_cast<size_t>(Sp->GetPieceSize()); }
  bool encodesWholeText() const override { return true; }
  bool decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens,
              std::string &out) const override {
    // SentencePiece's decoder drops control symbols (<s>, </s>) and prints unknowns as
    // " \u2047 " whatever skipSpecialTokens says, as `SentencePieceProcessor.decode` does.
    (void)skipSpecialTokens;
    std::vector<int> v;
    v.reserve(ids.size());
    for (uint32_t id : ids)
      v.push_back(static_cast<int>(id));
    out = Sp->DecodeIds(v);
    return true;
  }
  bool isControl(uint32_t id) const override {
    return id < vocabSize() && Sp->IsControl(static_cast<int>(id));
  }

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> Sp;
};

} // namespace

bool looksLikeSentencePiece(std::string_view bytes) {
  // A ModelProto starts with its first `pieces` entry: field 1, length-delimited.
  return !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x0A;
}

std::unique_ptr<Model> makeSentencePieceModel(std::string_view bytes) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status =
      sp->LoadFromSerializedProto(absl::string_view(bytes.data(), bytes.size()));
  if (!status.ok())
    throw ConfigError("not a usable SentencePiece model: " + status.ToString());
  if (sp->GetPieceSize() <= 0)
    throw ConfigError("SentencePiece model has no pieces");
  return std::make_unique<SentencePieceModel>(std::move(sp));
}

} // namespace kiln::rt::tok
