//===- Unicode.cpp - Character data and UTF-8 for the tokenizers ----------===//
#include "Unicode.h"

#include <algorithm>

namespace kiln::rt::tok::unicode {
namespace {
struct DecompEntry {
  uint32_t cp;
  uint32_t offset;
  uint32_t length;
};
struct CompositionEntry {
  uint32_t first, second, composite;
};
struct LowerEntry {
  uint32_t cp;
  uint32_t lower[3];
};
#include "UnicodeTables.inc"

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

template <typename T, size_t N>
const T *findEntry(const T (&table)[N], uint32_t cp) {
  const T *it = std::lower_bound(std::begin(table), std::end(table), cp,
                                 [](const T &e, uint32_t c) { return e.cp < c; });
  return it != std::end(table) && it->cp == cp ? it : nullptr;
}
} // namespace

uint16_t flags(uint32_t c) {
  if (c >= 0x110000)
    return 0;
  return kFlagsStage2[kFlagsStage1[c >> 8]][c & 0xFF];
}

uint8_t combiningClass(uint32_t c) {
  if (c >= 0x110000)
    return 0;
  return kCccStage2[kCccStage1[c >> 8]][c & 0xFF];
}

void append(std::string &out, uint32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

/// Length of the well-formed UTF-8 sequence at s[i], or 0 with \p subpart set to the length of
/// the maximal subpart of an ill-formed one (at least 1).
static size_t wellFormedLength(std::string_view s, size_t i, size_t &subpart) {
  auto b = [&](size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
  unsigned c = b(i);
  size_t n = s.size();
  subpart = 1;
  if (c < 0x80)
    return 1;
  unsigned lo = 0x80, hi = 0xBF;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= n)
      return 0;
    unsigned t = b(i + k);
    unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (t < l || t > h)
      return 0;
    subpart = k + 1;
  }
  return len;
}

std::string sanitize(std::string_view text, bool *changed) {
  std::string out;
  out.reserve(text.size());
  bool any = false;
  for (size_t i = 0; i < text.size();) {
    size_t subpart;
    size_t len = wellFormedLength(text, i, subpart);
    if (len) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += subpart;
      any = true;
    }
  }
  if (changed)
    *changed = any;
  return out;
}

bool isValid(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    unsigned char c = text[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t subpart;
    size_t len = wellFormedLength(text, i, subpart);
    if (!len)
      return false;
    i += len;
  }
  return true;
}

void decompose(uint32_t c, bool compat, std::vector<uint32_t> &out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    uint32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount)
      out.push_back(kTBase + s % kTCount);
    return;
  }
  if (c < 0xC0) {
    if (!compat || c < 0xA0) {
      out.push_back(c);
      return;
    }
  }
  const DecompEntry *e = compat ? findEntry(kCompatDecomp, c) : findEntry(kCanonDecomp, c);
  if (!e) {
    out.push_back(c);
    return;
  }
  out.insert(out.end(), kDecompData + e->offset, kDecompData + e->offset + e->length);
}

uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const CompositionEntry *it = std::lower_bound(
      std::begin(kCompositions), std::end(kCompositions), std::make_pair(a, b),
      [](const CompositionEntry &e, std::pair<uint32_t, uint32_t> k) {
        return e.first < k.first || (e.first == k.first && e.second < k.second);
      });
  if (it != std::end(kCompositions) && it->first == a && it->second == b)
    return it->composite;
  return 0;
}

void lowercase(uint32_t c, std::vector<uint32_t> &out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  const LowerEntry *e = findEntry(kLower, c);
  if (!e) {
    out.push_back(c);
    return;
  }
  for (uint32_t l : e->lower)
    if (l)
      out.push_back(l);
}

bool isBertChineseChar(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) || // as BERT: 2B920
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

} // namespace kiln::rt::tok::unicode
