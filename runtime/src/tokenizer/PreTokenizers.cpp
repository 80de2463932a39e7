//===- PreTokenizers.cpp - tokenizer.json pre-tokenizers ------------------===//
//
// ByteLevel, Split, Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation,
// Digits and Sequence. The split regexes of GPT-2 and LLaMA-3 are matched by hand-written
// scanners that follow the regex semantics (leftmost alternative, greedy with backtracking);
// any other regex is refused when the file is loaded.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

namespace kiln::rt::tok {
namespace {

struct Match {
  size_t begin, end;
  bool isMatch;
};

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parseBehavior(const Json &j, const char *where) {
  std::string b = getString(j, "behavior", where);
  if (b == "Removed")
    return Behavior::Removed;
  if (b == "Isolated")
    return Behavior::Isolated;
  if (b == "MergedWithPrevious")
    return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext")
    return Behavior::MergedWithNext;
  if (b == "Contiguous")
    return Behavior::Contiguous;
  throw ConfigError(std::string(where) + ": unknown behavior '" + b + "'");
}

/// Turns matched ranges into the pieces that \p behavior keeps (as NormalizedString::split).
void applyBehavior(const Piece &in, std::vector<Match> &matches, Behavior behavior,
                   bool invert, std::vector<Piece> &out) {
  if (invert)
    for (Match &m : matches)
      m.isMatch = !m.isMatch;
  std::vector<Match> splits; // isMatch here means "remove"
  switch (behavior) {
  case Behavior::Isolated:
    for (Match m : matches)
      splits.push_back({m.begin, m.end, false});
    break;
  case Behavior::Removed:
    splits = matches;
    break;
  case Behavior::Contiguous: {
    int prev = -1;
    for (Match m : matches) {
      if (prev == static_cast<int>(m.isMatch) && !splits.empty())
        splits.back().end = m.end;
      else
        splits.push_back({m.begin, m.end, false});
      prev = m.isMatch;
    }
    break;
  }
  case Behavior::MergedWithPrevious: {
    bool prev = false;
    for (Match m : matches) {
      if (m.isMatch && !prev && !splits.empty())
        splits.back().end = m.end;
      else
        splits.push_back({m.begin, m.end, false});
      prev = m.isMatch;
    }
    break;
  }
  case Behavior::MergedWithNext: {
    bool prev = false;
    for (size_t k = matches.size(); k-- > 0;) {
      Match m = matches[k];
      if (m.isMatch && !prev && !splits.empty())
        splits.back().begin = m.begin;
      else
        splits.push_back({m.begin, m.end, false});
      prev = m.isMatch;
    }
    std::reverse(splits.begin(), splits.end());
    break;
  }
  }
  for (const Match &s : splits)
    if (!s.isMatch && s.end > s.begin)
      out.push_back(in.slice(s.begin, s.end));
}

/// Matches of a per-character predicate: each matching char is one match, gaps between.
template <typename Pred>
std::vector<Match> charMatches(const std::string &s, Pred pred) {
  std::vector<Match> m;
  size_t gap = 0;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    uint32_t c = unicode::decode(s, i);
    if (pred(c)) {
      if (gap < start)
        m.push_back({gap, start, false});
      m.push_back({start, i, true});
      gap = i;
    }
  }
  if (gap < s.size())
    m.push_back({gap, s.size(), false});
  return m;
}

/// Fills gaps between regex matches, as the regex splitter reports them.
std::vector<Match> withGaps(const std::string &s, const std::vector<std::pair<size_t, size_t>> &ms) {
  std::vector<Match> out;
  size_t prev = 0;
  for (auto [b, e] : ms) {
    if (prev < b)
      out.push_back({prev, b, false});
    out.push_back({b, e, true});
    prev = e;
  }
  if (prev < s.size())
    out.push_back({prev, s.size(), false});
  return out;
}

//===----------------------------------------------------------------------===//
// Hand-written regex scanners
//===----------------------------------------------------------------------===//

enum class SplitRegex { Gpt2, Llama3 };

/// Reads the characters of a piece once, with their class.
struct Scanner {
  const std::string &S;
  explicit Scanner(const std::string &s) : S(s) {}
  size_t n() const { return S.size(); }
  /// Code point at byte \p i and the byte after it.
  uint32_t at(size_t i, size_t &next) const {
    next = i;
    return unicode::decode(S, next);
  }
  static bool isL(uint32_t c) {
    return c < 128 ? ((c | 32) >= 'a' && (c | 32) <= 'z') : unicode::isLetter(c);
  }
  static bool isN(uint32_t c) { return c < 128 ? (c >= '0' && c <= '9') : unicode::isNumber(c); }
  static bool isS(uint32_t c) { return unicode::isSpace(c); }
  static bool isOther(uint32_t c) { return !isL(c) && !isN(c) && !isS(c); }
  template <typename Pred> size_t run(size_t i, Pred p, size_t maxChars = SIZE_MAX) const {
    size_t count = 0;
    while (i < S.size() && count < maxChars) {
      size_t nx;
      if (!p(at(i, nx)))
        break;
      i = nx;
      ++count;
    }
    return i;
  }
};

/// `'s|'t|'re|'ve|'m|'ll|'d` (case-insensitively for LLaMA-3), at an apostrophe.
size_t contraction(const std::string &s, size_t i, bool ignoreCase) {
  auto lower = [&](size_t k, size_t &len) -> uint32_t {
    if (k >= s.size())
      return 0;
    size_t nx = k;
    uint32_t c = unicode::decode(s, nx);
    len = nx - k;
    if (ignoreCase) {
      if (c >= 'A' && c <= 'Z')
        c += 32;
      if (c == 0x17F) // LATIN SMALL LETTER LONG S folds to 's'
        c = 's';
    }
    return c;
  };
  size_t l1 = 0, l2 = 0;
  uint32_t a = lower(i + 1, l1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd')
    return i + 1 + l1;
  uint32_t b = l1 ? lower(i + 1 + l1, l2) : 0;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
    return i + 1 + l1 + l2;
  return 0;
}

/// `\s+(?!\S)|\s+` at a whitespace char.
size_t trailingSpace(const Scanner &sc, size_t i) {
  size_t lastStart = i, j = i, count = 0;
  while (j < sc.n()) {
    size_t nx;
    if (!Scanner::isS(sc.at(j, nx)))
      break;
    lastStart = j;
    j = nx;
    ++count;
  }
  if (j == sc.n() || count < 2)
    return j;
  return lastStart;
}

size_t matchGpt2(const Scanner &sc, size_t i) {
  size_t nx;
  uint32_t c = sc.at(i, nx);
  if (c == '\'') {
    if (size_t e = contraction(sc.S, i, false))
      return e;
  }
  size_t start = i;
  uint32_t d = c;
  size_t dn = nx;
  if (c == ' ' && nx < sc.n())
    d = sc.at(nx, dn), start = nx;
  else
    start = i;
  if (start != i || !Scanner::isS(c)) {
    if (Scanner::isL(d))
      return sc.run(start, Scanner::isL);
    if (Scanner::isN(d))
      return sc.run(start, Scanner::isN);
    if (Scanner::isOther(d))
      return sc.run(start, Scanner::isOther);
  }
  return trailingSpace(sc, i);
}

size_t matchLlama3(const Scanner &sc, size_t i) {
  size_t nx;
  uint32_t c = sc.at(i, nx);
  if (c == '\'') {
    if (size_t e = contraction(sc.S, i, true))
      return e;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (Scanner::isL(c))
    return sc.run(i, Scanner::isL);
  if (c != '\r' && c != '\n' && !Scanner::isN(c) && nx < sc.n()) {
    size_t nn;
    if (Scanner::isL(sc.at(nx, nn)))
      return sc.run(nx, Scanner::isL);
  }
  // \p{N}{1,3}
  if (Scanner::isN(c))
    return sc.run(i, Scanner::isN, 3);
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t start = SIZE_MAX;
  if (Scanner::isOther(c)) {
    start = i;
  } else if (c == ' ' && nx < sc.n()) {
    size_t nn;
    if (Scanner::isOther(sc.at(nx, nn)))
      start = nx;
  }
  if (start != SIZE_MAX) {
    size_t e = sc.run(start, Scanner::isOther);
    return sc.run(e, [](uint32_t x) { return x == '\r' || x == '\n'; });
  }
  // \s*[\r\n]+ : the whitespace run up to its last line break.
  size_t j = i, lastBreakEnd = 0;
  while (j < sc.n()) {
    size_t n2;
    uint32_t x = sc.at(j, n2);
    if (!Scanner::isS(x))
      break;
    if (x == '\r' || x == '\n')
      lastBreakEnd = n2;
    j = n2;
  }
  if (lastBreakEnd)
    return lastBreakEnd;
  return trailingSpace(sc, i);
}

std::vector<std::pair<size_t, size_t>> regexMatches(const std::string &s, SplitRegex re) {
  std::vector<std::pair<size_t, size_t>> out;
  Scanner sc(s);
  for (size_t i = 0; i < s.size();) {
    size_t e = re == SplitRegex::Gpt2 ? matchGpt2(sc, i) : matchLlama3(sc, i);
    out.push_back({i, e});
    i = e;
  }
  return out;
}

const char *const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char *const kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

//===----------------------------------------------------------------------===//
// Pre-tokenizers
//===----------------------------------------------------------------------===//

class ByteLevel : public PreTokenizer {
public:
  ByteLevel(bool prefixSpace, bool useRegex) : PrefixSpace(prefixSpace), UseRegex(useRegex) {}

  void split(const Piece &in, std::vector<Piece> &out) const override {
    size_t firstOut = out.size();
    if (PrefixSpace && (in.text.empty() || in.text[0] != ' ')) {
      Piece p = in;
      p.materialize();
      auto first = p.align.empty() ? std::pair<uint32_t, uint32_t>{0, 0} : p.align.front();
      p.text.insert(p.text.begin(), ' ');
      p.align.insert(p.align.begin(), first);
      splitInto(p, out);
    } else {
      splitInto(in, out);
    }
    for (size_t k = firstOut; k < out.size(); ++k)
      out[k].byteLevel = true;
  }

  void splitInto(const Piece &p, std::vector<Piece> &out) const {
    if (!UseRegex) {
      if (!p.text.empty())
        out.push_back(p);
      return;
    }
    Scanner sc(p.text);
    for (size_t i = 0; i < p.text.size();) {
      size_t e = matchGpt2(sc, i);
      out.push_back(p.slice(i, e));
      i = e;
    }
  }

private:
  bool PrefixSpace, UseRegex;
};

class Split : public PreTokenizer {
public:
  Split(std::string literal, int regex, Behavior b, bool invert)
      : Literal(std::move(literal)), Regex(regex), B(b), Invert(invert) {}

  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<std::pair<size_t, size_t>> ms;
    if (Regex >= 0) {
      ms = regexMatches(in.text, static_cast<SplitRegex>(Regex));
    } else if (!Literal.empty()) {
      for (size_t pos = in.text.find(Literal); pos != std::string::npos;
           pos = in.text.find(Literal, pos + Literal.size()))
        ms.push_back({pos, pos + Literal.size()});
    }
    std::vector<Match> m = withGaps(in.text, ms);
    applyBehavior(in, m, B, Invert, out);
  }

private:
  std::string Literal;
  int Regex;
  Behavior B;
  bool Invert;
};

class Metaspace : public PreTokenizer {
public:
  enum class Prepend { Always, First, Never };
  Metaspace(uint32_t replacement, Prepend prepend, bool split)
      : Replacement(replacement), Scheme(prepend), DoSplit(split) {
    unicode::append(Rep, replacement);
  }

  void split(const Piece &in, std::vector<Piece> &out) const override {
    Piece p = in;
    p.mapChars([&](uint32_t c, std::vector<uint32_t> &o) { o.push_back(c == ' ' ? Replacement : c); });
    p.materialize();
    bool startsWith = p.text.compare(0, Rep.size(), Rep) == 0;
    bool prepend = Scheme == Prepend::Always ||
                   (Scheme == Prepend::First && !p.align.empty() && p.align.front().first == 0);
    if (!startsWith && prepend) {
      auto first = p.align.empty() ? std::pair<uint32_t, uint32_t>{0, 0} : p.align.front();
      p.text.insert(0, Rep);
      p.align.insert(p.align.begin(), Rep.size(), first);
    }
    if (!DoSplit) {
      if (!p.text.empty())
        out.push_back(std::move(p));
      return;
    }
    uint32_t r = Replacement;
    std::vector<Match> m = charMatches(p.text, [r](uint32_t c) { return c == r; });
    applyBehavior(p, m, Behavior::MergedWithNext, false, out);
  }

private:
  uint32_t Replacement;
  std::string Rep;
  Prepend Scheme;
  bool DoSplit;
};

/// `\w+|[^\w\s]+`, keeping the matches.
class Whitespace : public PreTokenizer {
public:
  void split(const Piece &in, std::vector<Piece> &out) const override {
    Scanner sc(in.text);
    auto word = [](uint32_t c) {
      return c < 128 ? (std::isalnum(static_cast<int>(c)) || c == '_')
                     : (unicode::flags(c) & unicode::kWord) != 0;
    };
    for (size_t i = 0; i < in.text.size();) {
      size_t nx;
      uint32_t c = sc.at(i, nx);
      if (word(c)) {
        size_t e = sc.run(i, word);
        out.push_back(in.slice(i, e));
        i = e;
      } else if (!unicode::isSpace(c)) {
        size_t e = sc.run(i, [&](uint32_t x) { return !word(x) && !unicode::isSpace(x); });
        out.push_back(in.slice(i, e));
        i = e;
      } else {
        i = nx;
      }
    }
  }
};

bool isBertPunct(uint32_t c) { return unicode::flags(c) & unicode::kBertPunct; }

class WhitespaceSplit : public PreTokenizer {
public:
  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<Match> m = charMatches(in.text, unicode::isSpace);
    applyBehavior(in, m, Behavior::Removed, false, out);
  }
};

class BertPreTokenizer : public PreTokenizer {
public:
  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<Piece> words;
    std::vector<Match> m = charMatches(in.text, unicode::isSpace);
    applyBehavior(in, m, Behavior::Removed, false, words);
    for (const Piece &w : words) {
      std::vector<Match> pm = charMatches(w.text, isBertPunct);
      applyBehavior(w, pm, Behavior::Isolated, false, out);
    }
  }
};

