//===- kiln-hal-run.cpp - Run one dispatch of a CPU code blob -------------===//
//
//   kiln-hal-run BLOB DISPATCH [--threads N] [--repeat R] BINDING...
//
// Each BINDING is `in:FILE` (raw bytes read into the buffer), `out:FILE` (a zeroed buffer of
// the dispatch's size, written to FILE afterwards) or `inout:FILE`. With --repeat R the dispatch
// runs R times and the median time per run is printed to stderr. Exit codes: 0 ok, 1 runtime
// error (message on stderr), 2 usage error.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/cpu/CPUDevice.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace kiln::rt;

static int usage() {
  std::fprintf(stderr, "usage: kiln-hal-run BLOB DISPATCH [--threads N] [--repeat R] "
                       "(in:FILE|out:FILE|inout:FILE)...\n");
  return 2;
}

static bool readFile(const std::string &path, std::vector<char> &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  out.assign(std::istreambuf_iterator<char>(in), {});
  return true;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return usage();
  std::string blobPath = argv[1], name = argv[2];
  unsigned threads = 0, repeat = 0;
  struct Arg {
    std::string mode, path;
  };
  std::vector<Arg> args;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::atoi(argv[++i]);
    else if (a.rfind("in:", 0) == 0)
      args.push_back({"in", a.substr(3)});
    else if (a.rfind("out:", 0) == 0)
      args.push_back({"out", a.substr(4)});
    else if (a.rfind("inout:", 0) == 0)
      args.push_back({"inout", a.substr(6)});
    else
      return usage();
  }
  std::vector<char> blob;
  if (!readFile(blobPath, blob)) {
    std::fprintf(stderr, "kiln-hal-run: cannot read %s\n", blobPath.c_str());
    return 1;
  }
  std::unique_ptr<hal::Device> device;
  cpu::CPUDeviceOptions options;
  options.threads = threads;
  if (hal::Status s = cpu::createCPUDevice(options, device); !s) {
    std::fprintf(stderr, "kiln-hal-run: %s\n", s.message().c_str());
    return 1;
  }
  std::unique_ptr<hal::Executable> exe;
  if (hal::Status s = device->loadExecutable(blob.data(), blob.size(), blobPath, exe); !s) {
    std::fprintf(stderr, "kiln-hal-run: %s\n", s.message().c_str());
    return 1;
  }
  int index = exe->find(name);
  if (index < 0) {
    std::fprintf(stderr, "kiln-hal-run: %s has no dispatch '%s'\n", blobPath.c_str(),
                 name.c_str());
    return 1;
  }
  const hal::DispatchInfo &info = exe->dispatches()[index];
  if (args.size() != info.numBuffers) {
    std::fprintf(stderr, "kiln-hal-run: dispatch '%s' takes %u buffers, %zu given\n",
                 name.c_str(), info.numBuffers, args.size());
    return 1;
  }
  std::vector<std::unique_ptr<hal::Buffer>> buffers;
  std::vector<hal::BufferBinding> bindings;
  for (size_t i = 0; i < args.size(); ++i) {
    std::unique_ptr<hal::Buffer> b;
    if (hal::Status s = device->allocateBuffer(info.bufferBytes[i], b); !s) {
      std::fprintf(stderr, "kiln-hal-run: %s\n", s.message().c_str());
      return 1;
    }
    if (args[i].mode != "out") {
      std::vector<char> data;
      if (!readFile(args[i].path, data)) {
        std::fprintf(stderr, "kiln-hal-run: cannot read %s\n", args[i].path.c_str());
        return 1;
      }
      if (data.size() != info.bufferBytes[i]) {
        std::fprintf(stderr, "kiln-hal-run: %s has %zu bytes; binding %zu of '%s' takes %llu\n",
                     args[i].path.c_str(), data.size(), i, name.c_str(),
                     static_cast<unsigned long long>(info.bufferBytes[i]));
        return 1;
      }
      std::memcpy(b->hostPointer(), data.data(), data.size());
    }
    bindings.push_back({b.get()});
    buffers.push_back(std::move(b));
  }
  hal::DispatchParams params;
  params.buffers = bindings;
  params.workgroups = info.workgroupCount;
  std::vector<double> times;
  for (unsigned r = 0; r < std::max(1u, repeat); ++r) {
    auto start = std::chrono::steady_clock::now();
    if (hal::Status s = device->dispatch(*exe, index, params); !s) {
      std::fprintf(stderr, "kiln-hal-run: %s\n", s.message().c_str());
      return 1;
    }
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (repeat) {
    std::sort(times.begin(), times.end());
    std::fprintf(stderr, "kiln-hal-run: %s median %.6f s over %u runs, %u threads\n",
                 name.c_str(), times[times.size() / 2], repeat, device->info().threads);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].mode == "in")
      continue;
    std::ofstream out(args[i].path, std::ios::binary);
    out.write(static_cast<const char *>(buffers[i]->hostPointer()),
              static_cast<std::streamsize>(info.bufferBytes[i]));
    if (!out) {
      std::fprintf(stderr, "kiln-hal-run: cannot write %s\n", args[i].path.c_str());
      return 1;
    }
  }
  return 0;
}
