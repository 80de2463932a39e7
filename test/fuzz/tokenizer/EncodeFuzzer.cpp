//===- EncodeFuzzer.cpp - libFuzzer entry point for encoding text ---------===//
//
// Encodes arbitrary bytes (and pairs of them) with each of the tokenizers in the seed
// folder's *.json files, decodes the ids back, and checks the encoding's invariants.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifndef KILN_FUZZ_TOKENIZER_DIR
#error "KILN_FUZZ_TOKENIZER_DIR must name the folder with the fuzzed tokenizer.json files"
#endif

namespace {
std::vector<std::unique_ptr<kiln::rt::tok::Tokenizer>> &tokenizers() {
  static std::vector<std::unique_ptr<kiln::rt::tok::Tokenizer>> all = [] {
    std::vector<std::unique_ptr<kiln::rt::tok::Tokenizer>> v;
    for (const char *name : {"bpe.json", "wordpiece.json", "unigram.json", "metaspace.json",
                             "t5-precompiled.json"})
      v.push_back(kiln::rt::tok::Tokenizer::fromFile(std::string(KILN_FUZZ_TOKENIZER_DIR) + "/" + name));
    return v;
  }();
  return all;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace kiln::rt::tok;
  std::string text(reinterpret_cast<const char *>(data), size);
  size_t cut = size ? data[0] % (size + 1) : 0;
  for (auto &tok : tokenizers()) {
    Encoding e = tok->encode(text);
    size_t n = e.ids.size();
    if (e.typeIds.size() != n || e.tokens.size() != n || e.offsets.size() != n ||
        e.attentionMask.size() != n || e.specialTokensMask.size() != n)
      std::abort();
    for (auto [b, end] : e.offsets)
      if (b > end || end > size * 3 + 16) // U+FFFD replacement can grow the text 3x
        std::abort();
    tok->decode(e.ids, true);
    tok->decode(e.ids, false);
    Encoding p = tok->encodePair(text.substr(0, cut), text.substr(cut), data[size ? size - 1 : 0] & 1);
    if (p.typeIds.size() != p.ids.size())
      std::abort();
  }
  return 0;
}
