//===- MatmulBench.cpp - Kiln's matmul dispatches beside OpenBLAS sgemm ---===//
//
//   kiln-matmul-bench BLOB [--threads 1,2] [--min-time S] [--filter TEXT]
//
// BLOB holds dispatches named by bench/matmul/gen_dispatches.py. For each thread count, a Kiln
// CPU device with that many pinned workers and OpenBLAS with that many threads run every shape
// in the same process, on the same inputs; each figure is the median of repeated runs. The
// Kiln result is checked against OpenBLAS's (max abs difference printed). M = 1 (decode) is
// bound by memory traffic, so GB/s is printed too.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUDevice.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace kiln::rt;
using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
  int64_t m = 0, k = 0, n = 0;
  bool tb = false, biasGelu = false;
};

bool parseName(const std::string &name, Shape &s) {
  long m, k, n;
  if (std::sscanf(name.c_str(), "mm_M%ld_K%ld_N%ld", &m, &k, &n) != 3)
    return false;
  s.m = m;
  s.k = k;
  s.n = n;
  s.tb = name.find("_tb") != std::string::npos;
  s.biasGelu = name.find("_bias_gelu") != std::string::npos;
  return true;
}

template <typename F> double medianSeconds(F &&f, double minTime) {
  f(); // warm-up
  std::vector<double> times;
  auto start = Clock::now();
  while (times.size() < 5 ||
         (std::chrono::duration<double>(Clock::now() - start).count() < minTime &&
          times.size() < 10000)) {
    auto t0 = Clock::now();
    f();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

float geluTanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kiln-matmul-bench BLOB [--threads 1,2] [--min-time S] "
                         "[--filter TEXT]\n");
    return 2;
  }
  std::string blobPath = argv[1], filter;
  std::vector<unsigned> threadCounts = {1, 2};
  double minTime = 0.5;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threadCounts.clear();
      for (char *t = std::strtok(argv[++i], ","); t; t = std::strtok(nullptr, ","))
        threadCounts.push_back(std::atoi(t));
    } else if (a == "--min-time" && i + 1 < argc) {
      minTime = std::atof(argv[++i]);
    } else if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else {
      std::fprintf(stderr, "kiln-matmul-bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::ifstream in(blobPath, std::ios::binary);
  std::vector<char> blob(std::istreambuf_iterator<char>(in), {});
  if (blob.empty()) {
    std::fprintf(stderr, "kiln-matmul-bench: cannot read %s\n", blobPath.c_str());
    return 1;
  }
  std::printf("OpenBLAS core: %s; OPENBLAS_CORETYPE=%s\n", openblas_get_corename(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");
  std::printf("%-28s %3s %10s %10s %6s %9s %9s %9s\n", "shape (M x K x N)", "thr",
              "Kiln GF/s", "BLAS GF/s", "ratio", "Kiln GB/s", "BLAS GB/s", "maxdiff");

  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (unsigned threads : threadCounts) {
    std::unique_ptr<hal::Device> device;
    cpu::CPUDeviceOptions options;
    options.threads = threads;
    options.pin = true;
    if (hal::Status s = cpu::createCPUDevice(options, device); !s) {
      std::fprintf(stderr, "kiln-matmul-bench: %s\n", s.message().c_str());
      return 1;
    }
    std::unique_ptr<hal::Executable> exe;
    if (hal::Status s = device->loadExecutable(blob.data(), blob.size(), blobPath, exe); !s) {
      std::fprintf(stderr, "kiln-matmul-bench: %s\n", s.message().c_str());
      return 1;
    }
    openblas_set_num_threads(static_cast<int>(threads));
    for (uint32_t d = 0; d < exe->dispatches().size(); ++d) {
      const hal::DispatchInfo &info = exe->dispatches()[d];
      Shape s;
      if (!parseName(info.name, s) || info.name.find(filter) == std::string::npos)
        continue;
      std::vector<std::unique_ptr<hal::Buffer>> buffers;
      for (uint32_t b = 0; b < info.numBuffers; ++b) {
        std::unique_ptr<hal::Buffer> buffer;
        if (!device->allocateBuffer(info.bufferBytes[b], buffer))
          return 1;
        buffers.push_back(std::move(buffer));
      }
      float *a = static_cast<float *>(buffers[0]->hostPointer());
      float *w = static_cast<float *>(buffers[1]->hostPointer());
      float *bias = s.biasGelu ? static_cast<float *>(buffers[2]->hostPointer()) : nullptr;
      float *c = static_cast<float *>(buffers.back()->hostPointer());
      float scale = 1.0f / std::sqrt(float(s.k));
      for (int64_t i = 0; i < s.m * s.k; ++i)
        a[i] = normal(rng);
      for (int64_t i = 0; i < s.k * s.n; ++i)
        w[i] = normal(rng) * scale;
      if (bias)
        for (int64_t i = 0; i < s.n; ++i)
          bias[i] = normal(rng);
      std::vector<float> ref(s.m * s.n);

      std::vector<hal::BufferBinding> bindings;
      for (auto &b : buffers)
        bindings.push_back({b.get()});
      hal::DispatchParams params;
      params.buffers = bindings;
      params.workgroups = info.workgroupCount;
      bool failed = false;
      double kiln = medianSeconds(
          [&] {
            if (!device->dispatch(*exe, d, params))
              failed = true;
          },
          minTime);
      if (failed) {
        std::fprintf(stderr, "kiln-matmul-bench: dispatch %s failed\n", info.name.c_str());
        return 1;
      }
      double blas = medianSeconds(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n,
                        s.k, 1.0f, a, s.k, w, s.tb ? s.k : s.n, 0.0f, ref.data(), s.n);
            if (bias)
              for (int64_t i = 0; i < s.m; ++i)
                for (int64_t j = 0; j < s.n; ++j)
                  ref[i * s.n + j] = geluTanh(ref[i * s.n + j] + bias[j]);
          },
          minTime);
      double maxDiff = 0;
      for (int64_t i = 0; i < s.m * s.n; ++i)
        maxDiff = std::max(maxDiff, double(std::fabs(c[i] - ref[i])));
      double flops = 2.0 * s.m * s.k * s.n;
      double bytes = 4.0 * (s.m * s.k + s.k * s.n + s.m * s.n + (bias ? s.n : 0));
      char label[64];
      std::snprintf(label, sizeof(label), "%ldx%ldx%ld%s%s", long(s.m), long(s.k), long(s.n),
                    s.tb ? " tB" : "", s.biasGelu ? " +bias+gelu" : "");
      if (s.m == 1)
        std::printf("%-28s %3u %10.1f %10.1f %6.2f %9.1f %9.1f %9.2g\n", label, threads,
                    flops / kiln * 1e-9, flops / blas * 1e-9, blas / kiln, bytes / kiln * 1e-9,
                    bytes / blas * 1e-9, maxDiff);
      else
        std::printf("%-28s %3u %10.1f %10.1f %6.2f %9s %9s %9.2g\n", label, threads,
                    flops / kiln * 1e-9, flops / blas * 1e-9, blas / kiln, "", "", maxDiff);
      std::fflush(stdout);
    }
  }
  return 0;
}
