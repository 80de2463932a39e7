//===- CPUDevice.cpp - The HAL's CPU driver -------------------------------===//
#include "kiln/rt/cpu/CPUDevice.h"

#include "kiln/rt/cpu/ExecutableABI.h"
#include "kiln/rt/cpu/PerfMap.h"
#include "kiln/rt/cpu/TemporaryPool.h"
#include "kiln/rt/cpu/ThreadPool.h"

#include "WriteAll.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kiln::rt::cpu {
namespace {

using hal::Status;
using hal::StatusCode;

/// Most buffer bindings a CPU dispatch may have (the pointer array, 32 KiB, lives on the
/// stack). An entry point compiled whole binds every parameter: GPT-2's 24-layer sizes have
/// 292, a 32-layer LLaMA 291, int8 weights one scale vector more per matrix.
constexpr uint32_t kMaxBindings = 4096;

class CPUBuffer final : public hal::Buffer {
public:
  CPUBuffer(void *data, size_t size, bool owned) : Buffer(size), data_(data), owned_(owned) {}
  ~CPUBuffer() override {
    if (owned_)
      std::free(data_);
  }
  void *hostPointer() override { return data_; }

private:
  void *data_;
  bool owned_;
};

class CPUExecutable final : public hal::Executable {
public:
  CPUExecutable(void *handle, std::vector<kiln_cpu_dispatch_fn> fns,
                std::vector<hal::DispatchInfo> infos)
      : handle_(handle), fns_(std::move(fns)) {
    dispatches_ = std::move(infos);
  }
  ~CPUExecutable() override {
    if (handle_)
      dlclose(handle_);
  }
  kiln_cpu_dispatch_fn fn(uint32_t index) const { return fns_[index]; }

private:
  void *handle_;
  std::vector<kiln_cpu_dispatch_fn> fns_;
};

/// Checks that `code` is an ELF shared object for this machine before handing it to dlopen.
Status checkElf(const void *code, size_t size, const std::string &name) {
  auto bad = [&](const std::string &what) {
    return Status(StatusCode::InvalidCode, name + ": " + what);
  };
  if (!code || size < sizeof(Elf64_Ehdr))
    return bad("CPU code is " + std::to_string(size) + " bytes, too short for an ELF header");
  Elf64_Ehdr header;
  std::memcpy(&header, code, sizeof(header));
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
    return bad("CPU code is not an ELF object (bad magic)");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
    return bad("CPU code is not a 64-bit little-endian ELF object");
  if (header.e_type != ET_DYN)
    return bad("CPU code is not a shared object (ELF type " + std::to_string(header.e_type) +
               ")");
#if defined(__x86_64__)
  if (header.e_machine != EM_X86_64)
    return bad("CPU code is for ELF machine " + std::to_string(header.e_machine) +
               ", this runtime runs x86-64");
#endif
  auto truncated = [&] {
    return bad("CPU code is truncated (its headers point past its " + std::to_string(size) +
               " bytes)");
  };
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      header.e_phoff + uint64_t(header.e_phnum) * sizeof(Elf64_Phdr) > size ||
      header.e_shoff + uint64_t(header.e_shnum) * header.e_shentsize > size)
    return truncated();
  const char *bytes = static_cast<const char *>(code);
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(ph));
    if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > size)
      return truncated();
  }
  return Status::ok();
}

