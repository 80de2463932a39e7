//===- Tokenizer.cpp - Loading tokenizer.json and running the pipeline ----===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include "Components.h"
#include "Unicode.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace kiln::rt::tok {

std::unique_ptr<Model> makeBpeModel(const Json &j);
std::unique_ptr<Model> makeWordPieceModel(const Json &j);
std::unique_ptr<Model> makeUnigramModel(const Json &j);

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

Piece Piece::fromOriginal(std::string_view s, uint32_t base) {
  Piece p;
  p.text.assign(s.data(), s.size());
  p.base = base;
  return p;
}

void Piece::materialize() {
  if (!align.empty() || text.empty())
    return;
  align.resize(text.size());
  for (uint32_t i = 0; i < text.size(); ++i)
    align[i] = {base + i, base + i + 1};
}

void Piece::mapToByteAlphabet() {
  if (!byteLevel)
    return;
  materialize();
  std::string m;
  std::vector<std::pair<uint32_t, uint32_t>> al;
  m.reserve(text.size() * 2);
  al.reserve(text.size() * 2);
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string &c = byteToChar(static_cast<uint8_t>(text[i]));
    m += c;
    al.insert(al.end(), c.size(), align[i]);
  }
  text.swap(m);
  align.swap(al);
  byteLevel = false;
}

Piece Piece::slice(size_t begin, size_t end) const {
  Piece p;
  p.text.assign(text, begin, end - begin);
  if (align.empty())
    p.base = base + static_cast<uint32_t>(begin);
  else
    p.align.assign(align.begin() + begin, align.begin() + end);
  p.addedId = addedId;
  p.byteLevel = byteLevel;
  return p;
}

std::pair<uint32_t, uint32_t> Piece::original(size_t begin, size_t end) const {
  if (begin >= end || end > text.size())
    return {0, 0};
  if (align.empty())
    return {base + static_cast<uint32_t>(begin), base + static_cast<uint32_t>(end)};
  uint32_t b = align[begin].first, e = align[begin].second;
  for (size_t i = begin; i < end; ++i) {
    b = std::min(b, align[i].first);
    e = std::max(e, align[i].second);
  }
  return {b, e};
}

void Piece::mapChars(const std::function<void(uint32_t, std::vector<uint32_t> &)> &fn) {
  materialize();
  std::string out;
  std::vector<std::pair<uint32_t, uint32_t>> al;
  out.reserve(text.size());
  al.reserve(text.size());
  std::vector<uint32_t> buf;
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    uint32_t c = unicode::decode(text, i);
    std::pair<uint32_t, uint32_t> r{align[start].first, align[i - 1].second};
    buf.clear();
    fn(c, buf);
    for (uint32_t o : buf) {
      size_t before = out.size();
      unicode::append(out, o);
      al.insert(al.end(), out.size() - before, r);
    }
  }
  text.swap(out);
  align.swap(al);
}

namespace {
struct ByteAlphabet {
  std::string chars[256];
  std::unordered_map<uint32_t, int> back;
  ByteAlphabet() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t c = printable ? b : 256 + n++;
      unicode::append(chars[b], c);
      back[c] = b;
    }
  }
};
const ByteAlphabet &alphabet() {
  static const ByteAlphabet a;
  return a;
}
} // namespace

const std::string &byteToChar(uint8_t b) { return alphabet().chars[b]; }
int charToByte(uint32_t c) {
  auto it = alphabet().back.find(c);
  return it == alphabet().back.end() ? -1 : it->second;
}

const Json &field(const Json &j, const char *key, const char *where) {
  if (!j.is_object() || !j.contains(key))
    throw ConfigError(std::string(where) + ": missing '" + key + "'");
  return j[key];
}

std::string getString(const Json &j, const char *key, const char *where) {
  const Json &v = field(j, key, where);
  if (!v.is_string())
    throw ConfigError(std::string(where) + ": '" + key + "' must be a string");
  return v.get<std::string>();
}

bool getBool(const Json &j, const char *key, bool dflt) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null())
    return dflt;
  if (!j[key].is_boolean())
    throw ConfigError(std::string("'") + key + "' must be true or false");
  return j[key].get<bool>();
}

