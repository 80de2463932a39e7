//===- Bpe.cpp - Byte-pair encoding model ---------------------------------===//
//
// Merges follow Hugging Face's order: repeatedly the pair of lowest rank, leftmost first.
// Each word is merged with a binary heap over the current adjacent pairs (the tokenizer
// caches the results of recent words).
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

#include <mutex>
#include <queue>
#include <unordered_map>

namespace kiln::rt::tok {
namespace {

struct Symbol {
  uint32_t id;
  uint32_t begin, end; ///< bytes of the word
  int prev, next;      ///< linked list; -1 at the ends
  bool alive;
};

struct PairEntry {
  uint32_t rank;
  uint32_t newId;
};

class Bpe : public Model {
public:
  explicit Bpe(const Json &j);

  void tokenize(const Piece &word, std::vector<Token> &out) const override;
  std::optional<uint32_t> tokenToId(std::string_view t) const override {
    auto it = Vocab.find(std::string(t));
    if (it == Vocab.end())
      return std::nullopt;
    return it->second;
  }
  const std::string *idToToken(uint32_t id) const override {
    return id < Tokens.size() && HasToken[id] ? &Tokens[id] : nullptr;
  }
  size_t vocabSize() const override { return Vocab.size(); }
  bool takesRawBytes() const override { return RawBytes; }

private:
  void mergeWord(const std::string &w, std::vector<Token> &out) const;
  /// Initial symbols of a byte-level word straight from its raw bytes.
  bool rawSymbols(const std::string &w, std::vector<Symbol> &syms) const;
  void mergeSymbols(std::vector<Symbol> &syms, std::vector<Token> &out) const;
  static uint64_t key(uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; }

