//===- Schedule.h - An entry point's schedule, parsed and checked -*- C++ -*-===//
//
// The reader of a `schedule/<target>/<entry point>` section (docs/artifact.md, "Schedules"):
// the ordered dispatches with their buffer bindings and workgroup counts, and for entry points
// compiled with static sizes (kilnc --specialize) the sizes, the temporaries and the arena
// they live in. Everything is checked against the entry point, the manifest and the compiled
// code before anything runs.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_EXEC_SCHEDULE_H
#define KILN_RT_EXEC_SCHEDULE_H

#include "kiln/rt/artifact/DType.h"
#include "kiln/rt/artifact/Manifest.h"
#include "kiln/rt/artifact/Status.h"
#include "kiln/rt/hal/HAL.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt::exec {

/// Bytes `[offset, offset + bytes)` of a buffer.
struct ByteRange {
  uint64_t offset = 0, bytes = 0;
};

/// One buffer binding of a dispatch: an entry point's input, output or state, a parameter, or
/// a temporary in the entry point's arena.
struct BufferRef {
  enum Kind { Input, Parameter, Output, State, Temporary } kind = Input;
  std::string name;
  /// Temporaries: the index into Schedule::temporaries.
  int temporary = -1;
  /// State: the bytes bound (one layer of a KV cache, since format 1.3); none: the whole buffer.
  std::optional<ByteRange> range;
};

/// An intermediate tensor passed between dispatches, at `offset` in the arena.
struct Temporary {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  /// Live range: indices into Schedule::dispatches of the writer and of the last reader.
  uint32_t first = 0, last = 0;
  uint64_t offset = 0;
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
  /// The sizes the entry point was compiled for (empty: any sizes).
  std::vector<std::pair<std::string, int64_t>> staticDims;
  std::vector<Temporary> temporaries;
  /// Size of the arena holding every temporary.
  uint64_t arenaBytes = 0;
};

/// Parses the schedule section `text` of `entry` and checks it against the manifest and the
/// dispatches of the loaded code (`code`). Errors start with `what` (the file and section).
Status parseSchedule(std::string_view text, std::string_view what, const EntryPoint &entry,
                     const Manifest &manifest, const std::vector<hal::DispatchInfo> &code,
                     Schedule &out);

} // namespace kiln::rt::exec

#endif // KILN_RT_EXEC_SCHEDULE_H