std::unique_ptr<Model> makeModel(const Json &j) {
  if (!j.is_object())
    throw ConfigError("'model' must be an object");
  std::string type;
  if (j.contains("type")) {
    type = getString(j, "type", "model");
  } else if (j.contains("merges")) {
    type = "BPE";
  } else if (j.contains("vocab") && j["vocab"].is_array()) {
    type = "Unigram";
  } else if (j.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  }
  if (type == "BPE")
    return makeBpeModel(j);
  if (type == "WordPiece")
    return makeWordPieceModel(j);
  if (type == "Unigram")
    return makeUnigramModel(j);
  if (type.empty())
    throw ConfigError("model: missing 'type'");
  throw ConfigError("unknown model type '" + type + "' (Kiln knows BPE, WordPiece, Unigram)");
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

struct AddedToken {
  uint32_t id;
  std::string content;
  std::string decoded; ///< normalized content for normalized tokens, as Hugging Face decodes
  bool singleWord, lstrip, rstrip, normalized, special;
};

/// Finds added tokens, leftmost-longest, with their single_word/lstrip/rstrip rules.
class AddedMatcher {
public:
  void add(const std::string &pattern, size_t token) {
    if (pattern.empty())
      return;
    ByFirst[static_cast<unsigned char>(pattern[0])].push_back({pattern, token});
    Any = true;
  }
  void finish() {
    for (auto &list : ByFirst)
      std::stable_sort(list.begin(), list.end(), [](const auto &a, const auto &b) {
        return a.first.size() > b.first.size();
      });
  }
  bool empty() const { return !Any; }

  /// Splits \p in into pieces, the matched ones carrying the token's id.
  void split(const Piece &in, const std::vector<AddedToken> &tokens, std::vector<Piece> &out) const {
    const std::string &s = in.text;
    size_t startOffset = 0;
    for (size_t i = 0; i < s.size();) {
      const std::pair<std::string, size_t> *hit = nullptr;
      for (const auto &cand : ByFirst[static_cast<unsigned char>(s[i])])
        if (s.compare(i, cand.first.size(), cand.first) == 0) {
          hit = &cand;
          break;
        }
      if (!hit) {
        ++i;
        continue;
      }
      const AddedToken &t = tokens[hit->second];
      size_t start = i, stop = i + hit->first.size();
      if (t.singleWord) {
        bool startOk = start == 0 || !isWordChar(lastChar(s, start));
        bool stopOk = stop == s.size() || !isWordChar(firstChar(s, stop));
        if (!startOk || !stopOk) {
          // Leftmost-longest matching moves on past the rejected match.
          i = stop;
          continue;
        }
      }
      if (t.lstrip) {
        size_t ns = start;
        while (ns > 0) {
          size_t p = ns - 1;
          while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80)
            --p;
          size_t q = p;
          if (!unicode::isSpace(unicode::decode(s, q)))
            break;
          ns = p;
        }
        start = std::max(ns, startOffset);
      }
      if (t.rstrip) {
        while (stop < s.size()) {
          size_t q = stop;
          if (!unicode::isSpace(unicode::decode(s, q)))
            break;
          stop = q;
        }
      }
      if (startOffset < start)
        out.push_back(in.slice(startOffset, start));
      Piece p = in.slice(start, stop);
      p.addedId = static_cast<int64_t>(hit->second);
      out.push_back(std::move(p));
      startOffset = stop;
      i = stop;
    }
    if (startOffset < s.size())
      out.push_back(in.slice(startOffset, s.size()));
  }

private:
  static uint32_t lastChar(const std::string &s, size_t end) {
    size_t p = end - 1;
    while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80)
      --p;
    return unicode::decode(s, p);
  }
  static uint32_t firstChar(const std::string &s, size_t at) { return unicode::decode(s, at); }
  static bool isWordChar(uint32_t c) {
    return c == '_' || (unicode::flags(c) & (unicode::kLetter | unicode::kNumeric));
  }
  std::vector<std::pair<std::string, size_t>> ByFirst[256];
  bool Any = false;
};

/// Recently tokenized short words and their tokens, in a direct-mapped table of fixed-size
/// slots (one memory access per lookup), shared by concurrent encoders: most words of a
/// text have been seen before.
class WordCache {
public:
  WordCache() : Slots(kSlots) {}

