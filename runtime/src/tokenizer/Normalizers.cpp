//===- Normalizers.cpp - tokenizer.json normalizers -----------------------===//
//
// NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Nmt, BertNormalizer
// and Sequence, each keeping every output byte aligned with the original bytes it came from.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

#include <algorithm>

namespace kiln::rt::tok {
namespace {
using Range = std::pair<uint32_t, uint32_t>;
struct Char {
  uint32_t cp;
  Range range;
};

std::vector<Char> toChars(Piece &p) {
  p.materialize();
  std::vector<Char> out;
  out.reserve(p.text.size());
  for (size_t i = 0; i < p.text.size();) {
    size_t start = i;
    uint32_t c = unicode::decode(p.text, i);
    out.push_back({c, {p.align[start].first, p.align[i - 1].second}});
  }
  return out;
}

void fromChars(Piece &p, const std::vector<Char> &chars) {
  p.text.clear();
  p.align.clear();
  for (const Char &c : chars) {
    size_t before = p.text.size();
    unicode::append(p.text, c.cp);
    p.align.insert(p.align.end(), p.text.size() - before, c.range);
  }
}

bool isAscii(const std::string &s) {
  for (unsigned char c : s)
    if (c >= 0x80)
      return false;
  return true;
}

/// Unicode normalization (UAX #15) over aligned characters. Alignments follow Hugging Face
/// (unicode-normalization-alignments): each output character carries a change (0 replaces
/// the next original character, +1 is inserted, -n also drops n originals), decomposition
/// marks the extra characters +1, reordering moves changes with their characters, and a
/// composition adds the absorbed character's change minus one to the starter's.
void normalizeForm(Piece &p, bool compat, bool composeAfter) {
  if (isAscii(p.text))
    return;
  std::vector<Char> in = toChars(p);
  std::vector<std::pair<uint32_t, int>> out;
  std::vector<uint32_t> buf;
  out.reserve(in.size());
  for (const Char &c : in) {
    buf.clear();
    unicode::decompose(c.cp, compat, buf);
    for (size_t k = 0; k < buf.size(); ++k)
      out.push_back({buf[k], k ? 1 : 0});
  }
  // Canonical ordering: stable sort each run of non-starters by combining class.
  for (size_t i = 0; i < out.size();) {
    if (unicode::combiningClass(out[i].first) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && unicode::combiningClass(out[j].first) != 0)
      ++j;
    std::stable_sort(out.begin() + i, out.begin() + j, [](const auto &a, const auto &b) {
      return unicode::combiningClass(a.first) < unicode::combiningClass(b.first);
    });
    i = j;
  }
  if (composeAfter && !out.empty()) {
    std::vector<std::pair<uint32_t, int>> comp;
    comp.reserve(out.size());
    size_t starter = SIZE_MAX;
    int lastClass = -1;
    for (const auto &c : out) {
      int cls = unicode::combiningClass(c.first);
      if (starter != SIZE_MAX) {
        bool blocked = lastClass != -1 && (lastClass >= cls || lastClass == 0);
        // lastClass == -1: the previous char is the starter itself.
        if (!blocked) {
          uint32_t composite = unicode::compose(comp[starter].first, c.first);
          if (composite) {
            comp[starter].first = composite;
            comp[starter].second += c.second - 1;
            continue;
          }
        }
      }
      if (cls == 0) {
        starter = comp.size();
        lastClass = -1;
      } else {
        lastClass = cls;
      }
      comp.push_back(c);
    }
    out.swap(comp);
  }
  std::vector<std::pair<uint32_t, Range>> olds;
  olds.reserve(in.size());
  for (const Char &c : in)
    olds.push_back({c.cp, c.range});
  applyChanges(p, olds, out);
}

class UnicodeNormalizer : public Normalizer {
public:
  UnicodeNormalizer(bool compat, bool compose) : Compat(compat), Compose(compose) {}
  void normalize(Piece &p) const override { normalizeForm(p, Compat, Compose); }

private:
  bool Compat, Compose;
};

void lowercasePiece(Piece &p) {
  if (isAscii(p.text)) {
    for (char &c : p.text)
      if (c >= 'A' && c <= 'Z')
        c += 32;
    return;
  }
  p.mapChars([](uint32_t c, std::vector<uint32_t> &out) { unicode::lowercase(c, out); });
}

class Lowercase : public Normalizer {
public:
  void normalize(Piece &p) const override { lowercasePiece(p); }
};

class Strip : public Normalizer {
public:
  Strip(bool left, bool right) : Left(left), Right(right) {}
  void normalize(Piece &p) const override {
    std::vector<Char> chars = toChars(p);
    size_t b = 0, e = chars.size();
    if (Left)
      while (b < e && unicode::isSpace(chars[b].cp))
        ++b;
    if (Right)
      while (e > b && unicode::isSpace(chars[e - 1].cp))
        --e;
    if (b == 0 && e == chars.size())
      return;
    fromChars(p, std::vector<Char>(chars.begin() + b, chars.begin() + e));
  }

private:
  bool Left, Right;
};

class StripAccents : public Normalizer {
public:
  void normalize(Piece &p) const override {
    p.mapChars([](uint32_t c, std::vector<uint32_t> &out) {
      if (!(unicode::flags(c) & unicode::kMarkNorm))
        out.push_back(c);
    });
  }
};

/// Replaces every non-overlapping occurrence of a literal (or of a run of at least MinRepeat
/// copies of one character, for the regex `X{n,}`) by Content.
class Replace : public Normalizer {
public:
  Replace(std::string pattern, size_t minRepeat, std::string content)
      : Pattern(std::move(pattern)), MinRepeat(minRepeat), Content(std::move(content)) {}

