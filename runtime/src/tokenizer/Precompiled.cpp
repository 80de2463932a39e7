//===- Precompiled.cpp - SentencePiece's precompiled normalization map ----===//
//
// The `Precompiled` normalizer of tokenizer.json files converted from SentencePiece (T5,
// ALBERT, XLM-R, ...). `precompiled_charsmap` is base64 of SentencePiece's compiled
// normalization rules: a little-endian u32 byte size N, N bytes of a Darts double-array
// trie whose keys are UTF-8 strings and whose values are offsets into the NUL-separated
// replacement strings that follow.
//
// The rules are applied as Hugging Face applies them (not as SentencePiece does, which
// takes the longest match from each position): per extended grapheme cluster, a cluster
// shorter than 6 bytes is looked up whole and, when any prefix of it is a key, the whole
// cluster becomes the replacement of the *shortest* matching prefix; otherwise each
// character is replaced by its own rule or kept.
//
//===----------------------------------------------------------------------===//
#include "Components.h"
#include "Unicode.h"

#include <optional>

namespace kiln::rt::tok {
namespace {
using Range = std::pair<uint32_t, uint32_t>;

std::vector<uint8_t> decodeBase64(const std::string &s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(s.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] != '='; ++i) {
    int v = value(s[i]);
    if (v < 0)
      throw ConfigError("Precompiled normalizer: 'precompiled_charsmap' is not base64 (byte " +
                        std::to_string(i) + ")");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  for (; i < s.size(); ++i)
    if (s[i] != '=')
      throw ConfigError("Precompiled normalizer: 'precompiled_charsmap' is not base64");
  return out;
}

/// Grapheme_Extend, SpacingMark and ZWJ, as far as they can join a cluster shorter than 6
/// bytes: marks, joiners, emoji modifiers, halfwidth sound marks and tags.
bool extendsCluster(uint32_t c) {
  return (unicode::flags(c) & unicode::kMarkNorm) || c == 0x200C || c == 0x200D ||
         (c >= 0x1F3FB && c <= 0x1F3FF) || c == 0xFF9E || c == 0xFF9F ||
         (c >= 0xE0020 && c <= 0xE007F);
}

/// Grapheme cluster Control (and CR, LF): nothing extends them.
bool isClusterControl(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 || c == 0xAD ||
         c == 0x61C || c == 0x180E || c == 0x200B || c == 0x200E || c == 0x200F ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF0 && c <= 0xFFFB);
}

class Precompiled : public Normalizer {
public:
  explicit Precompiled(const std::vector<uint8_t> &blob) {
    if (blob.empty())
      return;
    if (blob.size() < 4)
      throw ConfigError("Precompiled normalizer: charsmap shorter than its 4-byte header");
    uint32_t trieBytes = blob[0] | blob[1] << 8 | blob[2] << 16 | uint32_t(blob[3]) << 24;
    if (trieBytes % 4 != 0 || trieBytes > blob.size() - 4)
      throw ConfigError("Precompiled normalizer: trie size " + std::to_string(trieBytes) +
                        " does not fit the " + std::to_string(blob.size()) + "-byte charsmap");
    Trie.resize(trieBytes / 4);
    for (size_t i = 0; i < Trie.size(); ++i) {
      const uint8_t *b = &blob[4 + 4 * i];
      Trie[i] = b[0] | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24;
    }
    Replacements.assign(blob.begin() + 4 + trieBytes, blob.end());
    if (!unicode::isValid(Replacements))
      throw ConfigError("Precompiled normalizer: replacement strings are not UTF-8");
  }

  void normalize(Piece &p) const override {
    if (Trie.empty() || p.text.empty())
      return;
    p.materialize();
    const std::string &s = p.text;
    // The characters of the text with their original ranges, and Hugging Face's list of
    // (new character, change) transformations: change 0 takes the next old character's
    // place, 1 is inserted (aligned with the previous old character), -n also removes the
    // n old characters after it.
    std::vector<std::pair<uint32_t, Range>> olds;
    std::vector<std::pair<uint32_t, int>> trans;
    bool modified = false;
    auto replace = [&](size_t oldChars, std::string_view norm) {
      size_t before = trans.size();
      for (size_t k = 0; k < norm.size();)
        trans.push_back({unicode::decode(norm, k), 0});
      long diff = long(trans.size() - before) - long(oldChars);
      if (diff > 0) {
        for (size_t k = trans.size() - diff; k < trans.size(); ++k)
          trans[k].second = 1;
      } else if (diff < 0 && !trans.empty()) {
        trans.back().second += int(diff);
      }
      modified = true;
    };
    size_t i = 0;
    while (i < s.size()) {
      // One extended grapheme cluster [i, end).
      size_t end = i;
      uint32_t first = unicode::decode(s, end);
      if (first == '\r' && end < s.size() && s[end] == '\n') {
        ++end;
      } else if (!isClusterControl(first)) {
        while (end < s.size()) {
          size_t next = end;
          if (!extendsCluster(unicode::decode(s, next)))
            break;
          end = next;
        }
      }
      size_t firstOld = olds.size();
      for (size_t k = i; k < end;) {
        size_t b = k;
        uint32_t c = unicode::decode(s, k);
        olds.push_back({c, p.original(b, k)});
      }
      if (end - i < 6) {
        if (auto norm = transform(s.data() + i, end - i)) {
          replace(olds.size() - firstOld, *norm);
          i = end;
          continue;
        }
      }
      for (size_t k = firstOld; i < end; ++k) {
        size_t b = i;
        unicode::decode(s, i);
        if (auto norm = transform(s.data() + b, i - b))
          replace(1, *norm);
        else
          trans.push_back({olds[k].first, 0});
      }
    }
    if (!modified)
      return;
    applyChanges(p, olds, trans);
  }

private:
  static bool hasLeaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
  static size_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

  /// The replacement of the shortest key that is a prefix of [s, s + n), if any.
  std::optional<std::string_view> transform(const char *s, size_t n) const {
    size_t pos = offset(Trie[0]);
    for (size_t k = 0; k < n; ++k) {
      uint8_t c = static_cast<uint8_t>(s[k]);
      if (c == 0)
        break;
      pos ^= c;
      if (pos >= Trie.size())
        return std::nullopt;
      uint32_t unit = Trie[pos];
      if (label(unit) != c)
        return std::nullopt;
      pos ^= offset(unit);
      if (pos >= Trie.size())
        return std::nullopt;
      if (hasLeaf(unit)) {
        size_t at = value(Trie[pos]);
        // A value inside a character (only in a damaged map) is no rule.
        if (at >= Replacements.size() ||
            (static_cast<unsigned char>(Replacements[at]) & 0xC0) == 0x80)
          return std::nullopt;
        size_t stop = Replacements.find('\0', at);
        if (stop == std::string::npos)
          stop = Replacements.size();
        return std::string_view(Replacements).substr(at, stop - at);
      }
    }
    return std::nullopt;
  }

  std::vector<uint32_t> Trie;
  std::string Replacements;
};
} // namespace

std::unique_ptr<Normalizer> makePrecompiledNormalizer(const Json &j) {
  const Json &m = field(j, "precompiled_charsmap", "Precompiled normalizer");
  if (!m.is_string())
    throw ConfigError("Precompiled normalizer: 'precompiled_charsmap' must be a base64 string");
  std::vector<uint8_t> blob = decodeBase64(m.get<std::string>());
  if (blob.empty())
    return nullptr; // an empty map normalizes nothing
  return std::make_unique<Precompiled>(blob);
}

} // namespace kiln::rt::tok