  bool lookup(const std::string &word, std::vector<Token> &out) const {
    if (word.size() > kMaxWordBytes || word.empty())
      return false;
    uint64_t h = hash(word);
    const Slot &s = Slots[h % kSlots];
    std::lock_guard<std::mutex> g(Locks[(h / kSlots) % kLocks]);
    if (s.hash != h || s.length != word.size() || std::memcmp(s.text, word.data(), s.length))
      return false;
    uint32_t begin = 0;
    for (uint8_t k = 0; k < s.count; ++k) {
      out.push_back({s.ids[k], begin, s.ends[k]});
      begin = s.ends[k];
    }
    return true;
  }

  void insert(const std::string &word, const Token *begin, const Token *end) const {
    size_t n = end - begin;
    if (word.size() > kMaxWordBytes || word.empty() || n > kMaxTokens || n == 0)
      return;
    uint32_t prev = 0;
    for (const Token *t = begin; t != end; ++t) {
      if (t->begin != prev || t->ownText)
        return; // only plain, contiguous tokenizations are kept
      prev = t->end;
    }
    if (prev != word.size())
      return;
    uint64_t h = hash(word);
    Slot &s = Slots[h % kSlots];
    std::lock_guard<std::mutex> g(Locks[(h / kSlots) % kLocks]);
    s.hash = h;
    s.length = static_cast<uint8_t>(word.size());
    std::memcpy(s.text, word.data(), word.size());
    s.count = static_cast<uint8_t>(n);
    for (size_t k = 0; k < n; ++k) {
      s.ids[k] = begin[k].id;
      s.ends[k] = static_cast<uint8_t>(begin[k].end);
    }
  }

private:
  static constexpr size_t kSlots = 1 << 15, kLocks = 64, kMaxWordBytes = 32, kMaxTokens = 8;
  struct Slot {
    uint64_t hash = ~uint64_t(0);
    uint8_t length = 0, count = 0;
    uint8_t ends[kMaxTokens];
    char text[kMaxWordBytes];
    uint32_t ids[kMaxTokens];
  };
  static uint64_t hash(const std::string &w) {
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (unsigned char c : w)
      h = (h ^ c) * 1099511628211ull;
    return h ^ (h >> 29);
  }
  mutable std::vector<Slot> Slots;
  mutable std::mutex Locks[kLocks];
};

class TokenizerImpl {
public:
  WordCache Cache;
  std::string Name;
  std::unique_ptr<Normalizer> Norm;
  std::unique_ptr<PreTokenizer> PreTok;
  std::unique_ptr<Model> TheModel;
  std::unique_ptr<PostProcessor> Post;
  std::unique_ptr<Decoder> Dec;
  std::vector<AddedToken> Added;
  std::unordered_map<uint32_t, size_t> AddedById;
  std::vector<int32_t> AddedIndex; ///< by id: index into Added, or -1
  AddedMatcher RawMatcher, NormMatcher;
  std::optional<PaddingOptions> Padding;
  std::optional<TruncationOptions> Truncation;

  void load(const Json &j);
  Encoding encodeOne(std::string_view text, uint32_t typeId) const;
  Encoding postProcess(Encoding a, std::optional<Encoding> b, bool addSpecial) const;
  void pad(std::vector<Encoding *> encs) const;
  std::string tokenString(uint32_t id) const {
    if (id < AddedIndex.size() && AddedIndex[id] >= 0)
      return Added[AddedIndex[id]].content;
    const std::string *t = TheModel->idToToken(id);
    return t ? *t : std::string();
  }
};

static Direction readDirection(const Json &j) {
  if (!j.contains("direction"))
    return Direction::Right;
  std::string d = getString(j, "direction", "padding/truncation");
  if (d == "Right")
    return Direction::Right;
  if (d == "Left")
    return Direction::Left;
  throw ConfigError("direction must be Left or Right, not '" + d + "'");
}

