//===- TextStreamer.cpp - Incremental detokenization ----------------------===//
//
// The window technique of Hugging Face's text-generation-inference: decode the ids from the
// last printed ones (kept as context) to the newest, and print the part beyond the context's
// own text once it no longer ends in U+FFFD, the decoders' mark of an incomplete character.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/generate/TextStreamer.h"

#include <utility>

using namespace kiln::rt::gen;

namespace {
const char kReplacement[] = "\xEF\xBF\xBD"; // U+FFFD

bool endsWithReplacement(const std::string &s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, kReplacement) == 0;
}

/// Where the new part of `text` starts past the context's text `before`. Normally `before` is
/// a prefix of `text`; if a decoder rewrote it, the first whole character past its length.
size_t newTextStart(const std::string &text, const std::string &before) {
  size_t from = before.size();
  if (text.compare(0, before.size(), before) != 0)
    while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80)
      ++from;
  return from;
}
} // namespace

size_t kiln::rt::gen::validUtf8Prefix(const std::string &text) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n)
      return i;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return n;
}

TextStreamer::TextStreamer(DecodeFn decode, const std::vector<uint32_t> &context)
    : decode_(std::move(decode)), ids_(context), prefix_(0), read_(context.size()) {}

std::string TextStreamer::push(uint32_t id) {
  ids_.push_back(id);
  std::vector<uint32_t> window(ids_.begin() + long(prefix_), ids_.end());
  std::string text = decode_(window);
  window.resize(read_ - prefix_);
  std::string before = decode_(window);
  if (text.size() <= before.size() || endsWithReplacement(text))
    return {};
  size_t from = newTextStart(text, before);
  // Keep only the last printed ids as context so that decoding stays cheap.
  prefix_ = read_;
  read_ = ids_.size();
  if (prefix_ > 0) {
    ids_.erase(ids_.begin(), ids_.begin() + long(prefix_));
    read_ -= prefix_;
    prefix_ = 0;
  }
  return text.substr(from);
}

std::string TextStreamer::finish() {
  std::string rest;
  if (read_ < ids_.size()) {
    std::vector<uint32_t> window(ids_.begin() + long(prefix_), ids_.end());
    std::string text = decode_(window);
    window.resize(read_ - prefix_);
    std::string before = decode_(window);
    if (text.size() > before.size())
      rest = text.substr(newTextStart(text, before));
  }
  ids_.clear();
  prefix_ = read_ = 0;
  return rest;
}
