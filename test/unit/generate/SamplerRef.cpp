//===- SamplerRef.cpp - Runs Kiln's processors on cases from a file -------===//
//
// kiln-sampler-ref reads cases from standard input and prints Kiln's results, one line per
// case, for reference_test.py to compare with numpy. Each case is three lines:
//
//   OP VOCAB TEMPERATURE TOP_K TOP_P PENALTY SEED STEPS     (OP: penalty temperature topk topp
//   HISTORY IDS ...                                           sample; the line may be empty)
//   LOGITS ... (VOCAB numbers; inf, -inf allowed)
//
// penalty/temperature/topk/topp print the processed logits (%.9g, exact for floats); sample
// runs a Sampler with the options for STEPS steps on the same logits, the history as its
// prompt, and prints the tokens.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/generate/Sampler.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::gen;

int main() {
  std::string header, historyLine, logitsLine;
  while (std::getline(std::cin, header) && std::getline(std::cin, historyLine) &&
         std::getline(std::cin, logitsLine)) {
    std::istringstream h(header);
    std::string op;
    int64_t vocab = 0, steps = 0;
    SamplingOptions o;
    h >> op >> vocab >> o.temperature >> o.topK >> o.topP >> o.repetitionPenalty >> o.seed >>
        steps;
    std::vector<int32_t> history;
    std::istringstream hl(historyLine);
    for (int32_t id; hl >> id;)
      history.push_back(id);
    std::vector<float> logits(static_cast<size_t>(vocab));
    std::istringstream ll(logitsLine);
    for (float &v : logits) {
      std::string word;
      ll >> word;
      v = std::strtof(word.c_str(), nullptr); // accepts inf, -inf and subnormals
    }
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::vector<float> values(static_cast<size_t>(vocab));
    std::vector<double> weights(static_cast<size_t>(vocab));
    if (op == "sample") {
      std::unique_ptr<Sampler> s;
      if (Status st = Sampler::create(vocab, o, s); !st.ok()) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      s->reset(history.data(), int64_t(history.size()));
      for (int64_t i = 0; i < steps; ++i) {
        std::vector<float> row = logits;
        int32_t t = -1;
        if (Status st = s->next(row.data(), t); !st.ok()) {
          std::printf("error");
          break;
        }
        std::printf("%s%d", i ? " " : "", t);
      }
      std::printf("\n");
      continue;
    }
    if (op == "penalty") {
      std::vector<int32_t> distinct;
      std::vector<bool> seen(static_cast<size_t>(vocab));
      for (int32_t id : history)
        if (!seen[size_t(id)]) {
          seen[size_t(id)] = true;
          distinct.push_back(id);
        }
      applyRepetitionPenalty(logits.data(), distinct.data(), int64_t(distinct.size()),
                             o.repetitionPenalty);
    } else if (op == "temperature") {
      applyTemperature(logits.data(), vocab, o.temperature);
    } else if (op == "topk") {
      applyTopK(logits.data(), vocab, o.topK, values.data());
    } else if (op == "topp") {
      applyTopP(logits.data(), vocab, o.topP, order.data(), weights.data());
    } else {
      std::fprintf(stderr, "unknown op '%s'\n", op.c_str());
      return 1;
    }
    for (int64_t i = 0; i < vocab; ++i)
      std::printf("%s%.9g", i ? " " : "", double(logits[size_t(i)]));
    std::printf("\n");
  }
  return 0;
}