void TokenizerImpl::load(const Json &j) {
  if (!j.is_object())
    throw ConfigError("the top level must be a JSON object");
  TheModel = makeModel(field(j, "model", "tokenizer"));
  Norm = makeNormalizer(j.value("normalizer", Json()));
  PreTok = makePreTokenizer(j.value("pre_tokenizer", Json()));
  Post = makePostProcessor(j.value("post_processor", Json()));
  Dec = makeDecoder(j.value("decoder", Json()));

  size_t modelSize = TheModel->vocabSize();
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const Json &at = j["added_tokens"];
    if (!at.is_array())
      throw ConfigError("'added_tokens' must be an array");
    std::unordered_map<std::string, uint32_t> seen;
    for (const Json &t : at) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_unsigned())
        throw ConfigError("added token without a valid 'id'");
      AddedToken a;
      uint64_t id = t["id"].get<uint64_t>();
      a.content = getString(t, "content", "added token");
      if (id >= modelSize + at.size() + 1024 || id >= (1u << 31))
        throw ConfigError("added token '" + a.content + "' has id " + std::to_string(id) +
                          ", out of range for a vocabulary of " + std::to_string(modelSize));
      a.id = static_cast<uint32_t>(id);
      a.singleWord = getBool(t, "single_word", false);
      a.lstrip = getBool(t, "lstrip", false);
      a.rstrip = getBool(t, "rstrip", false);
      a.special = getBool(t, "special", false);
      a.normalized = getBool(t, "normalized", !a.special);
      if (a.content.empty())
        throw ConfigError("added token " + std::to_string(id) + " is empty");
      if (!unicode::isValid(a.content))
        throw ConfigError("added token " + std::to_string(id) + " is not valid UTF-8");
      auto dup = seen.find(a.content);
      if (dup != seen.end())
        throw ConfigError("added token '" + a.content + "' appears twice (ids " +
                          std::to_string(dup->second) + " and " + std::to_string(id) + ")");
      seen[a.content] = a.id;
      if (AddedById.count(a.id))
        throw ConfigError("added tokens '" + Added[AddedById[a.id]].content + "' and '" +
                          a.content + "' share id " + std::to_string(id));
      if (auto mid = TheModel->tokenToId(a.content); mid && *mid != a.id)
        throw ConfigError("added token '" + a.content + "' has id " + std::to_string(a.id) +
                          " but the model vocabulary gives it id " + std::to_string(*mid));
      if (const std::string *mt = TheModel->idToToken(a.id); mt && *mt != a.content)
        throw ConfigError("added token '" + a.content + "' has id " + std::to_string(a.id) +
                          ", which the model vocabulary gives to '" + *mt + "'");
      AddedById[a.id] = Added.size();
      Added.push_back(a);
    }
  }
  for (size_t k = 0; k < Added.size(); ++k) {
    const AddedToken &a = Added[k];
    Added[k].decoded = a.content;
    if (!a.normalized || !Norm) {
      RawMatcher.add(a.content, k);
    } else {
      Piece p = Piece::fromOriginal(a.content, 0);
      Norm->normalize(p);
      NormMatcher.add(p.text, k);
      Added[k].decoded = p.text;
    }
  }
  RawMatcher.finish();
  NormMatcher.finish();
  for (size_t k = 0; k < Added.size(); ++k) {
    if (Added[k].id >= AddedIndex.size())
      AddedIndex.resize(Added[k].id + 1, -1);
    AddedIndex[Added[k].id] = static_cast<int32_t>(k);
  }

  // Every id the post-processor can emit must exist.
  if (Post) {
    Encoding probe;
    probe.ids = {};
    Encoding out = Post->process(probe, &probe, true);
    for (uint32_t id : out.ids)
      if (tokenString(id).empty())
        throw ConfigError("post_processor uses id " + std::to_string(id) +
                          ", which is not in the vocabulary");
  }

  if (j.contains("truncation") && !j["truncation"].is_null()) {
    const Json &t = j["truncation"];
    TruncationOptions o;
    if (!t.contains("max_length") || !t["max_length"].is_number_unsigned())
      throw ConfigError("truncation: 'max_length' must be a non-negative integer");
    o.maxLength = t["max_length"].get<size_t>();
    o.stride = t.value("stride", size_t(0));
    std::string s = t.value("strategy", std::string("LongestFirst"));
    if (s == "LongestFirst")
      o.strategy = TruncationStrategy::LongestFirst;
    else if (s == "OnlyFirst")
      o.strategy = TruncationStrategy::OnlyFirst;
    else if (s == "OnlySecond")
      o.strategy = TruncationStrategy::OnlySecond;
    else
      throw ConfigError("truncation: unknown strategy '" + s + "'");
    o.direction = readDirection(t);
    Truncation = o;
  }
  if (j.contains("padding") && !j["padding"].is_null()) {
    const Json &p = j["padding"];
    PaddingOptions o;
    const Json &s = field(p, "strategy", "padding");
    if (s.is_string() && s.get<std::string>() == "BatchLongest") {
      o.strategy = PaddingStrategy::BatchLongest;
    } else if (s.is_object() && s.contains("Fixed") && s["Fixed"].is_number_unsigned()) {
      o.strategy = PaddingStrategy::Fixed;
      o.length = s["Fixed"].get<size_t>();
    } else {
      throw ConfigError("padding: strategy must be \"BatchLongest\" or {\"Fixed\": n}");
    }
    o.direction = readDirection(p);
    if (p.contains("pad_to_multiple_of") && !p["pad_to_multiple_of"].is_null())
      o.padToMultipleOf = p["pad_to_multiple_of"].get<size_t>();
    o.padId = p.value("pad_id", 0u);
    o.padTypeId = p.value("pad_type_id", 0u);
    o.padToken = p.value("pad_token", std::string("[PAD]"));
    Padding = o;
  }
}

