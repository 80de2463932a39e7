//===- DispatchBench.cpp - The CPU driver's own cost per dispatch ---------===//
//
//   kiln-dispatch-bench [--threads 1,2] [--dispatches N] [--gap-us U]
//
// Loads a code blob of dispatches that do nothing (NopKernels.c, 1 to 48 workgroups) into the
// CPU driver and times N back-to-back dispatches of each, per thread count: what the runtime
// costs per dispatch (validation, argument marshalling, waking the pool's workers and waiting
// for them) when the kernels themselves cost nothing. --gap-us U spins U microseconds on the
// calling thread between dispatches (as the executor does between a decode token's
// dispatches), so that idle workers may go to sleep. Prints the median of 5 batches in
// nanoseconds per dispatch. Figures only; bench/README.md, "Profiling".
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/hal/HAL.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace kiln::rt;
using Clock = std::chrono::steady_clock;

int main(int argc, char **argv) {
  std::vector<unsigned> threadCounts = {1, 2};
  long dispatches = 100000;
  double gapUs = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threadCounts.clear();
      for (char *p = argv[++i]; *p;) {
        threadCounts.push_back(unsigned(std::strtoul(p, &p, 10)));
        if (*p == ',')
          ++p;
      }
    } else if (a == "--dispatches" && i + 1 < argc) {
      dispatches = std::atol(argv[++i]);
    } else if (a == "--gap-us" && i + 1 < argc) {
      gapUs = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: kiln-dispatch-bench [--threads 1,2] [--dispatches N] "
                           "[--gap-us U]\n");
      return 2;
    }
  }
  std::ifstream in(KILN_NOP_BLOB, std::ios::binary);
  std::vector<char> blob((std::istreambuf_iterator<char>(in)), {});
  std::printf("%3s %8s %8s %12s\n", "thr", "wg", "gap us", "ns/dispatch");
  for (unsigned threads : threadCounts) {
    cpu::CPUDeviceOptions options;
    options.threads = threads;
    std::unique_ptr<hal::Device> device;
    std::unique_ptr<hal::Executable> exe;
    std::unique_ptr<hal::Buffer> out;
    if (!cpu::createCPUDevice(options, device) ||
        !device->loadExecutable(blob.data(), blob.size(), KILN_NOP_BLOB, exe) ||
        !device->allocateBuffer(4 * 64, out)) {
      std::fprintf(stderr, "kiln-dispatch-bench: cannot load %s\n", KILN_NOP_BLOB);
      return 1;
    }
    hal::BufferBinding binding{out.get()};
    for (uint32_t index = 0; index < exe->dispatches().size(); ++index) {
      const hal::DispatchInfo &info = exe->dispatches()[index];
      hal::DispatchParams params;
      params.buffers = hal::Span<const hal::BufferBinding>(&binding, 1);
      params.workgroups = {info.workgroupCount[0], info.workgroupCount[1], info.workgroupCount[2]};
      std::vector<double> batches;
      for (int batch = 0; batch < 6; ++batch) {
        double gapNs = 0;
        auto t0 = Clock::now();
        for (long i = 0; i < dispatches; ++i) {
          if (!device->dispatch(*exe, index, params))
            return 1;
          if (gapUs > 0) {
            auto g0 = Clock::now();
            while (std::chrono::duration<double, std::micro>(Clock::now() - g0).count() < gapUs)
              ;
            gapNs += std::chrono::duration<double, std::nano>(Clock::now() - g0).count();
          }
        }
        double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() - gapNs;
        if (batch > 0) // the first batch warms up
          batches.push_back(ns / double(dispatches));
      }
      std::sort(batches.begin(), batches.end());
      std::printf("%3u %8u %8.1f %12.1f\n", device->info().threads, info.workgroupCount[0], gapUs,
                  batches[batches.size() / 2]);
      std::fflush(stdout);
    }
  }
  return 0;
}
