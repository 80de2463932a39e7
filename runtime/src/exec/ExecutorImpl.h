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
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt::exec {

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
};

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_EXECUTORIMPL_H
