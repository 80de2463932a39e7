//===- TokenizerTest.cpp - Unit tests for kiln_tokenizer ------------------===//
//
// Hand-computed expectations on tiny tokenizers, and the bad-file errors. The id-for-id
// comparison with Hugging Face lives in test/reference/tokenizer.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace kiln::rt::tok;

namespace {

/// A byte-level BPE small enough to follow by hand: "hello" merges to one token.
const char *const kTinyBpe = R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                    "use_regex": true},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
             {"SpecialToken": {"id": "</s>", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                       "</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
    "vocab": {"<s>": 0, "</s>": 1, "h": 2, "e": 3, "l": 4, "o": 5, "Ġ": 6, "w": 7, "r": 8, "d": 9,
              "he": 10, "ll": 11, "hell": 12, "hello": 13, "Ġw": 14, "or": 15},
    "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġ", "w"], ["o", "r"]]}
})";

std::string replaceOnce(std::string s, const std::string &from, const std::string &to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos)
    s.replace(p, from.size(), to);
  return s;
}

/// The error message of loading \p json, or "" when it loads.
std::string loadError(const std::string &json) {
  try {
    Tokenizer::fromJson(json, "bad.json");
  } catch (const TokenizerError &e) {
    return e.what();
  }
  return "";
}

TEST(Tokenizer, BpeMergesByRankAndMapsBytes) {
  auto tok = Tokenizer::fromJson(kTinyBpe);
  Encoding e = tok->encode("hello world");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{0, 13, 14, 15, 4, 9, 1}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"<s>", "hello", "Ġw", "or", "l", "d", "</s>"}));
  EXPECT_EQ(e.offsets[1], (std::pair<size_t, size_t>{0, 5}));
  EXPECT_EQ(e.offsets[2], (std::pair<size_t, size_t>{5, 7}));
  EXPECT_EQ(e.specialTokensMask, (std::vector<uint32_t>{1, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(tok->decode(e.ids), "hello world");
  EXPECT_EQ(tok->decode(e.ids, false), "<s>hello world</s>");
}

TEST(Tokenizer, PairTypeIdsAndTruncation) {
  auto tok = Tokenizer::fromJson(kTinyBpe);
  Encoding e = tok->encodePair("hello", "world");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{0, 13, 1, 7, 15, 4, 9, 1}));
  EXPECT_EQ(e.typeIds, (std::vector<uint32_t>{0, 0, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e.sequenceIds, (std::vector<int>{-1, 0, -1, 1, 1, 1, 1, -1}));
  TruncationOptions t;
  t.maxLength = 6; // 3 special tokens leave 3: longest_first keeps 1 + 2
  tok->setTruncation(t);
  e = tok->encodePair("hello", "world");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{0, 13, 1, 7, 15, 1}));
  t.direction = Direction::Left;
  tok->setTruncation(t);
  e = tok->encodePair("hello", "world");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{0, 13, 1, 4, 9, 1}));
  t.strategy = TruncationStrategy::OnlySecond;
  t.maxLength = 4;
  tok->setTruncation(t);
  EXPECT_THROW(tok->encodePair("hello", "world"), TokenizerError); // would need to drop all
  EXPECT_THROW(tok->encode("hello world"), TokenizerError);        // no second sequence
  EXPECT_EQ(tok->encode("hello").size(), 3u);                       // fits: nothing to cut
}

TEST(Tokenizer, PaddingLongestAndMultiple) {
  auto tok = Tokenizer::fromJson(kTinyBpe);
  PaddingOptions p;
  p.padId = 1;
  p.padToken = "</s>";
  p.padToMultipleOf = 4;
  tok->setPadding(p);
  auto batch = tok->encodeBatch({"hello", "hello world"});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].size(), 8u);
  EXPECT_EQ(batch[1].size(), 8u);
  EXPECT_EQ(batch[0].attentionMask, (std::vector<uint32_t>{1, 1, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(batch[1].attentionMask, (std::vector<uint32_t>{1, 1, 1, 1, 1, 1, 1, 0}));
  p.direction = Direction::Left;
  p.strategy = PaddingStrategy::Fixed;
  p.length = 5;
  p.padToMultipleOf = 0;
  tok->setPadding(p);
  Encoding e = tok->encode("hello");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{1, 1, 0, 13, 1}));
  EXPECT_EQ(e.attentionMask, (std::vector<uint32_t>{0, 0, 1, 1, 1}));
}

TEST(Tokenizer, NoSpecialTokensAndAddedTokens) {
  auto tok = Tokenizer::fromJson(kTinyBpe);
  Encoding e = tok->encode("<s>hello</s>", false);
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{0, 13, 1}));
  EXPECT_EQ(tok->decode(e.ids), "hello");
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementChars) {
  // U+FFFD is three bytes that the tiny vocabulary lacks; the byte-level alphabet has no
  // entry here, so the pieces vanish, but the surrounding text must encode unchanged.
  auto tok = Tokenizer::fromJson(kTinyBpe);
  Encoding a = tok->encode("hello\xff", false);
  Encoding b = tok->encode("hello\xEF\xBF\xBD", false);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(tok->encode("hello\xE2\x82", false).ids, b.ids); // one U+FFFD for a truncated seq
}