  void normalize(Piece &p) const override {
    if (Pattern.empty() || p.text.find(Pattern) == std::string::npos)
      return;
    p.materialize();
    Piece out;
    out.text.reserve(p.text.size());
    size_t i = 0;
    while (i < p.text.size()) {
      size_t m = p.text.find(Pattern, i);
      if (m == std::string::npos)
        break;
      size_t end = m;
      size_t count = 0;
      do {
        end += Pattern.size();
        ++count;
      } while (MinRepeat > 1 && p.text.compare(end, Pattern.size(), Pattern) == 0);
      if (count < MinRepeat) {
        copy(p, out, i, end);
        i = end;
        continue;
      }
      copy(p, out, i, m);
      // As Hugging Face: the replacement is inserted after removing the match, so it takes
      // the alignment of the match's last character.
      size_t last = end - 1;
      while (last > m && (static_cast<unsigned char>(p.text[last]) & 0xC0) == 0x80)
        --last;
      Range r = p.original(last, end);
      out.text += Content;
      out.align.insert(out.align.end(), Content.size(), r);
      i = end;
    }
    copy(p, out, i, p.text.size());
    out.addedId = p.addedId;
    p = std::move(out);
  }

private:
  static void copy(const Piece &from, Piece &to, size_t b, size_t e) {
    to.text.append(from.text, b, e - b);
    to.align.insert(to.align.end(), from.align.begin() + b, from.align.begin() + e);
  }
  std::string Pattern;
  size_t MinRepeat;
  std::string Content;
};

class Prepend : public Normalizer {
public:
  explicit Prepend(std::string s) : Text(std::move(s)) {}
  void normalize(Piece &p) const override {
    if (p.text.empty())
      return;
    p.materialize();
    Range first = p.align.front();
    p.text.insert(0, Text);
    p.align.insert(p.align.begin(), Text.size(), first);
  }

private:
  std::string Text;
};

class Nmt : public Normalizer {
public:
  void normalize(Piece &p) const override {
    p.mapChars([](uint32_t c, std::vector<uint32_t> &out) {
      if ((c >= 1 && c <= 8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F ||
          c == 0x8F || c == 0x9F)
        return;
      if (c == 9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 ||
          (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
          c == 0xFEFF || c == 0xFFFD)
        c = ' ';
      out.push_back(c);
    });
  }
};

class BertNormalizer : public Normalizer {
public:
  BertNormalizer(bool clean, bool chinese, bool stripAccents, bool lower)
      : Clean(clean), Chinese(chinese), StripAccents(stripAccents), Lower(lower) {}

  void normalize(Piece &p) const override {
    if (Clean)
      p.mapChars([](uint32_t c, std::vector<uint32_t> &out) {
        if (c == 0 || c == 0xFFFD)
          return;
        if (c == '\t' || c == '\n' || c == '\r') {
          out.push_back(' ');
          return;
        }
        uint16_t f = unicode::flags(c);
        if (f & unicode::kBertControl)
          return;
        out.push_back((f & unicode::kSpace) ? ' ' : c);
      });
    if (Chinese && !isAscii(p.text))
      p.mapChars([](uint32_t c, std::vector<uint32_t> &out) {
        if (unicode::isBertChineseChar(c)) {
          out.push_back(' ');
          out.push_back(c);
          out.push_back(' ');
        } else {
          out.push_back(c);
        }
      });
    if (StripAccents && !isAscii(p.text)) {
      normalizeForm(p, /*compat=*/false, /*compose=*/false);
      p.mapChars([](uint32_t c, std::vector<uint32_t> &out) {
        if (!(unicode::flags(c) & unicode::kBertNonspacingMark))
          out.push_back(c);
      });
    }
    if (Lower)
      lowercasePiece(p);
  }

private:
  bool Clean, Chinese, StripAccents, Lower;
};

class Sequence : public Normalizer {
public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> items) : Items(std::move(items)) {}
  void normalize(Piece &p) const override {
    for (const auto &n : Items)
      n->normalize(p);
  }

private:
  std::vector<std::unique_ptr<Normalizer>> Items;
};

/// Reads a Replace/Split pattern: {"String": s} or {"Regex": r}; for a regex, only a literal
/// or `X{n,}` is understood.
std::pair<std::string, size_t> readReplacePattern(const Json &j) {
  const Json &pat = field(j, "pattern", "Replace normalizer");
  if (pat.contains("String"))
    return {pat["String"].get<std::string>(), 1};
  if (pat.contains("Regex")) {
    std::string re = pat["Regex"].get<std::string>();
    // X{n,} with X one literal character.
    size_t brace = re.find('{');
    if (brace != std::string::npos && re.size() > brace + 2 && re.back() == '}' &&
        re[re.size() - 2] == ',') {
      std::string lit = re.substr(0, brace);
      std::string num = re.substr(brace + 1, re.size() - brace - 3);
      if (lit.size() == 1 && !num.empty() &&
          std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          std::string("\\^$.|?*+()[]{}").find(lit[0]) == std::string::npos)
        return {lit, static_cast<size_t>(std::stoul(num))};
    }
    if (re.find_first_of("\\^$.|?*+()[]{}") == std::string::npos)
      return {re, 1};
    throw ConfigError("unsupported regex in Replace normalizer: '" + re + "'");
  }
  throw ConfigError("Replace normalizer: pattern needs \"String\" or \"Regex\"");
}
} // namespace

void applyChanges(Piece &p, const std::vector<std::pair<uint32_t, Range>> &olds,
                  const std::vector<std::pair<uint32_t, int>> &changes) {
  std::string out;
  std::vector<Range> al;
  out.reserve(p.text.size());
  al.reserve(p.text.size());
  size_t at = 0; // next original character
  for (auto [c, change] : changes) {
    Range r;
    if (change > 0) {
      r = at ? olds[at - 1].second : Range{0, 0};
    } else {
      r = at < olds.size() ? olds[at].second : (olds.empty() ? Range{0, 0} : olds.back().second);
      at += 1 + size_t(-change);
    }
    size_t before = out.size();
    unicode::append(out, c);
    al.insert(al.end(), out.size() - before, r);
  }
  p.text.swap(out);
  p.align.swap(al);
}

std::unique_ptr<Normalizer> makeNormalizer(const Json &j) {
  if (j.is_null())
    return nullptr;
  if (!j.is_object())
    throw ConfigError("normalizer must be an object");
  std::string type = getString(j, "type", "normalizer");
  if (type == "NFC")
    return std::make_unique<UnicodeNormalizer>(false, true);
  if (type == "NFD")
    return std::make_unique<UnicodeNormalizer>(false, false);
  if (type == "NFKC")
    return std::make_unique<UnicodeNormalizer>(true, true);
  if (type == "NFKD")
    return std::make_unique<UnicodeNormalizer>(true, false);
  if (type == "Lowercase")
    return std::make_unique<Lowercase>();
  if (type == "Strip")
    return std::make_unique<Strip>(getBool(j, "strip_left", true), getBool(j, "strip_right", true));
  if (type == "StripAccents")
    return std::make_unique<StripAccents>();
  if (type == "Nmt")
    return std::make_unique<Nmt>();
  if (type == "Precompiled")
    return makePrecompiledNormalizer(j);
  if (type == "Prepend")
    return std::make_unique<Prepend>(getString(j, "prepend", "Prepend normalizer"));
  if (type == "Replace") {
    auto [pattern, repeat] = readReplacePattern(j);
    return std::make_unique<Replace>(pattern, repeat, getString(j, "content", "Replace normalizer"));
  }
  if (type == "BertNormalizer") {
    bool lower = getBool(j, "lowercase", true);
    bool strip = lower;
    if (j.contains("strip_accents") && !j["strip_accents"].is_null())
      strip = j["strip_accents"].get<bool>();
    return std::make_unique<BertNormalizer>(getBool(j, "clean_text", true),
                                            getBool(j, "handle_chinese_chars", true), strip,
                                            lower);
  }
  if (type == "Sequence") {
    const Json &items = field(j, "normalizers", "Sequence normalizer");
    if (!items.is_array())
      throw ConfigError("Sequence normalizer: 'normalizers' must be an array");
    std::vector<std::unique_ptr<Normalizer>> list;
    for (const Json &n : items)
      if (auto made = makeNormalizer(n))
        list.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(list));
  }
  throw ConfigError("unsupported normalizer type '" + type + "'");
}

} // namespace kiln::rt::tok