Encoding TokenizerImpl::encodeOne(std::string_view rawText, uint32_t typeId) const {
  std::string text = unicode::sanitize(rawText);
  std::vector<Piece> pieces, next, words;
  Piece whole = Piece::fromOriginal(text, 0);
  if (RawMatcher.empty())
    pieces.push_back(std::move(whole));
  else
    RawMatcher.split(whole, Added, pieces);
  for (Piece &p : pieces) {
    if (p.addedId >= 0) {
      next.push_back(std::move(p));
      continue;
    }
    if (Norm)
      Norm->normalize(p);
    if (NormMatcher.empty())
      next.push_back(std::move(p));
    else
      NormMatcher.split(p, Added, next);
  }
  Encoding e;
  std::vector<Token> toks;
  auto emit = [&](uint32_t id, std::string token, std::pair<uint32_t, uint32_t> off) {
    // A token that starts or ends inside a character (byte-level BPE) covers all of it, as
    // Hugging Face's offsets do.
    auto cont = [&](uint32_t k) {
      return k < text.size() && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80;
    };
    if (off.first < off.second) {
      while (off.first > 0 && cont(off.first))
        --off.first;
      while (cont(off.second))
        ++off.second;
    }
    e.ids.push_back(id);
    e.tokens.push_back(std::move(token));
    e.offsets.push_back(off);
  };
  for (Piece &p : next) {
    if (p.text.empty())
      continue;
    if (p.addedId >= 0) {
      const AddedToken &a = Added[p.addedId];
      emit(a.id, p.text, p.original(0, p.text.size()));
      continue;
    }
    words.clear();
    if (PreTok)
      PreTok->split(p, words);
    else
      words.push_back(std::move(p));
    bool raw = TheModel->takesRawBytes();
    for (Piece &w : words) {
      if (w.byteLevel && !raw)
        w.mapToByteAlphabet();
      toks.clear();
      if (TheModel->encodesWholeText()) {
        TheModel->tokenize(w, toks);
      } else if (!Cache.lookup(w.text, toks)) {
        TheModel->tokenize(w, toks);
        Cache.insert(w.text, toks.data(), toks.data() + toks.size());
      }
      for (const Token &t : toks)
        emit(t.id, t.ownText ? w.text.substr(t.begin, t.end - t.begin) : tokenString(t.id),
             w.original(t.begin, t.end));
    }
  }
  size_t n = e.ids.size();
  e.typeIds.assign(n, typeId);
  e.specialTokensMask.assign(n, 0);
  e.attentionMask.assign(n, 1);
  e.sequenceIds.assign(n, 0);
  return e;
}

static void truncateTo(Encoding &e, size_t len, Direction dir) {
  if (e.size() <= len)
    return;
  auto cut = [&](auto &v) {
    if (dir == Direction::Right)
      v.resize(len);
    else
      v.erase(v.begin(), v.end() - len);
  };
  cut(e.ids);
  cut(e.typeIds);
  cut(e.tokens);
  cut(e.offsets);
  cut(e.specialTokensMask);
  cut(e.attentionMask);
  cut(e.sequenceIds);
}

