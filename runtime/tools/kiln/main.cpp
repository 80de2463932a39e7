//===- main.cpp - The kiln runtime CLI ------------------------------------===//
#include "Commands.h"

#include <cstdio>
#include <cstring>

namespace {
struct Command {
  const char *name;
  const char *summary;
  int (*run)(int, char **);
};

const Command kCommands[] = {
#ifdef KILN_HAVE_TOKENIZE
    {"tokenize", "turn text into token ids with a tokenizer.json", kiln::cli::runTokenize},
#endif
#ifdef KILN_HAVE_ARTIFACT
    {"info", "describe a compiled model artifact (.kc)", kiln::cli::runInfo},
    {"init", "write freshly initialized weights for a model", kiln::cli::runInit},
#endif
#ifdef KILN_HAVE_RUN
    {"run", "run the forward pass once, outputs as .npy files", kiln::cli::runRun},
#endif
#ifdef KILN_HAVE_GENERATE
    {"generate", "generate tokens with the KV cache, streamed as they come",
     kiln::cli::runGenerate},
#endif
};

void printUsage(FILE *out) {
  std::fprintf(out, "usage: kiln <command> [options]\n\ncommands:\n");
  for (const Command &c : kCommands)
    std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`kiln <command> --help` describes each command.\n");
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    printUsage(stderr);
    return kiln::cli::kExitUsage;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    printUsage(stdout);
    return kiln::cli::kExitOk;
  }
  for (const Command &c : kCommands)
    if (!std::strcmp(argv[1], c.name))
      return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "kiln: unknown command '%s'\n", argv[1]);
  printUsage(stderr);
  return kiln::cli::kExitUsage;
}