  std::unordered_map<std::string, uint32_t> Vocab;
  std::vector<std::string> Tokens;
  std::vector<bool> HasToken;
  std::unordered_map<uint64_t, PairEntry> Merges;
  std::optional<uint32_t> UnkId;
  std::string ContinuingPrefix, EndSuffix;
  bool FuseUnk = false, ByteFallback = false, IgnoreMerges = false;
  /// Id of the byte-alphabet character of each byte, or -1.
  int64_t ByteCharIds[256];
  bool RawBytes = false;

};

Bpe::Bpe(const Json &j) {
  const Json &vocab = field(j, "vocab", "BPE model");
  if (!vocab.is_object())
    throw ConfigError("BPE model: 'vocab' must be an object of token -> id");
  uint32_t maxId = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_unsigned())
      throw ConfigError("BPE model: id of token '" + it.key() + "' is not a non-negative integer");
    uint64_t id = it.value().get<uint64_t>();
    if (id >= (1u << 31))
      throw ConfigError("BPE model: id " + std::to_string(id) + " of token '" + it.key() +
                        "' is out of range");
    maxId = std::max<uint32_t>(maxId, static_cast<uint32_t>(id));
  }
  if (vocab.size() && maxId >= vocab.size() * 4 + 1024)
    throw ConfigError("BPE model: ids are not dense (max id " + std::to_string(maxId) + " for " +
                      std::to_string(vocab.size()) + " tokens)");
  Tokens.resize(vocab.empty() ? 0 : maxId + 1);
  HasToken.assign(Tokens.size(), false);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    uint32_t id = it.value().get<uint32_t>();
    if (HasToken[id])
      throw ConfigError("BPE model: id " + std::to_string(id) + " is given to both '" +
                        Tokens[id] + "' and '" + it.key() + "'");
    HasToken[id] = true;
    Tokens[id] = it.key();
    Vocab.emplace(it.key(), id);
  }
  if (j.contains("unk_token") && !j["unk_token"].is_null()) {
    std::string unk = j["unk_token"].get<std::string>();
    auto it = Vocab.find(unk);
    if (it == Vocab.end())
      throw ConfigError("BPE model: unk_token '" + unk + "' is not in the vocabulary");
    UnkId = it->second;
  }
  if (j.contains("continuing_subword_prefix") && !j["continuing_subword_prefix"].is_null())
    ContinuingPrefix = j["continuing_subword_prefix"].get<std::string>();
  if (j.contains("end_of_word_suffix") && !j["end_of_word_suffix"].is_null())
    EndSuffix = j["end_of_word_suffix"].get<std::string>();
  if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() > 0)
    throw ConfigError("BPE model: dropout is not supported (encoding must be deterministic)");
  FuseUnk = getBool(j, "fuse_unk", false);
  ByteFallback = getBool(j, "byte_fallback", false);
  IgnoreMerges = getBool(j, "ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    auto it = Vocab.find(byteToChar(static_cast<uint8_t>(b)));
    ByteCharIds[b] = it == Vocab.end() ? int64_t(-1) : int64_t(it->second);
  }
  RawBytes = ContinuingPrefix.empty() && EndSuffix.empty();

  const Json &merges = field(j, "merges", "BPE model");
  if (!merges.is_array())
    throw ConfigError("BPE model: 'merges' must be an array");
  uint32_t rank = 0;
  size_t prefixLen = ContinuingPrefix.size();
  for (const Json &m : merges) {
    std::string a, b;
    if (m.is_string()) {
      const std::string &s = m.get_ref<const std::string &>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw ConfigError("BPE model: merge " + std::to_string(rank) + " ('" + s +
                          "') is not two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw ConfigError("BPE model: merge " + std::to_string(rank) +
                        " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto ia = Vocab.find(a), ib = Vocab.find(b);
    if (ia == Vocab.end() || ib == Vocab.end())
      throw ConfigError("BPE model: merge " + std::to_string(rank) + " names '" +
                        (ia == Vocab.end() ? a : b) + "', which is not in the vocabulary");
    std::string merged = a + (prefixLen && b.compare(0, prefixLen, ContinuingPrefix) == 0
                                  ? b.substr(prefixLen)
                                  : b);
    auto im = Vocab.find(merged);
    if (im == Vocab.end())
      throw ConfigError("BPE model: merge " + std::to_string(rank) + " makes '" + merged +
                        "', which is not in the vocabulary");
    Merges[key(ia->second, ib->second)] = {rank, im->second};
    ++rank;
  }
}

void Bpe::mergeWord(const std::string &w, std::vector<Token> &out) const {
  std::vector<Symbol> syms;
  syms.reserve(w.size());
  std::string buf;
  size_t n = w.size();
  bool lastUnk = false;
  for (size_t i = 0; i < n;) {
    size_t len = unicode::charLength(static_cast<unsigned char>(w[i]));
    if (i + len > n)
      len = n - i;
    const std::string *key;
    if (!ContinuingPrefix.empty() || !EndSuffix.empty()) {
      buf.clear();
      if (i > 0)
        buf += ContinuingPrefix;
      buf.append(w, i, len);
      if (i + len == n)
        buf += EndSuffix;
      key = &buf;
    } else {
      buf.assign(w, i, len);
      key = &buf;
    }
    auto it = Vocab.find(*key);
    uint32_t b = static_cast<uint32_t>(i), e = static_cast<uint32_t>(i + len);
    if (it != Vocab.end()) {
      syms.push_back({it->second, b, e, 0, 0, true});
      lastUnk = false;
    } else if (ByteFallback && [&] {
                 for (size_t k = i; k < i + len; ++k) {
                   char name[8];
                   std::snprintf(name, sizeof(name), "<0x%02X>",
                                 static_cast<unsigned char>(w[k]));
                   if (!Vocab.count(name))
                     return false;
                 }
                 return true;
               }()) {
      for (size_t k = i; k < i + len; ++k) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(w[k]));
        syms.push_back({Vocab.find(name)->second, b, e, 0, 0, true});
      }
      lastUnk = false;
    } else if (UnkId) {
      if (FuseUnk && lastUnk)
        syms.back().end = e;
      else
        syms.push_back({*UnkId, b, e, 0, 0, true});
      lastUnk = true;
    }
    i += len;
  }
  mergeSymbols(syms, out);
}

