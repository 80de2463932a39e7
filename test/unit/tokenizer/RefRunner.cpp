//===- RefRunner.cpp - Encodes a record file for the reference tests ------===//
//
//   kiln-tokenizer-ref TOKENIZER RECORDS MODE [--max-length N] [--strategy S]
//                      [--direction Right|Left] [--pad-multiple M] [--pad-fixed N] [--batch B]
//
// RECORDS holds `<byte length>\n<bytes>\n` per text (see test/reference/tokenizer). MODE is
// single, single-plain (no special tokens), pair (record i with record i+1) or batch-pair
// (pairs encoded B at a time and padded together), normalize or pretokenize (the
// normalizer or pre-tokenizer alone). Writes one JSON object per encoding with
// ids, type ids, attention and special-tokens masks, and the decoded text with and without
// special tokens; a text that cannot be encoded gives {"error": message}.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

using kiln::rt::tok::Encoding;
using kiln::rt::tok::Tokenizer;
using kiln::rt::tok::TokenizerError;

static std::vector<std::string> readRecords(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> out;
  size_t i = 0;
  while (i < all.size()) {
    size_t nl = all.find('\n', i);
    size_t len = std::stoul(all.substr(i, nl - i));
    out.push_back(all.substr(nl + 1, len));
    i = nl + 1 + len + 1;
  }
  return out;
}

static nlohmann::json toJson(const Tokenizer &tok, const Encoding &e) {
  nlohmann::json j;
  j["ids"] = e.ids;
  j["type_ids"] = e.typeIds;
  j["attention_mask"] = e.attentionMask;
  j["special_tokens_mask"] = e.specialTokensMask;
  j["tokens"] = e.tokens;
  nlohmann::json off = nlohmann::json::array();
  for (auto [b, end] : e.offsets)
    off.push_back({b, end});
  j["offsets"] = off;
  j["decoded"] = tok.decode(e.ids, true);
  j["decoded_special"] = tok.decode(e.ids, false);
  return j;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER RECORDS MODE [options]\n", argv[0]);
    return 2;
  }
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Tokenizer::fromFile(argv[1]);
  } catch (const TokenizerError &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::vector<std::string> recs = readRecords(argv[2]);
  std::string mode = argv[3];
  std::optional<kiln::rt::tok::TruncationOptions> trunc;
  std::optional<kiln::rt::tok::PaddingOptions> pad;
  size_t batch = 8;
  for (int i = 4; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--max-length") {
      trunc.emplace().maxLength = std::stoul(v);
    } else if (k == "--strategy") {
      trunc->strategy = v == "only_first"    ? kiln::rt::tok::TruncationStrategy::OnlyFirst
                        : v == "only_second" ? kiln::rt::tok::TruncationStrategy::OnlySecond
                                             : kiln::rt::tok::TruncationStrategy::LongestFirst;
    } else if (k == "--direction") {
      trunc->direction = v == "left" ? kiln::rt::tok::Direction::Left : kiln::rt::tok::Direction::Right;
    } else if (k == "--pad-multiple") {
      if (!pad)
        pad.emplace();
      pad->padToMultipleOf = std::stoul(v);
    } else if (k == "--pad-fixed") {
      if (!pad)
        pad.emplace();
      pad->strategy = kiln::rt::tok::PaddingStrategy::Fixed;
      pad->length = std::stoul(v);
    } else if (k == "--pad-id") {
      if (!pad)
        pad.emplace();
      pad->padId = std::stoul(v);
    } else if (k == "--pad-token") {
      if (!pad)
        pad.emplace();
      pad->padToken = v;
    } else if (k == "--batch") {
      batch = std::stoul(v);
    }
  }
  if (trunc)
    tok->setTruncation(trunc);
  if (pad)
    tok->setPadding(pad);
  std::string out;
  auto put = [&](const nlohmann::json &j) {
    out += j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    out += '\n';
  };
  auto guarded = [&](auto fn) {
    try {
      put(fn());
    } catch (const TokenizerError &e) {
      put({{"error", e.what()}});
    }
  };
  if (mode == "normalize") {
    for (const std::string &r : recs)
      put(nlohmann::json(tok->normalize(r)));
  } else if (mode == "pretokenize") {
    for (const std::string &r : recs) {
      nlohmann::json pieces = nlohmann::json::array();
      for (auto &[piece, off] : tok->preTokenize(r))
        pieces.push_back(piece);
      put(pieces);
    }
  } else if (mode == "single" || mode == "single-plain") {
    for (const std::string &r : recs)
      guarded([&] { return toJson(*tok, tok->encode(r, mode == "single")); });
  } else if (mode == "pair") {
    for (size_t i = 0; i + 1 < recs.size(); i += 2)
      guarded([&] { return toJson(*tok, tok->encodePair(recs[i], recs[i + 1])); });
  } else if (mode == "batch-pair") {
    for (size_t i = 0; i + 2 * batch <= recs.size(); i += 2 * batch) {
      std::vector<std::string> a, b;
      for (size_t k = 0; k < batch; ++k) {
        a.push_back(recs[i + 2 * k]);
        b.push_back(recs[i + 2 * k + 1]);
      }
      try {
        for (const Encoding &e : tok->encodeBatch(a, b))
          put(toJson(*tok, e));
      } catch (const TokenizerError &e) {
        put({{"error", e.what()}});
      }
    }
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
