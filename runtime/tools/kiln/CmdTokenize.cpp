//===- CmdTokenize.cpp - `kiln tokenize` ----------------------------------===//
//
// Turns texts into token ids with a tokenizer.json, as Hugging Face `tokenizers` would.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "kiln/rt/tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace kiln::cli {
namespace {

const char *const kHelp =
    "usage: kiln tokenize --tokenizer FILE [--pair TEXT] [--ids-only] [--no-special-tokens]\n"
    "                     [TEXT...]\n"
    "\n"
    "Encodes each TEXT with a Hugging Face tokenizer.json. Without TEXT, reads standard input\n"
    "and encodes each line (lines end at '\\n' only; everything else, trailing spaces and '\\r'\n"
    "included, is text).\n"
    "\n"
    "options:\n"
    "  --tokenizer FILE      the tokenizer.json or SentencePiece .model to use (required)\n"
    "  --pair TEXT           encode each text as the first of a pair with TEXT as the second\n"
    "  --ids-only            print one line of space-separated ids per text\n"
    "  --no-special-tokens   do not add the post-processor's special tokens\n"
    "  -h, --help            show this help\n"
    "\n"
    "Without --ids-only, each text prints a header line and one line per token:\n"
    "  <index> <id> <type id> <piece> <begin>:<end>\n"
    "where begin:end are UTF-8 byte offsets in the text (Hugging Face's character offsets,\n"
    "converted to bytes: a token inside a character covers all of it; 0:0 for special\n"
    "tokens) and the piece is written with C escapes.\n"
    "Invalid UTF-8 in a text is replaced by U+FFFD (one per maximal ill-formed sequence)\n"
    "before encoding.\n"
    "\n"
    "exit status: 0 ok, 1 bad tokenizer file or a text that cannot be encoded, 2 bad usage\n";

std::string escape(const std::string &s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\\':
      out += "\\\\";
      break;
    case ' ':
      out += "\\x20";
      break;
    default:
      if (c < 0x20 || c == 0x7F) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\x%02X", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  return out;
}

int usage(const std::string &msg) {
  std::fprintf(stderr, "kiln tokenize: %s\n(see kiln tokenize --help)\n", msg.c_str());
  return kExitUsage;
}
} // namespace

int runTokenize(int argc, char **argv) {
  std::string file;
  std::optional<std::string> pair;
  bool idsOnly = false, special = true, endOfOptions = false;
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (endOfOptions) {
      texts.push_back(a);
    } else if (a == "-h" || a == "--help") {
      std::fputs(kHelp, stdout);
      return kExitOk;
    } else if (a == "--tokenizer" || a == "--pair") {
      if (i + 1 >= argc)
        return usage(a + " needs a value");
      (a == "--tokenizer" ? file : pair.emplace()) = argv[++i];
    } else if (a.rfind("--tokenizer=", 0) == 0) {
      file = a.substr(12);
    } else if (a.rfind("--pair=", 0) == 0) {
      pair = a.substr(7);
    } else if (a == "--ids-only") {
      idsOnly = true;
    } else if (a == "--no-special-tokens") {
      special = false;
    } else if (a == "--") {
      endOfOptions = true;
    } else if (a.size() > 1 && a[0] == '-' && a[1] == '-') {
      return usage("unknown option '" + a + "'");
    } else {
      texts.push_back(a);
    }
  }
  if (file.empty())
    return usage("--tokenizer FILE is required");

  std::unique_ptr<rt::tok::Tokenizer> tok;
  try {
    tok = rt::tok::Tokenizer::fromFile(file);
  } catch (const rt::tok::TokenizerError &e) {
    std::fprintf(stderr, "kiln tokenize: error: %s\n", e.what());
    return kExitError;
  }

  bool fromStdin = texts.empty();
  if (fromStdin) {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start < all.size()) {
      size_t nl = all.find('\n', start);
      if (nl == std::string::npos) {
        texts.push_back(all.substr(start));
        break;
      }
      texts.push_back(all.substr(start, nl - start));
      start = nl + 1;
    }
  }

  std::string out;
  for (size_t t = 0; t < texts.size(); ++t) {
    rt::tok::Encoding e;
    try {
      e = pair ? tok->encodePair(texts[t], *pair, special) : tok->encode(texts[t], special);
    } catch (const rt::tok::TokenizerError &err) {
      std::fprintf(stderr, "kiln tokenize: error: text %zu: %s\n", t + 1, err.what());
      return kExitError;
    }
    if (idsOnly) {
      for (size_t k = 0; k < e.size(); ++k) {
        if (k)
          out.push_back(' ');
        out += std::to_string(e.ids[k]);
      }
      out.push_back('\n');
    } else {
      out += "text " + std::to_string(t + 1) + ": " + std::to_string(e.size()) +
             " tokens (index id type_id piece byte_begin:byte_end)\n";
      for (size_t k = 0; k < e.size(); ++k)
        out += std::to_string(k) + " " + std::to_string(e.ids[k]) + " " +
               std::to_string(e.typeIds[k]) + " " + escape(e.tokens[k]) + " " +
               std::to_string(e.offsets[k].first) + ":" + std::to_string(e.offsets[k].second) +
               "\n";
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

} // namespace kiln::cli