class Punctuation : public PreTokenizer {
public:
  explicit Punctuation(Behavior b) : B(b) {}
  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<Match> m = charMatches(in.text, isBertPunct);
    applyBehavior(in, m, B, false, out);
  }

private:
  Behavior B;
};

class Digits : public PreTokenizer {
public:
  explicit Digits(bool individual) : Individual(individual) {}
  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<Match> m = charMatches(
        in.text, [](uint32_t c) { return (unicode::flags(c) & unicode::kNumeric) != 0; });
    applyBehavior(in, m, Individual ? Behavior::Isolated : Behavior::Contiguous, false, out);
  }

private:
  bool Individual;
};

class Sequence : public PreTokenizer {
public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> items) : Items(std::move(items)) {}
  void split(const Piece &in, std::vector<Piece> &out) const override {
    std::vector<Piece> cur{in}, next;
    for (const auto &p : Items) {
      next.clear();
      for (Piece &x : cur) {
        if (x.byteLevel)
          x.mapToByteAlphabet(); // later steps see the mapped text, as in Hugging Face
        p->split(x, next);
      }
      cur.swap(next);
    }
    for (Piece &x : cur)
      out.push_back(std::move(x));
  }

private:
  std::vector<std::unique_ptr<PreTokenizer>> Items;
};