bool Bpe::rawSymbols(const std::string &w, std::vector<Symbol> &syms) const {
  syms.reserve(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    int64_t id = ByteCharIds[static_cast<unsigned char>(w[i])];
    if (id < 0)
      return false;
    syms.push_back({static_cast<uint32_t>(id), static_cast<uint32_t>(i),
                    static_cast<uint32_t>(i + 1), 0, 0, true});
  }
  return true;
}

void Bpe::mergeSymbols(std::vector<Symbol> &syms, std::vector<Token> &out) const {
  int count = static_cast<int>(syms.size());
  for (int k = 0; k < count; ++k) {
    syms[k].prev = k - 1;
    syms[k].next = k + 1 < count ? k + 1 : -1;
  }
  // Heap of (rank, position) over adjacent pairs; stale entries are skipped when popped.
  struct Cand {
    uint32_t rank;
    int pos;
    uint32_t left, right, newId;
    bool operator>(const Cand &o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int pos) {
    int nx = syms[pos].next;
    if (nx < 0)
      return;
    auto it = Merges.find(key(syms[pos].id, syms[nx].id));
    if (it != Merges.end())
      heap.push({it->second.rank, pos, syms[pos].id, syms[nx].id, it->second.newId});
  };
  for (int k = 0; k + 1 < count; ++k)
    push(k);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Symbol &l = syms[c.pos];
    if (!l.alive || l.id != c.left || l.next < 0)
      continue;
    Symbol &r = syms[l.next];
    if (r.id != c.right)
      continue;
    l.id = c.newId;
    l.end = r.end;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0)
      syms[r.next].prev = c.pos;
    if (l.prev >= 0)
      push(l.prev);
    push(c.pos);
  }
  for (int k = count ? 0 : -1; k >= 0; k = syms[k].next)
    out.push_back({syms[k].id, syms[k].begin, syms[k].end});
}

void Bpe::tokenize(const Piece &word, std::vector<Token> &out) const {
  const std::string &w = word.text;
  if (w.empty())
    return;
  bool raw = word.byteLevel;
  if (raw && !RawBytes) {
    Piece mapped = word;
    mapped.mapToByteAlphabet();
    size_t first = out.size();
    tokenize(mapped, out);
    // Offsets back from mapped bytes to raw bytes.
    std::vector<uint32_t> rawOf(mapped.text.size() + 1, static_cast<uint32_t>(w.size()));
    for (size_t i = 0, m = 0; i < w.size(); ++i) {
      rawOf[m] = static_cast<uint32_t>(i);
      m += byteToChar(static_cast<uint8_t>(w[i])).size();
    }
    for (size_t k = first; k < out.size(); ++k)
      out[k].begin = rawOf[out[k].begin], out[k].end = rawOf[out[k].end];
    return;
  }
  if (IgnoreMerges) {
    std::string mappedWord;
    if (raw)
      for (char c : w)
        mappedWord += byteToChar(static_cast<uint8_t>(c));
    auto it = Vocab.find(raw ? mappedWord : w);
    if (it != Vocab.end()) {
      out.push_back({it->second, 0, static_cast<uint32_t>(w.size())});
      return;
    }
  }
  size_t first = out.size();
  std::vector<Symbol> syms;
  if (raw && rawSymbols(w, syms)) {
    mergeSymbols(syms, out);
  } else if (raw) {
    Piece mapped = word;
    mapped.mapToByteAlphabet();
    mergeWord(mapped.text, out);
    std::vector<uint32_t> rawOf(mapped.text.size() + 1, static_cast<uint32_t>(w.size()));
    for (size_t i = 0, m = 0; i < w.size(); ++i) {
      rawOf[m] = static_cast<uint32_t>(i);
      m += byteToChar(static_cast<uint8_t>(w[i])).size();
    }
    for (size_t k = first; k < out.size(); ++k)
      out[k].begin = rawOf[out[k].begin], out[k].end = rawOf[out[k].end];
  } else {
    mergeWord(w, out);
  }
}
} // namespace

std::unique_ptr<Model> makeBpeModel(const Json &j) { return std::make_unique<Bpe>(j); }

} // namespace kiln::rt::tok
