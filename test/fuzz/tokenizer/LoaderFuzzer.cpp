//===- LoaderFuzzer.cpp - libFuzzer entry point for tokenizer.json loading ===//
//
// Any input must either load or throw TokenizerError; a tokenizer that loads must encode
// and decode a few texts without crashing.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace kiln::rt::tok;
  std::string json(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Tokenizer::fromJson(json, "fuzz.json");
  } catch (const TokenizerError &) {
    return 0;
  }
  for (const char *text : {"Hello, world! I'm here.", "  \t\n\xff\xc3 한국어 日本 👍🏽", ""}) {
    try {
      Encoding e = tok->encode(text);
      tok->decode(e.ids, false);
      tok->decode(e.ids, true);
      tok->encodePair(text, "second text");
    } catch (const TokenizerError &) {
    }
  }
  return 0;
}
