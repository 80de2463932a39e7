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
#include "kiln/rt/hal/HAL.h"
#include "kiln/rt/weights/Weights.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt::exec {

/// One buffer binding of a dispatch: an entry point's input, output or state, or a parameter.
struct BufferRef {
  enum Kind { Input, Parameter, Output, State } kind;
  std::string name;
};

struct Dispatch {
  std::string name;
  int index = -1; // in the executable
  std::array<uint32_t, 3> workgroups = {1, 1, 1};
  std::vector<BufferRef> buffers;
  std::vector<std::string> scalars;
};

struct Schedule {
  std::vector<Dispatch> dispatches;
};

struct Executor::Impl {
  std::string path;
  Artifact artifact;
  WeightSet weights;
  std::unique_ptr<hal::Device> device;
  std::unique_ptr<hal::Executable> executable;
  std::map<std::string, std::unique_ptr<hal::Buffer>, std::less<>> params;
  std::map<std::string, Schedule, std::less<>> schedules;
};

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_EXECUTORIMPL_H