/// Loads the shared object from memory: memfd + dlopen("/proc/self/fd/N").
Status loadFromMemory(const void *code, size_t size, const std::string &name, void *&handle) {
  int fd = memfd_create("kiln-cpu-code", MFD_CLOEXEC);
  if (fd < 0)
    return Status(StatusCode::Unavailable,
                  name + ": memfd_create failed: " + std::strerror(errno));
  if (int err = writeAll(fd, code, size)) {
    close(fd);
    return Status(StatusCode::Unavailable,
                  name + ": writing the CPU code failed: " + std::strerror(err));
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  close(fd); // The mapping keeps the memory alive.
  if (!handle) {
    const char *err = dlerror();
    return Status(StatusCode::InvalidCode,
                  name + ": cannot load the CPU code: " + (err ? err : "unknown error"));
  }
  return Status::ok();
}

Status readDescriptor(void *handle, const std::string &name,
                      std::vector<kiln_cpu_dispatch_fn> &fns,
                      std::vector<hal::DispatchInfo> &infos) {
  auto bad = [&](const std::string &what) {
    return Status(StatusCode::InvalidCode, name + ": " + what);
  };
  auto query = reinterpret_cast<kiln_cpu_executable_query_fn>(
      dlsym(handle, KILN_CPU_EXECUTABLE_SYMBOL));
  if (!query)
    return bad("CPU code has no '" KILN_CPU_EXECUTABLE_SYMBOL "' symbol");
  const kiln_cpu_executable_desc *exe = query();
  if (!exe)
    return bad("CPU code returned no executable descriptor");
  if (exe->magic != KILN_CPU_EXECUTABLE_MAGIC)
    return bad("CPU code descriptor has a bad magic number");
  if (exe->version != KILN_CPU_EXECUTABLE_VERSION)
    return bad("CPU code ABI version " + std::to_string(exe->version) +
               " is not supported (this runtime reads version " +
               std::to_string(KILN_CPU_EXECUTABLE_VERSION) + ")");
  if (exe->num_dispatches > 0 && !exe->dispatches)
    return bad("CPU code descriptor lists dispatches but has no table");
  for (uint32_t i = 0; i < exe->num_dispatches; ++i) {
    const kiln_cpu_dispatch_desc &d = exe->dispatches[i];
    std::string index = "dispatch #" + std::to_string(i);
    if (!d.name || !d.fn)
      return bad(index + " has no name or no entry function");
    if (d.num_buffers > kMaxBindings)
      return bad(index + " ('" + d.name + "') has " + std::to_string(d.num_buffers) +
                 " buffers; at most " + std::to_string(kMaxBindings) + " are supported");
    if (d.num_buffers > 0 && !d.buffer_bytes)
      return bad(index + " ('" + d.name + "') has no buffer size table");
    hal::DispatchInfo info;
    info.name = d.name;
    info.numBuffers = d.num_buffers;
    info.numScalars = d.num_scalars;
    info.bufferBytes.assign(d.buffer_bytes, d.buffer_bytes + d.num_buffers);
    for (int k = 0; k < 3; ++k)
      info.workgroupCount[k] = d.workgroup_count[k];
    fns.push_back(d.fn);
    infos.push_back(std::move(info));
  }
  return Status::ok();
}

/// KILN_PERF_MAP: moves the loaded code to anonymous memory and lists its functions in
/// /tmp/perf-<pid>.map (PerfMap.h).
Status publishPerfMap(const void *code, size_t size, void *handle, const std::string &name) {
  link_map *map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map)
    return Status(StatusCode::Unavailable, name + ": cannot find where the CPU code was loaded");
  std::vector<CodeSymbol> symbols;
  if (Status s = readFunctionSymbols(code, size, name, symbols); !s)
    return s;
  if (Status s = makeCodeAnonymous(code, size, map->l_addr, name); !s)
    return s;
  return appendPerfMap(perfMapPath(), map->l_addr, symbols);
}

/// Context of one dispatch on the thread pool (lives on the dispatching thread's stack).
struct DispatchJob {
  kiln_cpu_dispatch_fn fn;
  void *const *buffers;
  const int64_t *scalars;
};

void runDispatch(void *context, uint32_t begin, uint32_t end, unsigned) {
  auto *job = static_cast<DispatchJob *>(context);
  job->fn(job->buffers, job->scalars, begin, end);
}

class CPUDevice final : public hal::Device {
public:
  explicit CPUDevice(const CPUDeviceOptions &options)
      : pool_(options.threads, options.pin), hostServices_(options.hostServices) {}

  /// kiln_cpu_host::run_workgroups: a dispatch of one workgroup (run on the dispatching thread,
  /// the pool idle) spreads the workgroups of the dispatches it calls over the pool. From
  /// inside a job of several workgroups the pool is busy (it is not reentrant): the calling
  /// worker runs them itself.
  static void runWorkgroups(void *context, kiln_cpu_dispatch_fn fn, void *const *buffers,
                            const int64_t *scalars, uint32_t count) {
    auto *device = static_cast<CPUDevice *>(context);
    if (device->poolBusy_.load(std::memory_order_relaxed)) {
      fn(buffers, scalars, 0, count);
      return;
    }
    DispatchJob job{fn, buffers, scalars};
    device->poolBusy_.store(true, std::memory_order_relaxed);
    device->pool_.run(count, 0, runDispatch, &job);
    device->poolBusy_.store(false, std::memory_order_relaxed);
  }

  /// kiln_cpu_host::alloc / free: the temporaries of entry points compiled whole.
  static void *allocTemporary(void *context, uint64_t bytes) {
    return static_cast<CPUDevice *>(context)->temporaries_.allocate(bytes);
  }
  static void freeTemporary(void *context, void *block) {
    static_cast<CPUDevice *>(context)->temporaries_.release(block);
  }

