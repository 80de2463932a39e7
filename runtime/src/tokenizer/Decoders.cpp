//===- Decoders.cpp - Turning tokens back into text -----------------------===//
//
// ByteLevel, Metaspace, WordPiece, BPEDecoder, Replace, ByteFallback, Fuse, Strip and
// Sequence, each a step over the list of token strings as in Hugging Face.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

namespace kiln::rt::tok {
namespace {

std::string replaceAll(std::string s, const std::string &from, const std::string &to) {
  if (from.empty())
    return s;
  std::string out;
  size_t i = 0;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, i)) {
    out.append(s, i, p - i);
    out += to;
    i = p + from.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

class ByteLevel : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::string bytes;
    for (const std::string &t : tokens) {
      std::string mapped;
      bool ok = true;
      for (size_t i = 0; i < t.size();) {
        if (!unicode::isValid(std::string_view(t).substr(i, unicode::charLength(t[i])))) {
          ok = false;
          break;
        }
        uint32_t c = unicode::decode(t, i);
        int b = charToByte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        mapped.push_back(static_cast<char>(b));
      }
      bytes += ok ? mapped : t;
    }
    tokens.assign(1, unicode::sanitize(bytes));
  }
};

class Metaspace : public Decoder {
public:
  Metaspace(std::string rep, bool prepend) : Rep(std::move(rep)), Prepend(prepend) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = replaceAll(tokens[i], Rep, i == 0 && Prepend ? "" : " ");
  }

private:
  std::string Rep;
  bool Prepend;
};

std::string cleanup(std::string s) {
  static const std::pair<const char *, const char *> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},          {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},        {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : kRules)
    s = replaceAll(std::move(s), from, to);
  return s;
}

class WordPiece : public Decoder {
public:
  WordPiece(std::string prefix, bool clean) : Prefix(std::move(prefix)), Clean(clean) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string &t = tokens[i];
      if (i != 0) {
        size_t p = Prefix.empty() ? std::string::npos : t.find(Prefix);
        if (!Prefix.empty() && t.compare(0, Prefix.size(), Prefix) == 0)
          t.erase(0, Prefix.size());
        else
          t = " " + t;
        (void)p;
      }
      if (Clean)
        t = cleanup(t);
    }
  }

private:
  std::string Prefix;
  bool Clean;
};

class BpeDecoder : public Decoder {
public:
  explicit BpeDecoder(std::string suffix) : Suffix(std::move(suffix)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = replaceAll(tokens[i], Suffix, i + 1 == tokens.size() ? "" : " ");
  }

private:
  std::string Suffix;
};

class Replace : public Decoder {
public:
  Replace(std::string from, std::string to) : From(std::move(from)), To(std::move(to)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (std::string &t : tokens)
      t = replaceAll(t, From, To);
  }

private:
  std::string From, To;
};

class ByteFallback : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pendingCount = 0;
    auto flush = [&] {
      if (!pendingCount)
        return;
      if (unicode::isValid(pending))
        out.push_back(pending);
      else
        for (size_t k = 0; k < pendingCount; ++k)
          out.push_back("\xEF\xBF\xBD");
      pending.clear();
      pendingCount = 0;
    };
    for (std::string &t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
          std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4])))
        byte = std::stoi(t.substr(3, 2), nullptr, 16);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        ++pendingCount;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class Fuse : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::string all;
    for (const std::string &t : tokens)
      all += t;
    tokens.assign(1, all);
  }
};

class Strip : public Decoder {
public:
  Strip(uint32_t c, size_t start, size_t stop) : C(c), Start(start), Stop(stop) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (std::string &t : tokens) {
      std::vector<std::pair<size_t, uint32_t>> chars;
      for (size_t i = 0; i < t.size();) {
        size_t b = i;
        chars.push_back({b, unicode::decode(t, i)});
      }
      size_t b = 0, e = chars.size();
      while (b < e && b < Start && chars[b].second == C)
        ++b;
      size_t removedEnd = 0;
      while (e > b && removedEnd < Stop && chars[e - 1].second == C)
        --e, ++removedEnd;
      size_t from = b < chars.size() ? chars[b].first : t.size();
      size_t to = e < chars.size() ? chars[e].first : t.size();
      t = t.substr(from, to - from);
    }
  }

private:
  uint32_t C;
  size_t Start, Stop;
};

class Sequence : public Decoder {
public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> items) : Items(std::move(items)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (const auto &d : Items)
      d->decodeChain(tokens);
  }

private:
  std::vector<std::unique_ptr<Decoder>> Items;
};
} // namespace

std::unique_ptr<Decoder> makeDecoder(const Json &j) {
  if (j.is_null())
    return nullptr;
  if (!j.is_object())
    throw ConfigError("decoder must be an object");
  std::string type = getString(j, "type", "decoder");
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>();
  if (type == "Metaspace") {
    bool prepend = true;
    if (j.contains("prepend_scheme"))
      prepend = getString(j, "prepend_scheme", "Metaspace decoder") != "never";
    else
      prepend = getBool(j, "add_prefix_space", true);
    return std::make_unique<Metaspace>(getString(j, "replacement", "Metaspace decoder"), prepend);
  }
  if (type == "WordPiece")
    return std::make_unique<WordPiece>(j.contains("prefix") ? getString(j, "prefix", "WordPiece decoder") : "##",
                                       getBool(j, "cleanup", true));
  if (type == "BPEDecoder")
    return std::make_unique<BpeDecoder>(j.contains("suffix") ? getString(j, "suffix", "BPEDecoder") : "</w>");
  if (type == "Replace") {
    const Json &pat = field(j, "pattern", "Replace decoder");
    if (!pat.contains("String"))
      throw ConfigError("Replace decoder: only a String pattern is supported");
    return std::make_unique<Replace>(pat["String"].get<std::string>(),
                                     getString(j, "content", "Replace decoder"));
  }
  if (type == "ByteFallback")
    return std::make_unique<ByteFallback>();
  if (type == "Fuse")
    return std::make_unique<Fuse>();
  if (type == "Strip") {
    std::string content = getString(j, "content", "Strip decoder");
    size_t i = 0;
    if (content.empty() || !unicode::isValid(content))
      throw ConfigError("Strip decoder: content must be one character");
    uint32_t c = unicode::decode(content, i);
    return std::make_unique<Strip>(c, j.value("start", 0u), j.value("stop", 0u));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> list;
    for (const Json &d : field(j, "decoders", "Sequence decoder"))
      if (auto made = makeDecoder(d))
        list.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(list));
  }
  throw ConfigError("unsupported decoder type '" + type + "'");
}

} // namespace kiln::rt::tok
