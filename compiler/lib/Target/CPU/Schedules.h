//===- Schedules.h - Schedules of the CPU target (internal) ---------------===//
//
// The schedules of Schedule.cpp's dispatch kinds that live in their own files, and the helper
// that applies a transform script to one dispatch.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TARGET_CPU_SCHEDULES_H
#define KILN_TARGET_CPU_SCHEDULES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

namespace kiln::cpu {

/// A dispatch function attribute set by a schedule: the dispatch's top-level parts (each
/// scf.forall, each run of other ops between them) are independent, so distribution may give
/// each its own workgroups (Distribute.cpp). Not `kiln.`-prefixed: the kiln dialect verifies
/// those names.
constexpr llvm::StringLiteral kIndependentSegmentsAttr = "kiln_cpu_independent_segments";

/// Markers a schedule puts on a dispatch's ops for its transform script to match: the op whose
/// loops are tiled into workgroups (the store's producer) and the accumulator's fill.
constexpr llvm::StringLiteral kRootAttr = "kiln.cpu.root";
constexpr llvm::StringLiteral kFillAttr = "kiln.cpu.fill";

/// Parses `script` (a module with `@__transform_main`) and applies it to `func`; prints it to
/// stderr first when `dump` is set.
mlir::LogicalResult applySchedule(mlir::func::FuncOp func, llvm::StringRef script, bool dump);

/// Batched contractions (ScheduleContraction.cpp): a dispatch whose one store is a
/// linalg contraction with batch dimensions (attention's scores QK^T and weighted sum PV),
/// optionally through one elementwise epilogue (scale + mask, division by the row sum), is
/// tiled into batch x row-tile workgroups and vectorized. Sets `scheduled` when it matched.
mlir::LogicalResult scheduleBatchedContraction(mlir::func::FuncOp func, unsigned vectorBits,
                                               bool dump, bool &scheduled);

} // namespace kiln::cpu

#endif // KILN_TARGET_CPU_SCHEDULES_H
