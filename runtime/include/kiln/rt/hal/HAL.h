//===- HAL.h - Hardware abstraction layer: devices, buffers, dispatches ---===//
//
// The executor replays an entry point's schedule (ordered dispatches with their buffers,
// scalars and workgroup counts) through this interface, the same schedule for every driver.
// The CPU driver (kiln/rt/cpu/CPUDevice.h) runs native code from the artifact on a pinned
// thread pool; a Vulkan driver implements the same classes with SPIR-V pipelines.
// docs/hal.md describes the model and the CPU dispatch ABI.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_HAL_HAL_H
#define KILN_RT_HAL_HAL_H

#include "kiln/rt/hal/Status.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt::hal {

/// Minimal view of contiguous elements (C++17 has no std::span).
template <typename T> class Span {
public:
  Span() = default;
  Span(T *data, size_t size) : data_(data), size_(size) {}
  template <typename C> Span(C &c) : data_(c.data()), size_(c.size()) {}
  Span(std::initializer_list<std::remove_const_t<T>> list)
      : data_(list.begin()), size_(list.size()) {}
  T *data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T &operator[](size_t i) const { return data_[i]; }
  T *begin() const { return data_; }
  T *end() const { return data_ + size_; }

private:
  T *data_ = nullptr;
  size_t size_ = 0;
};

/// Device memory. On the CPU it is host memory, 64-byte aligned; a Vulkan buffer maps on demand.
class Buffer {
public:
  virtual ~Buffer() = default;
  size_t size() const { return size_; }
  /// Host address of the contents, or nullptr when the buffer is not host-visible.
  virtual void *hostPointer() = 0;

protected:
  explicit Buffer(size_t size) : size_(size) {}

private:
  size_t size_;
};

/// A range of a buffer bound to one binding slot of a dispatch.
struct BufferBinding {
  Buffer *buffer = nullptr;
  size_t offset = 0;
  /// Bytes visible to the dispatch; SIZE_MAX means to the end of the buffer.
  size_t length = SIZE_MAX;
};

/// What the runtime knows about one dispatch of an executable.
struct DispatchInfo {
  std::string name;
  uint32_t numBuffers = 0;
  uint32_t numScalars = 0;
  /// Minimum size of each binding in bytes (the shapes the dispatch was compiled for).
  std::vector<uint64_t> bufferBytes;
  /// Workgroup count (x, y, z) for those shapes.
  std::array<uint32_t, 3> workgroupCount = {1, 1, 1};
};

/// Loaded device code: the dispatches of one code section of an artifact.
class Executable {
public:
  virtual ~Executable() = default;
  const std::vector<DispatchInfo> &dispatches() const { return dispatches_; }
  /// Index of the dispatch called `name`, or -1.
  int find(std::string_view name) const;

protected:
  std::vector<DispatchInfo> dispatches_;
};

/// Everything one dispatch call needs. `workgroups` is usually the dispatch's workgroupCount.
struct DispatchParams {
  Span<const BufferBinding> buffers;
  Span<const int64_t> scalars;
  std::array<uint32_t, 3> workgroups = {1, 1, 1};
};

struct DeviceInfo {
  std::string name;   // "cpu", "vulkan:<device>"
  std::string target; // the code format it loads ("x86_64-linux-elf", "spirv-1.3")
  unsigned threads = 1;
  /// Memory the device keeps for the code's temporaries (the CPU driver's TemporaryPool): the
  /// blocks it took from the system so far and their bytes. A call that finds every block it
  /// needs among those freed by earlier calls takes nothing new.
  uint64_t temporaryBlocks = 0;
  uint64_t temporaryBytes = 0;
};

/// A device: allocates buffers, loads code, runs dispatches in submission order.
class Device {
public:
  virtual ~Device() = default;
  virtual DeviceInfo info() const = 0;
  /// Allocates `bytes` of device memory (zero-filled).
  virtual Status allocateBuffer(size_t bytes, std::unique_ptr<Buffer> &out) = 0;
  /// Wraps caller-owned host memory (for example memory-mapped weights) without copying; the
  /// memory must outlive the buffer. Drivers that cannot do that copy it.
  virtual Status wrapHostMemory(void *data, size_t bytes, std::unique_ptr<Buffer> &out) = 0;
  /// Loads a code blob; `name` (the artifact and section) appears in error messages.
  virtual Status loadExecutable(const void *code, size_t size, std::string_view name,
                                std::unique_ptr<Executable> &out) = 0;
  /// Runs dispatch `index` of `exe`. Bindings and scalars are checked against the dispatch's
  /// signature. The CPU driver returns when the dispatch is complete.
  virtual Status dispatch(Executable &exe, uint32_t index, const DispatchParams &params) = 0;
  /// Waits for all submitted work.
  virtual Status synchronize() = 0;
};

/// Checks `params` against `info`; an error names the executable, the dispatch and the problem.
Status validateDispatch(const DispatchInfo &info, const DispatchParams &params);

} // namespace kiln::rt::hal

#endif // KILN_RT_HAL_HAL_H
