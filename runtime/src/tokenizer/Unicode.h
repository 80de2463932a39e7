//===- Unicode.h - Character data and UTF-8 for the tokenizers ---*- C++ -*-===//
//
// UTF-8 decoding with replacement, character classes and normalization forms, each following
// the Unicode version of the Hugging Face component it stands in for (see
// gen_unicode_tables.py and docs/tokenizers.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_TOKENIZER_UNICODE_H
#define KILN_RT_TOKENIZER_UNICODE_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt::tok::unicode {

/// Character property bits (see gen_unicode_tables.py).
enum Flag : uint16_t {
  kLetter = 1,       ///< \p{L}, Unicode 16.0 (Oniguruma)
  kNumber = 2,       ///< \p{N}, Unicode 16.0
  kSpace = 4,        ///< White_Space (Rust char::is_whitespace, Oniguruma \s)
  kBertPunct = 8,    ///< ASCII punctuation or \p{P}, Unicode 8.0 (BERT)
  kBertControl = 16, ///< Cc, Cf, Co, Cs in Unicode 8.0 (BERT clean_text)
  kBertNonspacingMark = 32, ///< Mn in Unicode 8.0 (BERT strip_accents)
  kWord = 64,        ///< Oniguruma \w (Alphabetic, marks, Nd, Pc, joiners), Unicode 16.0
  kMarkNorm = 128,   ///< \p{M} in Unicode 9.0 (StripAccents normalizer)
  kNumeric = 256,    ///< \p{N} in Unicode 17.0 (Rust char::is_numeric)
};

/// The property bits of code point \p c (0 past U+10FFFF).
uint16_t flags(uint32_t c);
inline bool isLetter(uint32_t c) { return flags(c) & kLetter; }
inline bool isNumber(uint32_t c) { return flags(c) & kNumber; }
inline bool isSpace(uint32_t c) {
  return c < 128 ? (c == ' ' || (c >= 9 && c <= 13)) : (flags(c) & kSpace);
}

/// Decodes the UTF-8 character at \p s[i], advancing \p i. Input must be valid UTF-8.
inline uint32_t decode(std::string_view s, size_t &i) {
  unsigned char c = s[i];
  if (c < 0x80) {
    ++i;
    return c;
  }
  if (c < 0xE0) {
    uint32_t r = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    i += 2;
    return r;
  }
  if (c < 0xF0) {
    uint32_t r = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    i += 3;
    return r;
  }
  uint32_t r = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
               (s[i + 3] & 0x3F);
  i += 4;
  return r;
}

/// Length in bytes of the UTF-8 character starting with byte \p lead.
inline size_t charLength(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/// Appends the UTF-8 encoding of \p c.
void append(std::string &out, uint32_t c);

/// Returns \p text with every ill-formed UTF-8 sequence replaced by U+FFFD, one per maximal
/// subpart (the Unicode recommendation, as Python's bytes.decode(errors="replace")).
/// \p changed is set when something was replaced.
std::string sanitize(std::string_view text, bool *changed = nullptr);

/// True when \p text is well-formed UTF-8.
bool isValid(std::string_view text);

/// Canonical combining class (Unicode 9.0).
uint8_t combiningClass(uint32_t c);

/// Full decomposition of \p c (canonical, or compatibility when \p compat) appended to \p out.
void decompose(uint32_t c, bool compat, std::vector<uint32_t> &out);

/// Primary composite of \p a and \p b, or 0.
uint32_t compose(uint32_t a, uint32_t b);

/// Full lowercase mapping of \p c appended to \p out (1 to 3 code points).
void lowercase(uint32_t c, std::vector<uint32_t> &out);

/// True for the CJK ideograph blocks that BERT surrounds with spaces.
bool isBertChineseChar(uint32_t c);

} // namespace kiln::rt::tok::unicode

#endif // KILN_RT_TOKENIZER_UNICODE_H