TEST(Tokenizer, DecodeSkipsUnknownIds) {
  // `tokenizers` drops ids it has no token for (Tokenizer.decode([..., 999]) in Python).
  auto tok = Tokenizer::fromJson(kTinyBpe);
  EXPECT_EQ(tok->decode({13, 999}), tok->decode({13}));
  EXPECT_EQ(tok->decode({999}), "");
}

TEST(Tokenizer, WordPieceGreedyLongestMatch) {
  const char *json = R"({
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
      "max_input_chars_per_word": 10,
      "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6,
                "cafe": 7, "!": 8, "中": 9}}
  })";
  auto tok = Tokenizer::fromJson(json);
  Encoding e = tok->encode("UnAffable Café! 中x");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{2, 4, 5, 6, 7, 8, 9, 1, 3}));
  EXPECT_EQ(tok->encode("unaffableun").ids, (std::vector<uint32_t>{2, 1, 3})); // > 10 chars
  EXPECT_EQ(tok->decode({4, 5, 6, 7, 8}), "unaffable cafe!");
  Encoding p = tok->encodePair("un", "cafe");
  EXPECT_EQ(p.typeIds, (std::vector<uint32_t>{0, 0, 0, 1, 1}));
}

TEST(Tokenizer, UnigramViterbi) {
  const char *json = R"({
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
    "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
    "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
      "vocab": [["<unk>", 0.0], ["▁", -2.0], ["▁ab", -3.0], ["▁a", -1.0], ["b", -1.0], ["c", -5.0],
                ["bc", -4.5]]}
  })";
  auto tok = Tokenizer::fromJson(json);
  // "▁abc": ▁a + bc = -5.5 beats ▁ab + c = -8 and ▁a + b + c = -7.
  EXPECT_EQ(tok->encode("abc").ids, (std::vector<uint32_t>{3, 6}));
  // Unknown characters fuse into one <unk> covering "xy".
  Encoding e = tok->encode("axy");
  EXPECT_EQ(e.ids, (std::vector<uint32_t>{3, 0}));
  EXPECT_EQ(e.tokens[1], "xy");
  EXPECT_EQ(tok->decode({3, 6, 1, 3}), "abc  a"); // "▁" alone is a space
}

//===----------------------------------------------------------------------===//
// Bad files
//===----------------------------------------------------------------------===//

TEST(TokenizerErrors, MalformedJson) {
  std::string msg = loadError("{\"model\": {\"type\": \"BPE\", ");
  EXPECT_NE(msg.find("bad.json: malformed JSON"), std::string::npos) << msg;
}

} // namespace