  hal::DeviceInfo info() const override {
    hal::DeviceInfo info;
    info.name = "cpu";
    info.target = "x86_64-linux-elf";
    info.threads = pool_.threads();
    info.temporaryBlocks = temporaries_.systemAllocations();
    info.temporaryBytes = temporaries_.bytesHeld();
    return info;
  }

  Status allocateBuffer(size_t bytes, std::unique_ptr<hal::Buffer> &out) override {
    size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    void *data = std::aligned_alloc(64, rounded);
    if (!data)
      return Status(StatusCode::OutOfMemory,
                    "cannot allocate a buffer of " + std::to_string(bytes) + " bytes");
    std::memset(data, 0, rounded);
    out = std::make_unique<CPUBuffer>(data, bytes, /*owned=*/true);
    return Status::ok();
  }

  Status wrapHostMemory(void *data, size_t bytes, std::unique_ptr<hal::Buffer> &out) override {
    if (!data && bytes)
      return Status(StatusCode::InvalidArgument, "cannot wrap a null host pointer");
    out = std::make_unique<CPUBuffer>(data, bytes, /*owned=*/false);
    return Status::ok();
  }

  Status loadExecutable(const void *code, size_t size, std::string_view name,
                        std::unique_ptr<hal::Executable> &out) override {
    std::string label(name);
    if (Status s = checkElf(code, size, label); !s)
      return s;
    void *handle = nullptr;
    if (Status s = loadFromMemory(code, size, label, handle); !s)
      return s;
    std::vector<kiln_cpu_dispatch_fn> fns;
    std::vector<hal::DispatchInfo> infos;
    if (Status s = readDescriptor(handle, label, fns, infos); !s) {
      dlclose(handle);
      return s;
    }
    // Profiling aid only: a failure is reported and the code runs as loaded.
    if (perfMapRequested())
      if (Status s = publishPerfMap(code, size, handle, label); !s)
        std::fprintf(stderr, "kiln: warning: KILN_PERF_MAP: %s\n", s.message().c_str());
    // The code's calls back into the runtime (ExecutableABI.h); absent in code that makes none.
    auto *host = static_cast<kiln_cpu_host *>(dlsym(handle, KILN_CPU_HOST_SYMBOL));
    if (host && hostServices_) {
      host->run_workgroups = &CPUDevice::runWorkgroups;
      host->context = this;
      host->alloc = &CPUDevice::allocTemporary;
      host->free = &CPUDevice::freeTemporary;
    }
    out = std::make_unique<CPUExecutable>(handle, std::move(fns), std::move(infos));
    return Status::ok();
  }

  Status dispatch(hal::Executable &exe, uint32_t index,
                  const hal::DispatchParams &params) override {
    auto &cpuExe = static_cast<CPUExecutable &>(exe);
    if (index >= exe.dispatches().size())
      return Status(StatusCode::InvalidArgument,
                    "dispatch index " + std::to_string(index) + " out of range (executable has " +
                        std::to_string(exe.dispatches().size()) + ")");
    const hal::DispatchInfo &info = exe.dispatches()[index];
    if (Status s = hal::validateDispatch(info, params); !s)
      return s;
    void *pointers[kMaxBindings];
    for (size_t i = 0; i < params.buffers.size(); ++i) {
      const hal::BufferBinding &b = params.buffers[i];
      pointers[i] = static_cast<char *>(b.buffer->hostPointer()) + b.offset;
    }
    DispatchJob job{cpuExe.fn(index), pointers, params.scalars.data()};
    uint32_t count = params.workgroups[0] * params.workgroups[1] * params.workgroups[2];
    // One workgroup runs on this thread and leaves the pool to the dispatches it calls.
    bool busy = count > 1;
    poolBusy_.store(busy, std::memory_order_relaxed);
    pool_.run(count, 0, runDispatch, &job);
    if (busy)
      poolBusy_.store(false, std::memory_order_relaxed);
    temporaries_.endOfCall();
    return Status::ok();
  }

  Status synchronize() override { return Status::ok(); }

private:
  ThreadPool pool_;
  /// The code's temporaries (kiln_cpu_host::alloc), kept between calls.
  TemporaryPool temporaries_;
  /// CPUDeviceOptions::hostServices.
  bool hostServices_;
  /// A job of several workgroups is on the pool (runWorkgroups must not start another).
  std::atomic<bool> poolBusy_{false};
};

} // namespace

hal::Status createCPUDevice(const CPUDeviceOptions &options, std::unique_ptr<hal::Device> &out) {
  out = std::make_unique<CPUDevice>(options);
  return hal::Status::ok();
}

} // namespace kiln::rt::cpu