Encoding TokenizerImpl::postProcess(Encoding a, std::optional<Encoding> b, bool addSpecial) const {
  if (Truncation) {
    TruncationOptions t = *Truncation;
    size_t added = Post ? Post->addedTokens(b.has_value()) : 0;
    if (addSpecial && added > 0) {
      if (added > t.maxLength)
        throw TokenizerError("truncation max_length " + std::to_string(t.maxLength) +
                             " leaves no room for the " + std::to_string(added) +
                             " special tokens");
      t.maxLength -= added;
    }
    size_t total = a.size() + (b ? b->size() : 0);
    if (total > t.maxLength) {
      size_t toRemove = total - t.maxLength;
      if (t.strategy == TruncationStrategy::LongestFirst) {
        if (b) {
          size_t n1 = a.size(), n2 = b->size();
          bool swapped = n1 > n2;
          if (swapped)
            std::swap(n1, n2);
          if (n1 > t.maxLength)
            n2 = n1;
          else
            n2 = std::max(n1, t.maxLength - n1);
          if (n1 + n2 > t.maxLength) {
            n1 = t.maxLength / 2;
            n2 = n1 + t.maxLength % 2;
          }
          if (swapped)
            std::swap(n1, n2);
          truncateTo(a, n1, t.direction);
          truncateTo(*b, n2, t.direction);
        } else {
          truncateTo(a, total - toRemove, t.direction);
        }
      } else {
        Encoding *target = t.strategy == TruncationStrategy::OnlyFirst ? &a : (b ? &*b : nullptr);
        if (!target)
          throw TokenizerError("truncation strategy OnlySecond needs a pair of texts");
        if (target->size() <= toRemove)
          throw TokenizerError("truncation: the sequence to truncate is too short to fit "
                               "max_length " + std::to_string(Truncation->maxLength));
        truncateTo(*target, target->size() - toRemove, t.direction);
      }
    }
  }
  Encoding out = Post ? Post->process(std::move(a), b ? &*b : nullptr, addSpecial)
                      : mergeEncodings(std::move(a), b ? &*b : nullptr);
  if (Padding)
    pad({&out});
  return out;
}

