//===- ExecutorImpl.h - The executor's loaded state (internal) --*- C++ -*-===//
//
// What Executor::create loads (artifact, weights, device, code, parsed schedules), shared by the
// executor and the decoder sessions built on it. Not installed; runtime/src/exec only.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_EXEC_EXECUTORIMPL_H
#define KILN_RT_EXEC_EXECUTORIMPL_H

#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/exec/Executor.h"
#include "kiln/rt/exec/Schedule.h"
#include "kiln/rt/hal/HAL.h"
#include "kiln/rt/weights/Weights.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt::exec {

/// A schedule's dispatches with every buffer and scalar resolved: bound once, replayed as
/// often as needed without allocating.
struct BoundSchedule {
  const Schedule *schedule = nullptr;
  std::vector<std::vector<hal::BufferBinding>> bindings;
  std::vector<std::vector<int64_t>> scalars;
};

/// Gives the buffer of an entry point's own input, output or state binding.
using EntryBufferFn = std::function<Status(const BufferRef &, hal::Buffer *&)>;
/// Gives the value of scalar `scalarIndex` (symbol `symbol`) of dispatch `dispatchIndex`.
using SymbolFn =
    std::function<Status(size_t dispatchIndex, size_t scalarIndex, const std::string &symbol,
                         int64_t &value)>;

struct Executor::Impl {
  std::string path;
  Artifact artifact;
  WeightSet weights;
  std::unique_ptr<hal::Device> device;
  std::unique_ptr<hal::Executable> executable;
  std::map<std::string, std::unique_ptr<hal::Buffer>, std::less<>> params;
  std::map<std::string, Schedule, std::less<>> schedules;
  /// The arena of each entry point whose schedule has temporaries (allocated once, at load).
  std::map<std::string, std::unique_ptr<hal::Buffer>, std::less<>> arenas;
  /// Where replay() accumulates dispatch times; null when not profiling.
  DispatchProfile *profile = nullptr;

  /// Binds entry point `entry`'s schedule: parameters and temporaries (at their arena offsets)
  /// here, inputs, outputs and state through `entryBuffer`, scalars through `symbol`.
  Status bindSchedule(const std::string &entry, const EntryBufferFn &entryBuffer,
                      const SymbolFn &symbol, BoundSchedule &out);
  /// Runs a bound schedule's first `count` dispatches (all by default) in order and waits for
  /// them.
  Status replay(const BoundSchedule &bound, size_t count = SIZE_MAX);
  /// replay() with every dispatch timed into `profile`.
  Status replayProfiled(const BoundSchedule &bound, size_t count);
};

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_EXECUTORIMPL_H