namespace {
struct BadCase {
  const char *name;
  std::string json;
  const char *expect;
};

TEST(TokenizerErrors, EachProblemIsNamed) {
  std::string base = kTinyBpe;
  std::vector<BadCase> cases = {
      {"unknown model", replaceOnce(base, "\"type\": \"BPE\"", "\"type\": \"Bigram\""),
       "unknown model type 'Bigram'"},
      {"missing model", "{\"normalizer\": null}", "missing 'model'"},
      {"merge names missing token", replaceOnce(base, "[\"hell\", \"o\"]", "[\"hell\", \"q\"]"),
       "merge 3 names 'q', which is not in the vocabulary"},
      {"merge result missing", replaceOnce(base, "[\"o\", \"r\"]", "[\"w\", \"d\"]"),
       "merge 5 makes 'wd', which is not in the vocabulary"},
      {"bad merge shape", replaceOnce(base, "[\"hell\", \"o\"]", "\"hello\""),
       "is not two tokens separated by one space"},
      {"id out of range", replaceOnce(base, "\"or\": 15", "\"or\": 4000000000"),
       "out of range"},
      {"negative id", replaceOnce(base, "\"or\": 15", "\"or\": -1"), "'or' is not a non-negative"},
      {"duplicate id", replaceOnce(base, "\"or\": 15", "\"or\": 14"),
       "id 14 is given to both"},
      {"added token disagrees with vocab",
       replaceOnce(base, "{\"id\": 1, \"content\": \"</s>\"", "{\"id\": 1, \"content\": \"hello\""),
       "added token 'hello' has id 1 but the model vocabulary gives it id 13"},
      {"added token id taken",
       replaceOnce(base, "{\"id\": 1, \"content\": \"</s>\"", "{\"id\": 5, \"content\": \"</s>\""),
       "added token '</s>' has id 5 but the model vocabulary gives it id 1"},
      {"duplicate added token",
       replaceOnce(base, "{\"id\": 1, \"content\": \"</s>\"", "{\"id\": 1, \"content\": \"<s>\""),
       "added token '<s>' appears twice"},
      {"added id out of range",
       replaceOnce(replaceOnce(base, "{\"id\": 1, \"content\": \"</s>\"",
                               "{\"id\": 99999999, \"content\": \"</s>\""),
                   "\"</s>\": 1,", ""),
       "out of range"},
      {"post-processor id out of range", replaceOnce(base, "\"ids\": [1]", "\"ids\": [77]"),
       "post_processor uses id 77"},
      {"unsupported regex",
       replaceOnce(base, "{\"type\": \"ByteLevel\", \"add_prefix_space\": false",
                   "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": "
                   "\"Isolated\", \"invert\": false, \"x\": false"),
       "unsupported regex in Split pre-tokenizer"},
      {"unknown normalizer", replaceOnce(base, "\"normalizer\": null",
                                         "\"normalizer\": {\"type\": \"Unheard\"}"),
       "unsupported normalizer type 'Unheard'"},
      {"Precompiled without its map", replaceOnce(base, "\"normalizer\": null",
                                         "\"normalizer\": {\"type\": \"Precompiled\"}"),
       "Precompiled normalizer: missing 'precompiled_charsmap'"},
      {"vocab not an object", replaceOnce(base, "\"vocab\": {", "\"vocab\": [{"),
       ""},
      {"top level array", "[1, 2]", "top level must be a JSON object"},
  };
  for (const BadCase &c : cases) {
    std::string msg = loadError(c.json);
    EXPECT_NE(msg, "") << c.name << ": loaded";
    EXPECT_EQ(msg.rfind("bad.json: ", 0), 0u) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
  }
}

TEST(TokenizerErrors, UnigramDuplicatesAndWordPieceUnk) {
  EXPECT_NE(loadError(R"({"model": {"type": "Unigram", "unk_id": 0,
      "vocab": [["<unk>", 0.0], ["a", -1.0], ["a", -2.0]]}})")
                .find("piece 'a' appears twice"),
            std::string::npos);
  EXPECT_NE(loadError(R"({"model": {"type": "Unigram", "unk_id": 7, "vocab": [["<unk>", 0.0]]}})")
                .find("unk_id is out of range"),
            std::string::npos);
  EXPECT_NE(loadError(R"({"model": {"type": "WordPiece", "unk_token": "[UNK]",
      "vocab": {"a": 0}}})")
                .find("unk_token '[UNK]' is not in the vocabulary"),
            std::string::npos);
}

TEST(TokenizerErrors, BadSentencePieceModelIsNamed) {
  // A `.model` file (or any file that starts like a ModelProto) goes to libsentencepiece.
  std::string dir = ::testing::TempDir();
  for (std::string name : {"bad.model", "bad-proto.bin"}) {
    std::string path = dir + "/" + name;
    {
      std::ofstream out(path, std::ios::binary);
      out << "\x0a\x05hello-not-a-model\xff\xff";
    }
    try {
      Tokenizer::fromFile(path);
      FAIL() << "loaded " << path;
    } catch (const TokenizerError &e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
      EXPECT_NE(msg.find("SentencePiece"), std::string::npos) << msg;
    }
  }
}

TEST(TokenizerErrors, BadPrecompiledCharsmap) {
  auto withMap = [](const std::string &map) {
    return std::string(R"({"normalizer": {"type": "Precompiled", "precompiled_charsmap": )") +
           map + R"(}, "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}})";
  };
  EXPECT_NE(loadError(withMap("\"!!!!\"")).find("not base64"), std::string::npos);
  EXPECT_NE(loadError(withMap("\"AAA=\"")).find("shorter than its 4-byte header"),
            std::string::npos);
  // Header: a 16-byte trie, but nothing follows.
  EXPECT_NE(loadError(withMap("\"EAAAAA==\"")).find("does not fit"), std::string::npos);
  EXPECT_NE(loadError(withMap("7")).find("must be a base64 string"), std::string::npos);
  // An empty map normalizes nothing (as Hugging Face).
  auto tok = Tokenizer::fromJson(withMap("\"\""));
  EXPECT_EQ(tok->normalize("ＡＢ"), "ＡＢ");
}

TEST(TokenizerErrors, MissingFileIsNamed) {
  try {
    Tokenizer::fromFile("/nonexistent/tokenizer.json");
    FAIL() << "loaded";
  } catch (const TokenizerError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.json: cannot open"),
              std::string::npos);
  }
}
} // namespace

namespace {
TEST(Tokenizer, ByteLevelCharsMissingFromTheVocabularyAreDropped) {
  // No "H" and no unk_token: Hugging Face drops the character (ids checked against it).
  auto tok = Tokenizer::fromJson(kTinyBpe);
  EXPECT_EQ(tok->encode("Hello").ids, (std::vector<uint32_t>{0, 3, 11, 5, 1}));
}
} // namespace