void TokenizerImpl::pad(std::vector<Encoding *> encs) const {
  const PaddingOptions &p = *Padding;
  size_t len = p.length;
  if (p.strategy == PaddingStrategy::BatchLongest) {
    len = 0;
    for (Encoding *e : encs)
      len = std::max(len, e->size());
  }
  if (p.padToMultipleOf > 0 && len % p.padToMultipleOf)
    len += p.padToMultipleOf - len % p.padToMultipleOf;
  for (Encoding *e : encs) {
    if (e->size() >= len)
      continue;
    size_t n = len - e->size();
    auto grow = [&](auto &v, auto value) {
      if (p.direction == Direction::Right)
        v.insert(v.end(), n, value);
      else
        v.insert(v.begin(), n, value);
    };
    grow(e->ids, p.padId);
    grow(e->typeIds, p.padTypeId);
    grow(e->tokens, p.padToken);
    grow(e->offsets, std::pair<size_t, size_t>{0, 0});
    grow(e->specialTokensMask, 1u);
    grow(e->attentionMask, 0u);
    grow(e->sequenceIds, -1);
  }
}

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : Impl(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::fromJson(std::string_view json, const std::string &name) {
  Json j;
  try {
    j = Json::parse(json.begin(), json.end());
  } catch (const Json::exception &e) {
    throw TokenizerError(name + ": malformed JSON: " + e.what());
  }
  auto impl = std::make_unique<TokenizerImpl>();
  impl->Name = name;
  try {
    impl->load(j);
  } catch (const ConfigError &e) {
    throw TokenizerError(name + ": " + e.what());
  } catch (const Json::exception &e) {
    throw TokenizerError(name + ": unexpected value: " + e.what());
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::unique_ptr<Tokenizer> Tokenizer::fromSentencePiece(std::string_view model,
                                                        const std::string &name) {
  auto impl = std::make_unique<TokenizerImpl>();
  impl->Name = name;
  try {
    impl->TheModel = makeSentencePieceModel(model);
  } catch (const ConfigError &e) {
    throw TokenizerError(name + ": " + e.what());
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::unique_ptr<Tokenizer> Tokenizer::fromFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw TokenizerError(path + ": cannot open the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw TokenizerError(path + ": cannot read the file");
  std::string bytes = ss.str();
  // JSON may start with white space but never with a 0x0A that is followed by no '{'.
  size_t first = bytes.find_first_not_of(" \t\r\n");
  bool json = first != std::string::npos && bytes[first] == '{';
  bool modelExt = path.size() >= 6 && path.compare(path.size() - 6, 6, ".model") == 0;
  if (!json && (modelExt || looksLikeSentencePiece(bytes)))
    return fromSentencePiece(bytes, path);
  return fromJson(bytes, path);
}

Encoding Tokenizer::encode(std::string_view text, bool addSpecialTokens) const {
  return Impl->postProcess(Impl->encodeOne(text, 0), std::nullopt, addSpecialTokens);
}

Encoding Tokenizer::encodePair(std::string_view first, std::string_view second,
                               bool addSpecialTokens) const {
  return Impl->postProcess(Impl->encodeOne(first, 0), Impl->encodeOne(second, 1),
                           addSpecialTokens);
}

std::vector<Encoding> Tokenizer::encodeBatch(const std::vector<std::string> &firsts,
                                             const std::vector<std::string> &seconds,
                                             bool addSpecialTokens) const {
  if (!seconds.empty() && seconds.size() != firsts.size())
    throw TokenizerError("encodeBatch: " + std::to_string(firsts.size()) + " first texts but " +
                         std::to_string(seconds.size()) + " second texts");
  std::vector<Encoding> out;
  out.reserve(firsts.size());
  for (size_t i = 0; i < firsts.size(); ++i)
    out.push_back(seconds.empty() ? encode(firsts[i], addSpecialTokens)
                                  : encodePair(firsts[i], seconds[i], addSpecialTokens));
  if (Impl->Padding) {
    std::vector<Encoding *> ptrs;
    for (Encoding &e : out)
      ptrs.push_back(&e);
    Impl->pad(ptrs);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens) const {
  std::string own;
  if (Impl->TheModel->decode(ids, skipSpecialTokens, own))
    return own;
  std::vector<std::string> tokens;
  for (uint32_t id : ids) {
    auto it = Impl->AddedById.find(id);
    if (it != Impl->AddedById.end()) {
      if (!(skipSpecialTokens && Impl->Added[it->second].special))
        tokens.push_back(Impl->Added[it->second].decoded);
      continue;
    }
    const std::string *t = Impl->TheModel->idToToken(id);
    if (!t)
      continue; // as Hugging Face: ids outside the vocabulary are skipped
    tokens.push_back(*t);
  }
  if (Impl->Dec) {
    Impl->Dec->decodeChain(tokens);
    std::string out;
    for (const std::string &t : tokens)
      out += t;
    return out;
  }
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i)
    out += (i ? " " : "") + tokens[i];
  return out;
}

std::string Tokenizer::normalize(std::string_view text) const {
  Piece p = Piece::fromOriginal(unicode::sanitize(text), 0);
  if (Impl->Norm)
    Impl->Norm->normalize(p);
  return p.text;
}

std::vector<std::pair<std::string, std::pair<size_t, size_t>>>
Tokenizer::preTokenize(std::string_view text) const {
  Piece p = Piece::fromOriginal(unicode::sanitize(text), 0);
  std::vector<Piece> words;
  if (Impl->PreTok)
    Impl->PreTok->split(p, words);
  else
    words.push_back(p);
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> out;
  for (Piece &w : words) {
    auto off = w.original(0, w.text.size());
    w.mapToByteAlphabet();
    out.push_back({w.text, off});
  }
  return out;
}

const std::optional<PaddingOptions> &Tokenizer::padding() const { return Impl->Padding; }
const std::optional<TruncationOptions> &Tokenizer::truncation() const { return Impl->Truncation; }
void Tokenizer::setPadding(std::optional<PaddingOptions> o) { Impl->Padding = std::move(o); }
void Tokenizer::setTruncation(std::optional<TruncationOptions> o) {
  if (o && Impl->Post) {
    size_t added = std::max(Impl->Post->addedTokens(false), Impl->Post->addedTokens(true));
    if (o->maxLength < added)
      throw TokenizerError("truncation max_length " + std::to_string(o->maxLength) +
                           " is smaller than the " + std::to_string(added) +
                           " special tokens the post-processor adds");
  }
  Impl->Truncation = std::move(o);
}

size_t Tokenizer::vocabSize() const {
  size_t n = Impl->TheModel->vocabSize();
  for (const AddedToken &a : Impl->Added)
    if (!Impl->TheModel->idToToken(a.id))
      ++n;
  return n;
}

std::optional<uint32_t> Tokenizer::tokenToId(std::string_view token) const {
  for (const AddedToken &a : Impl->Added)
    if (a.content == token)
      return a.id;
  return Impl->TheModel->tokenToId(token);
}

std::optional<std::string> Tokenizer::idToToken(uint32_t id) const {
  std::string t = Impl->tokenString(id);
  if (t.empty())
    return std::nullopt;
  return t;
}

} // namespace kiln::rt::tok
