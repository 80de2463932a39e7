//===- WordPiece.cpp - WordPiece model (BERT) -----------------------------===//
//
// Greedy longest-match-first over each word; continuation pieces carry the `##` prefix; a
// word with a part that no piece matches, or longer than max_input_chars_per_word, becomes
// the unknown token.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

#include <algorithm>
#include <unordered_map>

namespace kiln::rt::tok {
namespace {

class WordPiece : public Model {
public:
  explicit WordPiece(const Json &j) {
    const Json &vocab = field(j, "vocab", "WordPiece model");
    if (!vocab.is_object())
      throw ConfigError("WordPiece model: 'vocab' must be an object of token -> id");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_unsigned() || it.value().get<uint64_t>() >= vocab.size() * 4 + 1024)
        throw ConfigError("WordPiece model: id of token '" + it.key() + "' is out of range");
      uint32_t id = it.value().get<uint32_t>();
      if (id >= Tokens.size()) {
        Tokens.resize(id + 1);
        Has.resize(id + 1, false);
      }
      if (Has[id])
        throw ConfigError("WordPiece model: id " + std::to_string(id) + " is given to both '" +
                          Tokens[id] + "' and '" + it.key() + "'");
      Has[id] = true;
      Tokens[id] = it.key();
      Vocab.emplace(it.key(), id);
    }
    Unk = getString(j, "unk_token", "WordPiece model");
    auto u = Vocab.find(Unk);
    if (u == Vocab.end())
      throw ConfigError("WordPiece model: unk_token '" + Unk + "' is not in the vocabulary");
    UnkId = u->second;
    Prefix = j.contains("continuing_subword_prefix")
                 ? getString(j, "continuing_subword_prefix", "WordPiece model")
                 : "##";
    for (const auto &[token, id] : Vocab)
      MaxTokenBytes = std::max(MaxTokenBytes, token.size());
    MaxChars = j.contains("max_input_chars_per_word")
                   ? j["max_input_chars_per_word"].get<size_t>()
                   : 100;
  }

  void tokenize(const Piece &word, std::vector<Token> &out) const override {
    const std::string &s = word.text;
    size_t chars = 0;
    for (unsigned char c : s)
      chars += (c & 0xC0) != 0x80;
    uint32_t n = static_cast<uint32_t>(s.size());
    if (chars > MaxChars) {
      out.push_back({UnkId, 0, n});
      return;
    }
    size_t first = out.size();
    std::string sub;
    for (size_t start = 0; start < s.size();) {
      // No vocabulary entry is longer than MaxTokenBytes: start there (on a char boundary).
      size_t room = MaxTokenBytes - (start > 0 ? std::min(Prefix.size(), MaxTokenBytes) : 0);
      size_t end = std::min(s.size(), start + room);
      while (end < s.size() && end > start &&
             (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
        --end;
      bool found = false;
      while (start < end) {
        sub.clear();
        if (start > 0)
          sub += Prefix;
        sub.append(s, start, end - start);
        auto it = Vocab.find(sub);
        if (it != Vocab.end()) {
          out.push_back({it->second, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
          found = true;
          break;
        }
        // Step back one character.
        do
          --end;
        while (end > start && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(first);
        out.push_back({UnkId, 0, n});
        return;
      }
      start = end;
    }
  }
  std::optional<uint32_t> tokenToId(std::string_view t) const override {
    auto it = Vocab.find(std::string(t));
    if (it == Vocab.end())
      return std::nullopt;
    return it->second;
  }
  const std::string *idToToken(uint32_t id) const override {
    return id < Tokens.size() && Has[id] ? &Tokens[id] : nullptr;
  }
  size_t vocabSize() const override { return Vocab.size(); }

private:
  std::unordered_map<std::string, uint32_t> Vocab;
  std::vector<std::string> Tokens;
  std::vector<bool> Has;
  std::string Unk, Prefix;
  uint32_t UnkId = 0;
  size_t MaxChars = 100;
  size_t MaxTokenBytes = 0;
};
} // namespace

std::unique_ptr<Model> makeWordPieceModel(const Json &j) {
  return std::make_unique<WordPiece>(j);
}

} // namespace kiln::rt::tok
