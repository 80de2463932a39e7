//===- WeightsDump.cpp - Test helper: load weights, dump them as raw f32 ==//
//
//   kiln-weights-dump MODEL.kc WEIGHTS.safetensors OUTDIR
//
// Loads the weights for the artifact's parameter table and writes each parameter's bytes as
// loaded, OUTDIR/<name>.f32 (raw little-endian floats) or OUTDIR/<name>.bf16 (raw little-endian
// bfloat16 bit patterns), plus OUTDIR/naming.txt. Exit 1 with the loader's
// message on bad input. Used by reference_test.py to compare against numpy. With OUTDIR `-` it
// only loads, and prints the load time and peak RSS (gpt2_load_bench.py).
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

#include <chrono>
#include <cstdio>
#include <string>

using namespace kiln::rt;

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: kiln-weights-dump MODEL.kc WEIGHTS.safetensors OUTDIR\n");
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  Artifact a;
  Status s = Artifact::open(argv[1], a);
  WeightSet w;
  if (s.ok())
    s = WeightSet::load(a.manifest(), argv[2], w);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  std::string dir = argv[3];
  if (dir == "-") {
    // Touch every value, as a forward pass would.
    double sum = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      int64_t n = w.parameter(i).numElements();
      if (const float *f = w.f32(i)) {
        for (int64_t k = 0; k < n; ++k)
          sum += f[k];
      } else {
        const uint16_t *b = static_cast<const uint16_t *>(w.bytes(i));
        for (int64_t k = 0; k < n; ++k)
          sum += bfloat16ToFloat(b[k]);
      }
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // VmHWM, not getrusage: ru_maxrss survives exec and would report the parent's peak.
    long hwmKiB = 0;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmHWM: %ld kB", &hwmKiB) == 1)
          break;
      std::fclose(f);
    }
    std::printf("loaded %zu parameters (%s naming) in %.3f s, peak RSS %.1f MiB (checksum %g)\n",
                w.size(), w.naming().c_str(), secs, hwmKiB / 1024.0, sum);
    return 0;
  }
  for (size_t i = 0; i < w.size(); ++i) {
    std::string path = dir + "/" + w.parameter(i).name + "." + dtypeName(w.dtype(i));
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) {
      std::fprintf(stderr, "%s: cannot write\n", path.c_str());
      return 1;
    }
    std::fwrite(w.bytes(i), 1, w.byteSize(i), f);
    std::fclose(f);
  }
  FILE *f = std::fopen((dir + "/naming.txt").c_str(), "w");
  if (f) {
    std::fprintf(f, "%s\n", w.naming().c_str());
    std::fclose(f);
  }
  return 0;
}
