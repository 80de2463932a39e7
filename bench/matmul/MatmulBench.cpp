//===- MatmulBench.cpp - Kiln's matmul dispatches beside OpenBLAS sgemm ---===//
//
//   kiln-matmul-bench BLOB [--threads 1,2] [--min-time S] [--filter TEXT] [--no-pin]
//
// BLOB holds dispatches named by bench/matmul/gen_dispatches.py. For each thread count, a Kiln
// CPU device with that many (pinned) workers and OpenBLAS with that many threads run every
// shape in the same process, on the same inputs; each figure is a median of repeated runs,
// preferring the runs that got all the CPU time they could use (see Timing). One table
// prints GFLOP/s per shape and thread count, Kiln / OpenBLAS, and each side's scaling. The
// Kiln result is checked against OpenBLAS's (max abs difference printed). M = 1 (decode) is
// bound by memory traffic, so GB/s is printed too.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/cpu/ThreadPool.h"

#include <cblas.h>
#include <dirent.h>

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
#include <thread>
#include <time.h>
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

/// Timing of one side of a comparison. A run is "undisturbed" when the process got (nearly)
/// all the CPU time its threads could use during it: process CPU time >= 90% of wall time x
/// threads (idle Kiln workers spin, so they use CPU time while they wait). On a shared machine
/// the median of the undisturbed runs is the figure a quiet machine would give; `all` keeps
/// every run.
struct Timing {
  double all = 0, undisturbed = 0;
  size_t runs = 0, undisturbedRuns = 0;
  /// The figure to report: the undisturbed median when there are enough such runs.
  double best() const { return undisturbedRuns >= 5 ? undisturbed : all; }
  bool disturbed() const { return undisturbedRuns < 5; }
};

double processCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F> Timing measure(F &&f, double minTime, unsigned threads) {
  f(); // warm-up
  std::vector<double> all, undisturbed;
  auto start = Clock::now();
  while (all.size() < 5 ||
         (std::chrono::duration<double>(Clock::now() - start).count() < minTime &&
          all.size() < 10000)) {
    double cpu0 = processCpuSeconds();
    auto t0 = Clock::now();
    f();
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = processCpuSeconds() - cpu0;
    all.push_back(wall);
    if (cpu >= 0.9 * wall * threads)
      undisturbed.push_back(wall);
  }
  Timing t;
  t.runs = all.size();
  t.undisturbedRuns = undisturbed.size();
  t.all = median(all);
  t.undisturbed = median(undisturbed);
  return t;
}

float geluTanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}


/// One measured shape at one thread count.
struct Row {
  std::string label;
  Shape shape;
  unsigned threads = 0;
  Timing kiln, blas;
  double maxDiff = 0;
};

/// The CPUs each thread of the process may run on ("0 | 1 | 0-1"), from /proc.
std::string threadAffinities() {
  std::string out;
  std::vector<std::string> tids;
  if (DIR *dir = opendir("/proc/self/task")) {
    while (dirent *e = readdir(dir))
      if (e->d_name[0] != '.')
        tids.push_back(e->d_name);
    closedir(dir);
  }
  std::sort(tids.begin(), tids.end(), [](const std::string &a, const std::string &b) {
    return std::atol(a.c_str()) < std::atol(b.c_str());
  });
  for (const std::string &tid : tids) {
    std::ifstream status("/proc/self/task/" + tid + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        out += (out.empty() ? "" : " | ") + line.substr(line.find_first_not_of(" \t", 18));
  }
  return out;
}

std::string pinning(const hal::Device &device, bool pin) {
  if (!pin)
    return "unpinned";
  std::string cpus;
  for (int c : cpu::ThreadPool::availableCpus())
    cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
  return "pinned to the first " + std::to_string(device.info().threads) + " of CPUs {" + cpus +
         "}";
}

} // namespace

