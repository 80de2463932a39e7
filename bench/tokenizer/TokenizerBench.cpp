//===- TokenizerBench.cpp - Encode throughput of Kiln's tokenizers --------===//
//
//   kiln-tokenizer-bench TOKENIZER TEXTFILE [REPEATS]
//
// Encodes every line of TEXTFILE (lines split on '\n') on one thread, REPEATS times, and
// prints the median throughput in MB/s (10^6 bytes of input per second), by wall clock and by
// the thread's CPU time (steadier on a shared machine), and the number of tokens. bench.py
// runs it beside Hugging Face `tokenizers` on the same files.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER TEXTFILE [REPEATS]\n", argv[0]);
    return 2;
  }
  std::unique_ptr<kiln::rt::tok::Tokenizer> tok;
  try {
    tok = kiln::rt::tok::Tokenizer::fromFile(argv[1]);
  } catch (const kiln::rt::tok::TokenizerError &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> lines;
  for (size_t i = 0; i < all.size();) {
    size_t nl = all.find('\n', i);
    if (nl == std::string::npos)
      nl = all.size();
    lines.push_back(all.substr(i, nl - i));
    i = nl + 1;
  }
  int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  auto cpuNow = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  std::vector<double> secs, cpu;
  size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    tokens = 0;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpuNow();
    for (const std::string &l : lines)
      tokens += tok->encode(l).size();
    cpu.push_back(cpuNow() - c0);
    auto t1 = std::chrono::steady_clock::now();
    secs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  std::sort(cpu.begin(), cpu.end());
  double med = secs[secs.size() / 2], medCpu = cpu[cpu.size() / 2];
  std::printf("{\"bytes\": %zu, \"lines\": %zu, \"tokens\": %zu, \"seconds\": %.6f, "
              "\"mb_per_s\": %.3f, \"cpu_mb_per_s\": %.3f}\n",
              all.size(), lines.size(), tokens, med, all.size() / med / 1e6,
              all.size() / medCpu / 1e6);
  return 0;
}