uint32_t singleChar(const std::string &s, const char *where) {
  size_t i = 0;
  if (s.empty() || !unicode::isValid(s))
    throw ConfigError(std::string(where) + ": replacement must be one character");
  uint32_t c = unicode::decode(s, i);
  if (i != s.size())
    throw ConfigError(std::string(where) + ": replacement must be one character");
  return c;
}
} // namespace

std::unique_ptr<PreTokenizer> makePreTokenizer(const Json &j) {
  if (j.is_null())
    return nullptr;
  if (!j.is_object())
    throw ConfigError("pre_tokenizer must be an object");
  std::string type = getString(j, "type", "pre_tokenizer");
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(getBool(j, "add_prefix_space", true),
                                       getBool(j, "use_regex", true));
  if (type == "Split") {
    const Json &pat = field(j, "pattern", "Split pre-tokenizer");
    Behavior b = parseBehavior(j, "Split pre-tokenizer");
    bool invert = getBool(j, "invert", false);
    if (pat.contains("String"))
      return std::make_unique<Split>(pat["String"].get<std::string>(), -1, b, invert);
    if (pat.contains("Regex")) {
      std::string re = pat["Regex"].get<std::string>();
      if (re == kGpt2Pattern)
        return std::make_unique<Split>("", static_cast<int>(SplitRegex::Gpt2), b, invert);
      if (re == kLlama3Pattern)
        return std::make_unique<Split>("", static_cast<int>(SplitRegex::Llama3), b, invert);
      if (!re.empty() && re.find_first_of("\\^$.|?*+()[]{}") == std::string::npos)
        return std::make_unique<Split>(re, -1, b, invert);
      throw ConfigError("unsupported regex in Split pre-tokenizer: '" + re +
                        "' (Kiln knows the GPT-2 and LLaMA-3 split patterns)");
    }
    throw ConfigError("Split pre-tokenizer: pattern needs \"String\" or \"Regex\"");
  }
  if (type == "Metaspace") {
    uint32_t rep = singleChar(getString(j, "replacement", "Metaspace pre-tokenizer"),
                              "Metaspace pre-tokenizer");
    Metaspace::Prepend scheme = Metaspace::Prepend::Always;
    if (j.contains("prepend_scheme")) {
      std::string s = getString(j, "prepend_scheme", "Metaspace pre-tokenizer");
      if (s == "always")
        scheme = Metaspace::Prepend::Always;
      else if (s == "first")
        scheme = Metaspace::Prepend::First;
      else if (s == "never")
        scheme = Metaspace::Prepend::Never;
      else
        throw ConfigError("Metaspace pre-tokenizer: unknown prepend_scheme '" + s + "'");
    } else if (!getBool(j, "add_prefix_space", true)) {
      scheme = Metaspace::Prepend::Never;
    }
    return std::make_unique<Metaspace>(rep, scheme, getBool(j, "split", true));
  }
  if (type == "Whitespace")
    return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit")
    return std::make_unique<WhitespaceSplit>();
  if (type == "BertPreTokenizer")
    return std::make_unique<BertPreTokenizer>();
  if (type == "Punctuation")
    return std::make_unique<Punctuation>(j.contains("behavior")
                                             ? parseBehavior(j, "Punctuation pre-tokenizer")
                                             : Behavior::Isolated);
  if (type == "Digits")
    return std::make_unique<Digits>(getBool(j, "individual_digits", false));
  if (type == "Sequence") {
    const Json &items = field(j, "pretokenizers", "Sequence pre-tokenizer");
    if (!items.is_array())
      throw ConfigError("Sequence pre-tokenizer: 'pretokenizers' must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> list;
    for (const Json &p : items)
      if (auto made = makePreTokenizer(p))
        list.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(list));
  }
  throw ConfigError("unsupported pre_tokenizer type '" + type + "'");
}

} // namespace kiln::rt::tok
