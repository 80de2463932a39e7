//===- Dispatch.h - Cutting static entry points into dispatches --*- C++ -*-===//
//
// Dispatch formation, the step between the lowering to linalg and the targets:
//
//   specializeShapes   kiln level: symbolic dims (batch, seq) bound to constants
//   (kiln-lower-to-linalg, then kiln-dispatch-fusion)
//   formDispatches     linalg on tensors: ops grouped and outlined into
//                      func.func @<entry>_dispatch_<n>; the entry becomes func.calls
//   dedupeDispatches   identical dispatch functions (across entry points) merged into one
//   buildSchedule      the ordered dispatches, their buffer bindings (input, parameter,
//                      output, temporary, state or one layer of it), temporaries' live
//                      ranges and an arena plan
//
// docs/dispatch.md describes the rules and the schedule format.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_DISPATCH_DISPATCH_H
#define KILN_DISPATCH_DISPATCH_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::dispatch {

/// The attribute marking an outlined dispatch function; its value names the entry point. (Not
/// `kiln.`-prefixed: the kiln dialect verifies every attribute in its namespace.)
constexpr llvm::StringLiteral kDispatchAttr = "kiln_dispatch";
/// The attribute recording the sizes an entry point was specialized to.
constexpr llvm::StringLiteral kStaticDimsAttr = "kiln_static_dims";

/// Binds the symbolic dimensions of entry point `func` (kiln dialect) to `sizes` and
/// re-infers every result type in its body. Errors (unbound or unknown dimension, ops that
/// cannot re-infer their types) are emitted on `func`.
mlir::LogicalResult specializeShapes(mlir::func::FuncOp func,
                                     const llvm::StringMap<int64_t> &sizes);

/// The names of the dynamic dimensions of `func`'s inputs, in first-use order, as
/// specializeShapes expects them bound.
std::vector<std::string> dynamicDimNames(mlir::func::FuncOp func);

/// Cuts `entry` (linalg on tensors, static shapes, one block) into outlined dispatch functions
/// inserted after it in `module`. Returns the number of dispatches in `numDispatches`.
mlir::LogicalResult formDispatches(mlir::ModuleOp module, mlir::func::FuncOp entry,
                                   unsigned *numDispatches = nullptr);

/// Merges dispatch functions (`kiln_dispatch`) whose signatures, attributes and bodies are
/// identical up to their symbol names, SSA names and locations into the first of them in
/// module order, and redirects every call to it. Works across entry points. Run after
/// formDispatches and before buildSchedule; `numMerged` receives the number of functions
/// erased.
mlir::LogicalResult dedupeDispatches(mlir::ModuleOp module, unsigned *numMerged = nullptr);

/// Merges the functions with a body for which `isCandidate` holds and whose signatures,
/// attributes and bodies are identical up to symbol names, SSA names and locations, as
/// dedupeDispatches does for dispatch functions; `numMerged` receives the number erased.
void dedupeFunctions(mlir::ModuleOp module,
                     llvm::function_ref<bool(mlir::func::FuncOp)> isCandidate,
                     unsigned *numMerged = nullptr);

/// The attribute marking a function outlined by outlineBufferOps.
constexpr llvm::StringLiteral kOutlinedOpAttr = "kiln_outlined_op";

/// Moves each linalg op on buffers in the body of `f` (a whole entry point after
/// bufferization, dynamic shapes allowed) into a private function `<f>_op_<n>` of its own,
/// called in its place: its arguments are the op's operands and the values its regions read
/// from above (constants are copied in), each distinct value once. Then the outlined
/// functions of the module that are identical are merged (dedupeFunctions): the layers of a
/// model share theirs, so LLVM optimizes each op once instead of once per layer. The functions
/// are `noinline` for LLVM, whose inliner would otherwise copy them back into every caller.
void outlineBufferOps(mlir::ModuleOp module, llvm::ArrayRef<mlir::func::FuncOp> functions);

/// The operand a dispatch's result `result` updates in place, if any: the result is a
/// `tensor.insert_slice` (or a chain of them) into that operand, as a KV-cache append is. The
/// schedule binds both to the same state buffer and the CPU target writes only the inserted
/// rows (docs/dispatch.md, "State").
std::optional<unsigned> tiedOperand(mlir::func::FuncOp dispatch, unsigned result);

/// One buffer of an outlined entry point.
struct Buffer {
  /// State: caller-owned tensors (kiln.state, a KV cache) read and written in place.
  enum Kind { Input, Parameter, Output, Temporary, State } kind = Input;
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;
  int64_t bytes = 0;
  /// Temporaries: the first and last dispatch (indices into Schedule::dispatches) using it.
  unsigned first = 0, last = 0;
  /// Temporaries: the offset in the arena (after planArena).
  int64_t offset = 0;
};

/// Bytes `[offset, offset + bytes)` of a buffer.
struct ByteRange {
  int64_t offset = 0, bytes = 0;
  bool operator==(const ByteRange &other) const {
    return offset == other.offset && bytes == other.bytes;
  }
};

/// What a dispatch operand or result binds: a buffer (an index into Schedule::buffers), or one
/// layer of a state buffer (the bytes of a `[l, ...]` slab: every layer's dispatch is then the
/// same function).
struct Binding {
  unsigned buffer = 0;
  /// The layer's bytes; none: the whole buffer.
  std::optional<ByteRange> range;
  bool operator==(const Binding &other) const {
    return buffer == other.buffer && range == other.range;
  }
};

/// One call of a dispatch: its operands, then its results (the ABI order of the CPU target:
/// inputs, then results written in place).
struct DispatchStep {
  std::string dispatch;
  std::vector<Binding> operands, results;
};

struct Schedule {
  std::string entryPoint;
  /// The sizes the entry point was specialized to (kiln_static_dims), in attribute order.
  std::vector<std::pair<std::string, int64_t>> staticDims;
  std::vector<Buffer> buffers;
  std::vector<DispatchStep> dispatches;
  /// Bytes of the arena holding every temporary (after planArena).
  int64_t arenaBytes = 0;
};

/// The schedule of an entry point cut by formDispatches. Fails (with an error on `entry`) on
/// ops other than calls, views, parameter references and constants, or an output that no
/// dispatch writes.
mlir::FailureOr<Schedule> buildSchedule(mlir::func::FuncOp entry);

/// Assigns each temporary an offset in one arena so that temporaries whose live ranges
/// overlap (inclusive: a dispatch never reads and writes the same bytes) do not overlap in
/// memory: largest first, lowest fitting offset. Sets Schedule::arenaBytes.
void planArena(Schedule &schedule, int64_t alignment = 64);

/// The sum of the temporaries' sizes (the arena size without reuse).
int64_t temporaryBytes(const Schedule &schedule);

/// The schedule as JSON (docs/artifact.md "Schedules", with the planned `temporary` kind).
std::string scheduleToJson(const Schedule &schedule);

} // namespace kiln::dispatch

#endif // KILN_DISPATCH_DISPATCH_H