int main(int argc, char **argv) {
  const char *usage = "usage: kiln-matmul-bench BLOB [--threads 1,2] [--min-time S] "
                      "[--filter TEXT] [--no-pin] [--cold-weights]\n";
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string blobPath = argv[1], filter;
  std::vector<unsigned> threadCounts = {1, 2};
  double minTime = 0.5;
  bool pin = true;
  // With --cold-weights each call reads its own copy of the weights, from a set of copies
  // larger than the last-level cache, as a model's layers do: a shape's weights alone (under
  // 10 MB for GPT-2) otherwise stay in L3 between calls.
  bool coldWeights = false;
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
    } else if (a == "--no-pin") {
      pin = false;
    } else if (a == "--cold-weights") {
      coldWeights = true;
    } else {
      std::fprintf(stderr, "kiln-matmul-bench: unknown argument %s\n%s", a.c_str(), usage);
      return 2;
    }
  }
  std::ifstream in(blobPath, std::ios::binary);
  std::vector<char> blob(std::istreambuf_iterator<char>(in), {});
  if (blob.empty()) {
    std::fprintf(stderr, "kiln-matmul-bench: cannot read %s\n", blobPath.c_str());
    return 1;
  }
  std::printf("OpenBLAS: %s, core %s, OPENBLAS_CORETYPE=%s (its threads are not pinned)\n",
              openblas_get_config(), openblas_get_corename(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");

  // OpenBLAS creates its threads on first use and they inherit the caller's affinity: start
  // them before a Kiln device pins this thread.
  int maxThreads = static_cast<int>(*std::max_element(threadCounts.begin(), threadCounts.end()));
  openblas_set_num_threads(maxThreads);
  {
    std::vector<float> x(256 * 256, 1.0f), y(256 * 256);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 256, 256, 256, 1.0f, x.data(), 256,
                x.data(), 256, 0.0f, y.data(), 256);
  }

  std::vector<Row> rows;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (unsigned threads : threadCounts) {
    std::unique_ptr<hal::Device> device;
    cpu::CPUDeviceOptions options;
    options.threads = threads;
    options.pin = pin;
    if (hal::Status s = cpu::createCPUDevice(options, device); !s) {
      std::fprintf(stderr, "kiln-matmul-bench: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("Kiln, %u thread(s): %s\n", threads, pinning(*device, pin).c_str());
    std::unique_ptr<hal::Executable> exe;
    if (hal::Status s = device->loadExecutable(blob.data(), blob.size(), blobPath, exe); !s) {
      std::fprintf(stderr, "kiln-matmul-bench: %s\n", s.message().c_str());
      return 1;
    }
    openblas_set_num_threads(static_cast<int>(threads));
    bool reported = false;
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
      // Copies of the weights that together exceed the last-level cache (coldWeights).
      std::vector<std::unique_ptr<hal::Buffer>> weightCopies;
      constexpr size_t kColdBytes = 256u << 20;
      size_t weightBytes = info.bufferBytes[1];
      for (size_t total = weightBytes; coldWeights && total < kColdBytes; total += weightBytes) {
        std::unique_ptr<hal::Buffer> copy;
        if (!device->allocateBuffer(weightBytes, copy))
          return 1;
        std::memcpy(copy->hostPointer(), w, weightBytes);
        weightCopies.push_back(std::move(copy));
      }
      size_t nextCopy = 0;
      // The weights the next call reads: the original, or the next of the copies.
      auto nextWeights = [&]() -> hal::Buffer * {
        if (weightCopies.empty())
          return buffers[1].get();
        hal::Buffer *b = nextCopy == 0 ? buffers[1].get() : weightCopies[nextCopy - 1].get();
        nextCopy = (nextCopy + 1) % (weightCopies.size() + 1);
        return b;
      };

      std::vector<hal::BufferBinding> bindings;
      for (auto &b : buffers)
        bindings.push_back({b.get()});
      hal::DispatchParams params;
      params.buffers = bindings;
      params.workgroups = info.workgroupCount;
      bool failed = false;
      Row row;
      row.shape = s;
      row.threads = threads;
      row.kiln = measure(
          [&] {
            bindings[1].buffer = nextWeights();
            if (!device->dispatch(*exe, d, params))
              failed = true;
          },
          minTime, threads);
      if (failed) {
        std::fprintf(stderr, "kiln-matmul-bench: dispatch %s failed\n", info.name.c_str());
        return 1;
      }
      // Let the Kiln workers stop spinning before OpenBLAS's threads want the cores.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      row.blas = measure(
          [&] {
            const float *wt = static_cast<const float *>(nextWeights()->hostPointer());
            cblas_sgemm(CblasRowMajor, CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n,
                        s.k, 1.0f, a, s.k, wt, s.tb ? s.k : s.n, 0.0f, ref.data(), s.n);
            if (bias)
              for (int64_t i = 0; i < s.m; ++i)
                for (int64_t j = 0; j < s.n; ++j)
                  ref[i * s.n + j] = geluTanh(ref[i * s.n + j] + bias[j]);
          },
          minTime, threads);
      if (!reported) {
        std::printf("  CPUs each thread may use (main first): %s\n", threadAffinities().c_str());
        reported = true;
      }
      for (int64_t i = 0; i < s.m * s.n; ++i)
        row.maxDiff = std::max(row.maxDiff, double(std::fabs(c[i] - ref[i])));
      char label[64];
      std::snprintf(label, sizeof(label), "%ldx%ldx%ld%s%s", long(s.m), long(s.k), long(s.n),
                    s.tb ? " tB" : "", s.biasGelu ? " +bias+gelu" : "");
      row.label = label;
      std::fprintf(stderr, "  %-26s %u thread(s): Kiln %.3f ms, OpenBLAS %.3f ms\n", label,
                   threads, row.kiln.best() * 1e3, row.blas.best() * 1e3);
      rows.push_back(std::move(row));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // One line per shape: GFLOP/s at each thread count, Kiln / OpenBLAS, and the scaling of each
  // from the first thread count to the last.
  std::printf("\nGFLOP/s (median; * = fewer than 5 undisturbed runs, median of all runs)\n");
  std::printf("%-26s", "shape (M x K x N)");
  for (unsigned t : threadCounts)
    std::printf(" | %2uT: %6s %6s %5s", t, "Kiln", "BLAS", "ratio");
  if (threadCounts.size() > 1)
    std::printf(" | scaling: %5s %5s", "Kiln", "BLAS");
  std::printf(" | %7s | %8s\n", "GB/s*", "maxdiff");
  std::vector<std::string> labels;
  for (const Row &r : rows)
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end())
      labels.push_back(r.label);
  for (const std::string &label : labels) {
    std::printf("%-26s", label.c_str());
    const Row *first = nullptr, *last = nullptr;
    double maxDiff = 0;
    for (unsigned t : threadCounts) {
      const Row *r = nullptr;
      for (const Row &x : rows)
        if (x.label == label && x.threads == t)
          r = &x;
      if (!r) {
        std::printf(" | %2uT: %6s %6s %5s", t, "-", "-", "-");
        continue;
      }
      first = first ? first : r;
      last = r;
      maxDiff = std::max(maxDiff, r->maxDiff);
      double flops = 2.0 * r->shape.m * r->shape.k * r->shape.n;
      std::printf(" | %2uT: %5.1f%s %5.1f%s %5.2f", t, flops / r->kiln.best() * 1e-9,
                  r->kiln.disturbed() ? "*" : " ", flops / r->blas.best() * 1e-9,
                  r->blas.disturbed() ? "*" : " ", r->blas.best() / r->kiln.best());
    }
    if (threadCounts.size() > 1)
      std::printf(" | scaling: %5.2f %5.2f", first->kiln.best() / last->kiln.best(),
                  first->blas.best() / last->blas.best());
    // M = 1 is bound by memory traffic: A, B, (bias) and C once, at the last thread count.
    const Shape &s = first->shape;
    double bytes = 4.0 * (s.m * s.k + s.k * s.n + s.m * s.n + (s.biasGelu ? s.n : 0));
    if (s.m == 1)
      std::printf(" | %7.1f", bytes / last->kiln.best() * 1e-9);
    else
      std::printf(" | %7s", "");
    std::printf(" | %8.2g\n", maxDiff);
  }
  std::printf("GB/s*: Kiln's memory traffic for M = 1 (A, B, bias, C once) at %u thread(s)\n",
              threadCounts.back());
  return 0;
}
