//===- Executor.h - Runs an artifact's entry points -------------*- C++ -*-===//
//
// Loads a compiled model (.kc) and its weights, and runs entry points by replaying their
// schedules (docs/artifact.md, "Schedules") through the HAL's CPU driver. docs/runtime.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_EXEC_EXECUTOR_H
#define KILN_RT_EXEC_EXECUTOR_H

#include "kiln/rt/artifact/DType.h"
#include "kiln/rt/artifact/Manifest.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt::exec {

/// A dense row-major host tensor.
struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numElements() const;
  /// A tensor of `shape` with the given values.
  static Tensor fromI32(std::vector<int64_t> shape, const std::vector<int32_t> &values);
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

/// Wall time of each dispatch, accumulated while an executor profiles (Executor::setProfile):
/// one entry per dispatch of the loaded code, in the code's order. Reading it costs nothing;
/// an executor without a profile only tests one pointer per dispatch.
struct DispatchProfile {
  struct Entry {
    /// The code's dispatch name.
    std::string name;
    /// What the dispatch reads: its first parameter binding with the layer index as '*'
    /// ("h.*.mlp.up.weight"), else its first state binding ("cache_k"), else its first binding.
    std::string reads;
    uint64_t calls = 0;
    /// Wall time inside the HAL's dispatch call (the thread pool's work included).
    uint64_t nanoseconds = 0;
    /// CPU time of the dispatching thread inside the call: the wall time less the time it was
    /// preempted, when one thread runs the dispatch (on a loaded machine, the better figure).
    uint64_t callerCpuNanoseconds = 0;
    /// Bytes of parameters bound, summed over the calls (the weights a matvec streams).
    uint64_t parameterBytes = 0;
    /// Workgroups run, summed over the calls.
    uint64_t workgroups = 0;
  };
  std::vector<Entry> entries;
  /// Whole schedule replays and their wall time (dispatches and the executor's own work).
  uint64_t replays = 0;
  uint64_t replayNanoseconds = 0;

  /// Zeroes every counter (names stay).
  void clear();
};

struct ExecutorOptions {
  /// Worker threads including the caller; 0 means one per CPU the process may use.
  unsigned threads = 0;
  /// The runtime's services to the compiled code (cpu::CPUDeviceOptions::hostServices); off
  /// only to test the code's fallbacks.
  bool hostServices = true;
};

/// A loaded model: artifact, weights, device and code. Move-only.
class Executor {
public:
  ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  /// Opens `artifactPath`, loads the weights at `weightsPath` (docs/weights.md) and the CPU code.
  static Status create(const std::string &artifactPath, const std::string &weightsPath,
                       const ExecutorOptions &options, std::unique_ptr<Executor> &out);

  const Manifest &manifest() const;
  unsigned threads() const;
  /// What the device keeps for the code's temporaries so far (hal::DeviceInfo): blocks taken
  /// from the system and their bytes.
  struct TemporaryMemory {
    uint64_t blocks = 0;
    uint64_t bytes = 0;
  };
  TemporaryMemory temporaryMemory() const;

  /// Runs entry point `entry` on `inputs` (every input of its signature, by name; symbolic
  /// sizes are bound from them) and returns its outputs in signature order.
  Status run(std::string_view entry, const std::vector<NamedTensor> &inputs,
             std::vector<NamedTensor> &outputs);

  /// Accumulates each dispatch's wall time into `profile` from now on (its entries are sized
  /// to the code's dispatches); nullptr stops profiling. The profile must outlive its use.
  void setProfile(DispatchProfile *profile);

  struct Impl;
  /// The loaded state, for the decoder sessions of this executor (DecoderSession.h).
  Impl &impl() { return *impl_; }

private:
  Executor();
  std::unique_ptr<Impl> impl_;
};

/// Writes `tensor` as a NumPy .npy file (format 1.0, little-endian, C order), atomically.
Status writeNpy(const std::string &path, const Tensor &tensor);

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_EXECUTOR_H
