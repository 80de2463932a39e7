//===- Unigram.cpp - Unigram language model (SentencePiece) ---------------===//
//
// Viterbi over the lattice of vocabulary pieces, as Hugging Face (and SentencePiece's
// EncodeOptimized) do: ties keep the first candidate seen, shorter pieces are seen first,
// a character no piece covers costs the unknown score (min score - 10), and consecutive
// unknown pieces are fused.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

#include <cmath>
#include <unordered_map>

namespace kiln::rt::tok {
namespace {

/// A byte trie over the vocabulary for common-prefix search.
class Trie {
public:
  Trie() { Nodes.emplace_back(); }
  void insert(const std::string &s, int32_t id) {
    uint32_t n = 0;
    for (unsigned char c : s) {
      auto it = Nodes[n].children.find(c);
      if (it == Nodes[n].children.end()) {
        Nodes.emplace_back();
        uint32_t child = static_cast<uint32_t>(Nodes.size() - 1);
        Nodes[n].children.emplace(c, child);
        n = child;
      } else {
        n = it->second;
      }
    }
    Nodes[n].id = id;
  }
  /// Calls fn(length, id) for every vocabulary piece that prefixes s[pos..], shortest first.
  template <typename Fn> void prefixes(const std::string &s, size_t pos, Fn fn) const {
    uint32_t n = 0;
    for (size_t i = pos; i < s.size(); ++i) {
      auto it = Nodes[n].children.find(static_cast<unsigned char>(s[i]));
      if (it == Nodes[n].children.end())
        return;
      n = it->second;
      if (Nodes[n].id >= 0)
        fn(i + 1 - pos, Nodes[n].id);
    }
  }

private:
  struct Node {
    std::unordered_map<unsigned char, uint32_t> children;
    int32_t id = -1;
  };
  std::vector<Node> Nodes;
};

class Unigram : public Model {
public:
  explicit Unigram(const Json &j) {
    const Json &vocab = field(j, "vocab", "Unigram model");
    if (!vocab.is_array())
      throw ConfigError("Unigram model: 'vocab' must be an array of [piece, score]");
    for (const Json &e : vocab) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        throw ConfigError("Unigram model: vocabulary entry " + std::to_string(Tokens.size()) +
                          " is not [piece, score]");
      std::string piece = e[0].get<std::string>();
      uint32_t id = static_cast<uint32_t>(Tokens.size());
      if (!Vocab.emplace(piece, id).second)
        throw ConfigError("Unigram model: piece '" + piece + "' appears twice (ids " +
                          std::to_string(Vocab[piece]) + " and " + std::to_string(id) + ")");
      Tokens.push_back(piece);
      Scores.push_back(e[1].get<double>());
      Trie.insert(piece, static_cast<int32_t>(id));
    }
    if (j.contains("unk_id") && !j["unk_id"].is_null()) {
      if (!j["unk_id"].is_number_unsigned() || j["unk_id"].get<uint64_t>() >= Tokens.size())
        throw ConfigError("Unigram model: unk_id is out of range");
      UnkId = j["unk_id"].get<uint32_t>();
    }
    ByteFallback = getBool(j, "byte_fallback", false);
    MinScore = INFINITY;
    for (double s : Scores)
      MinScore = std::min(MinScore, s);
    if (Scores.empty())
      MinScore = 0;
  }

  void tokenize(const Piece &word, std::vector<Token> &out) const override {
    const std::string &s = word.text;
    size_t n = s.size();
    if (!n)
      return;
    struct Node {
      int64_t id = -1;
      double score = 0;
      int64_t start = -1;
    };
    std::vector<Node> best(n + 1);
    double unkScore = MinScore - 10.0;
    for (size_t pos = 0; pos < n;) {
      double here = best[pos].score;
      size_t mblen = unicode::charLength(static_cast<unsigned char>(s[pos]));
      bool single = false;
      Trie.prefixes(s, pos, [&](size_t len, int32_t id) {
        Node &t = best[pos + len];
        double cand = Scores[id] + here;
        if (t.start < 0 || cand > t.score) {
          t.score = cand;
          t.start = static_cast<int64_t>(pos);
          t.id = id;
        }
        if (len == mblen)
          single = true;
      });
      if (!single) {
        if (!UnkId)
          throw TokenizerError("Unigram model has no unk_id, and the text has a character that no "
                               "piece covers");
        Node &t = best[pos + mblen];
        double cand = unkScore + here;
        if (t.start < 0 || cand > t.score) {
          t.score = cand;
          t.start = static_cast<int64_t>(pos);
          t.id = *UnkId;
        }
      }
      pos += mblen;
    }
    // Backtrack, fusing consecutive unknown pieces.
    std::vector<std::pair<size_t, size_t>> pieces;
    std::vector<bool> unk;
    for (size_t end = n; end > 0;) {
      const Node &node = best[end];
      size_t start = static_cast<size_t>(node.start);
      bool isUnk = UnkId && node.id == static_cast<int64_t>(*UnkId);
      if (isUnk && !unk.empty() && unk.back())
        pieces.back().first = start;
      else {
        pieces.push_back({start, end});
        unk.push_back(isUnk);
      }
      end = start;
    }
    for (size_t k = pieces.size(); k-- > 0;) {
      auto [b, e] = pieces[k];
      std::string piece = s.substr(b, e - b);
      auto it = Vocab.find(piece);
      if (it != Vocab.end()) {
        out.push_back({it->second, static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
        continue;
      }
      if (ByteFallback) {
        std::vector<uint32_t> ids;
        for (unsigned char c : piece) {
          char name[8];
          std::snprintf(name, sizeof(name), "<0x%02X>", c);
          auto bt = Vocab.find(name);
          if (bt == Vocab.end())
            break;
          ids.push_back(bt->second);
        }
        if (ids.size() == piece.size()) {
          for (uint32_t id : ids)
            out.push_back({id, static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
          continue;
        }
      }
      out.push_back({*UnkId, static_cast<uint32_t>(b), static_cast<uint32_t>(e), true});
    }
  }
  std::optional<uint32_t> tokenToId(std::string_view t) const override {
    auto it = Vocab.find(std::string(t));
    if (it == Vocab.end())
      return std::nullopt;
    return it->second;
  }
  const std::string *idToToken(uint32_t id) const override {
    return id < Tokens.size() ? &Tokens[id] : nullptr;
  }
  size_t vocabSize() const override { return Tokens.size(); }

private:
  std::unordered_map<std::string, uint32_t> Vocab;
  std::vector<std::string> Tokens;
  std::vector<double> Scores;
  class Trie Trie;
  std::optional<uint32_t> UnkId;
  bool ByteFallback = false;
  double MinScore = 0;
};
} // namespace

std::unique_ptr<Model> makeUnigramModel(const Json &j) { return std::make_unique<Unigram>(j); }

} // namespace kiln::rt::tok
