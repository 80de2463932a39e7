//===- TextStreamerTest.cpp - Streaming text never breaks a character ------===//
//
// Uses two trained tokenizers whose tokens split characters: a byte-level BPE (GPT-2 style)
// and a SentencePiece-style BPE with byte fallback and a Metaspace decoder.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/generate/TextStreamer.h"
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::gen;

namespace {

const char kReplacement[] = "\xEF\xBF\xBD";

const std::vector<std::string> kTexts = {
    "Hi \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C "
    "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 ok", // Hi 👋🏽 héllo 世界 🇯🇵 ok
    "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xA7\xE5\xAF\xBF\xE5\x8F\xB8\xE3\x82\x92\xE9\xA3\x9F"
    "\xE3\x81\xB9\xE3\x81\x9F\xE3\x80\x82", // 東京で寿司を食べた。
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x83\xF0\x9F\x98\x84 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91"
    "\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 end", // 😀😃😄 👨‍👩‍👧 end
    "plain ascii text, no surprises",
};

class StreamerTest : public ::testing::TestWithParam<const char *> {
protected:
  void SetUp() override { tok = tok::Tokenizer::fromFile(GetParam()); }
  TextStreamer::DecodeFn decoder() {
    return [t = tok.get()](const std::vector<uint32_t> &ids) { return t->decode(ids); };
  }
  std::unique_ptr<tok::Tokenizer> tok;
};

TEST_P(StreamerTest, ChunksAreWholeCharactersAndAddUpToTheText) {
  int splitTokens = 0;
  for (const std::string &text : kTexts) {
    std::vector<uint32_t> ids = tok->encode(text, false).ids;
    for (uint32_t id : ids)
      splitTokens += tok->decode({id}).find(kReplacement) != std::string::npos;
    TextStreamer s(decoder());
    std::string all;
    for (uint32_t id : ids) {
      std::string chunk = s.push(id);
      EXPECT_EQ(validUtf8Prefix(chunk), chunk.size()) << "broken UTF-8 in a chunk of " << text;
      EXPECT_EQ(chunk.find(kReplacement), std::string::npos) << "U+FFFD streamed for " << text;
      all += chunk;
    }
    all += s.finish();
    EXPECT_EQ(all, tok->decode(ids));
    EXPECT_EQ(all, text);
  }
  EXPECT_GT(splitTokens, 5) << "the texts should have tokens that split characters";
}

TEST_P(StreamerTest, ContextKeepsTheJoinWithThePrompt) {
  for (const std::string &text : kTexts) {
    std::vector<uint32_t> ids = tok->encode(text, false).ids;
    std::string whole = tok->decode(ids), head;
    // A prompt that ends on a whole character (as a tokenized prompt does).
    size_t half = ids.size() / 2;
    for (; half > 0; --half) {
      head = tok->decode(std::vector<uint32_t>(ids.begin(), ids.begin() + long(half)));
      if (head.find(kReplacement) == std::string::npos && whole.compare(0, head.size(), head) == 0)
        break;
    }
    ASSERT_GT(half, 0u) << text;
    TextStreamer s(decoder(), std::vector<uint32_t>(ids.begin(), ids.begin() + long(half)));
    std::string out;
    for (size_t i = half; i < ids.size(); ++i)
      out += s.push(ids[i]);
    out += s.finish();
    EXPECT_EQ(out, whole.substr(head.size())) << text;
  }
}

TEST_P(StreamerTest, FinishFlushesAnIncompleteCharacter) {
  std::vector<uint32_t> ids = tok->encode(kTexts[0], false).ids;
  size_t i = 0;
  while (i < ids.size() && tok->decode({ids[i]}).find(kReplacement) == std::string::npos)
    ++i;
  ASSERT_LT(i, ids.size());
  TextStreamer s(decoder());
  EXPECT_EQ(s.push(ids[i]), "");
  EXPECT_NE(s.finish().find(kReplacement), std::string::npos);
  EXPECT_EQ(s.finish(), "");
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, StreamerTest,
                         ::testing::Values(KILN_GEN_TEST_TOKENIZER_DIR "/bpe.json",
                                           KILN_GEN_TEST_TOKENIZER_DIR "/metaspace.json"));

TEST(Utf8, ValidPrefix) {
  EXPECT_EQ(validUtf8Prefix(""), 0u);
  EXPECT_EQ(validUtf8Prefix("abc"), 3u);
  EXPECT_EQ(validUtf8Prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(validUtf8Prefix("a\xC3"), 1u);
  EXPECT_EQ(validUtf8Prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(validUtf8Prefix("\xF0\x9F\x98\x80!"), 5u);
  EXPECT_EQ(validUtf8Prefix("x\x80"), 1u);          // stray continuation byte
  EXPECT_EQ(validUtf8Prefix("x\xC0\xAF"), 1u);      // overlong
  EXPECT_EQ(validUtf8Prefix("x\xED\xA0\x80"), 1u);  // surrogate
  EXPECT_EQ(validUtf8Prefix("x\xF4\x90\x80\x80"), 1u); // past U+10FFFF
}

TEST(Streamer, HoldsBackUntilTheCharacterIsComplete) {
  // A toy byte decoder: each id is one byte; incomplete sequences become U+FFFD.
  auto decode = [](const std::vector<uint32_t> &ids) {
    std::string bytes;
    for (uint32_t id : ids)
      bytes += char(id);
    size_t ok = validUtf8Prefix(bytes);
    return ok == bytes.size() ? bytes : bytes.substr(0, ok) + kReplacement;
  };
  TextStreamer s(decode);
  EXPECT_EQ(s.push('a'), "a");
  EXPECT_EQ(s.push(0xE4), "");
  EXPECT_EQ(s.push(0xB8), "");
  EXPECT_EQ(s.push(0x96), "\xE4\xB8\x96");
  EXPECT_EQ(s.push('b'), "b");
  EXPECT_EQ(s.finish(), "");
}

} // namespace
