//===- Schedules.h - Schedules of the CPU target (internal) ---------------===//
//
// The schedules of Schedule.cpp's dispatch kinds that live in their own files, and the helpers
// that write a transform script and apply it to one dispatch.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TARGET_CPU_SCHEDULES_H
#define KILN_TARGET_CPU_SCHEDULES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <optional>
#include <string>

namespace kiln::cpu {

/// A dispatch function attribute set by a schedule: the dispatch's top-level parts (each
/// scf.forall, each run of other ops between them) are independent, so distribution may give
/// each its own workgroups (Distribute.cpp). Not `kiln.`-prefixed: the kiln dialect verifies
/// those names.
constexpr llvm::StringLiteral kIndependentSegmentsAttr = "kiln_cpu_independent_segments";

/// A dispatch function attribute set by a schedule: the highest LLVM optimization level worth
/// its compile time for this dispatch (DispatchInfo::maxOptLevel).
constexpr llvm::StringLiteral kMaxOptLevelAttr = "kiln_cpu_max_opt_level";

/// Markers a schedule puts on a dispatch's ops for its transform script to match: the op whose
/// loops are tiled into workgroups (the store's producer) and the accumulator's fill.
constexpr llvm::StringLiteral kRootAttr = "kiln.cpu.root";
constexpr llvm::StringLiteral kFillAttr = "kiln.cpu.fill";

/// Removes the `kiln.cpu.*` markers a schedule put on `func`'s ops for its transform script.
void stripScheduleMarkers(mlir::func::FuncOp func);

/// Parses `script` (a module with `@__transform_main`) and applies it to `func`; prints it to
/// stderr first when `dump` is set.
mlir::LogicalResult applySchedule(mlir::func::FuncOp func, llvm::StringRef script, bool dump);

/// A transform script: a module whose `@__transform_main(%f)` runs `body` (lines of transform
/// ops on the dispatch function `%f`, each indented by two spaces and ending in a newline) and
/// yields.
std::string transformScript(llvm::StringRef body);
/// The script line `  <result> = transform.structured.match attributes{<attr>} in <in> ...`:
/// the ops under `in` (by default the whole dispatch) that carry the marker `attr`.
std::string matchAttr(llvm::StringRef result, llvm::StringRef attr, llvm::StringRef in = "%f");

//===----------------------------------------------------------------------===//
// Matmul dispatches (Schedule.cpp), shared with the dot-product schedule
//===----------------------------------------------------------------------===//

constexpr llvm::StringLiteral kMatmulAttr = "kiln.cpu.matmul";
constexpr llvm::StringLiteral kTransposeAttr = "kiln.cpu.transpose";
/// Transposed-weight matmuls with at most this many rows run as dot products.
constexpr int64_t kMaxMatvecRows = 4;

/// The ops of a matmul dispatch: `store(epilogue?(matmul(A, transpose?(W), fill?)))`.
struct MatmulDispatch {
  /// linalg.matmul (the tiled schedule) or linalg.matmul_transpose_b (dot products).
  mlir::linalg::LinalgOp matmul;
  mlir::linalg::LinalgOp fill; // the accumulator's initial value; may be null
  /// B = transpose(W) (weights stored [N, K]) or copy(W): the weight panel packed per
  /// workgroup; may be null.
  mlir::linalg::LinalgOp transpose;
  /// Elementwise on the matmul's result (a linalg.generic, or a named op such as linalg.add
  /// that a generic was specialized to); may be null.
  mlir::linalg::LinalgOp epilogue;
  int64_t m = 0, n = 0, k = 0;
};

/// The elementwise epilogue `stored` of a contraction whose result `product` it reads directly,
/// through an identity map (bias, bias + GELU, residual add); null if it is not one.
mlir::linalg::LinalgOp matchEpilogue(mlir::Operation *stored, mlir::Value product);
/// Cuts a matmul dispatch along N into two independent parts with static shapes, the columns
/// [0, n0) and [n0, N).
mlir::FailureOr<std::array<MatmulDispatch, 2>> splitAlongN(mlir::func::FuncOp func,
                                                           MatmulDispatch d, int64_t n0);
/// Marks the ops of one part of a matmul dispatch for its transform script; `sfx` is the
/// part's suffix (see withSuffix).
void markMatmulOps(MatmulDispatch d, llvm::StringRef sfx);
/// Appends `sfx` to every SSA name but %f and to every matched attribute of a schedule body, so
/// that the schedules of several parts of one dispatch can share one script.
std::string withSuffix(llvm::StringRef body, llvm::StringRef sfx);

/// Dot products (ScheduleMatvec.cpp): a dispatch whose one store is
/// `epilogue?(matmul_transpose_b(A, W, fill?))` with at most kMaxMatvecRows rows (decode's
/// projections and lm head) is cut into workgroups of weight rows and vectorized along K.
/// Sets `scheduled` when it matched.
mlir::LogicalResult scheduleMatvec(mlir::func::FuncOp func, unsigned vectorBits, bool dump,
                                   bool &scheduled);

/// Batched contractions (ScheduleContraction.cpp): a dispatch whose one store is a
/// linalg contraction with batch dimensions (attention's scores QK^T and weighted sum PV),
/// optionally through one elementwise epilogue (scale + mask, division by the row sum), is
/// tiled into batch x row-tile workgroups and vectorized. Sets `scheduled` when it matched.
mlir::LogicalResult scheduleBatchedContraction(mlir::func::FuncOp func, unsigned vectorBits,
                                               bool dump, bool &scheduled);

/// Norms (ScheduleNorm.cpp): a dispatch whose ops are row reductions over the last dimension
/// (mean, variance, mean of squares) and elementwise ops reading rows, per-row statistics and
/// per-column parameters (layer norm, RMS norm) gets one workgroup per row, every op fused into
/// it, and each op vectorized along the row in chunks. Sets `scheduled` when it matched.
mlir::LogicalResult scheduleNorm(mlir::func::FuncOp func, unsigned vectorBits, bool dump,
                                 bool &scheduled);

/// Attention softmax statistics (ScheduleSoftmax.cpp): the dispatch of a position-bounded
/// attention's row max, exp and row sum (every generic marked with the key bound on its last
/// loop) gets each generic tiled along the key loop in vector-width tiles, the tile loops
/// stopped at the key bound, and vectorized. Only that dispatch: it is not a general
/// row-reduction schedule. Sets `scheduled` when it matched.
mlir::LogicalResult scheduleSoftmax(mlir::func::FuncOp func, unsigned vectorBits, bool dump,
                                    bool &scheduled);

//===----------------------------------------------------------------------===//
// Run-time key bounds of attention (BoundLoops.cpp)
//===----------------------------------------------------------------------===//

/// On an scf.for a schedule made over a key dimension: an i64 granule, a multiple of the step.
constexpr llvm::StringLiteral kKeyLoopAttr = "kiln.cpu.key_loop";
/// On the op defining the key bound L while a schedule runs.
constexpr llvm::StringLiteral kKeyBoundAttr = "kiln.cpu.key_bound";

/// The key bound mark of a generic (LowerAttention.cpp): `arith.cmpi ult, (linalg.index
/// loop), bound` in its body, with `bound` defined outside it.
struct KeyBound {
  unsigned loop;
  mlir::Value bound;
};
std::optional<KeyBound> findKeyBound(mlir::linalg::GenericOp op);

/// Marks the op defining `bound` so that `takeKeyBound` finds it after a transform script
/// ran; returns null when `bound` is a block argument.
mlir::Value markKeyBound(mlir::Value bound);
mlir::Value takeKeyBound(mlir::func::FuncOp func);

/// Stops every scf.for marked kKeyLoopAttr (lower bound 0) at
/// min(upper bound, roundUp(bound, granule)); `count` = loops bounded.
mlir::LogicalResult boundKeyLoops(mlir::func::FuncOp func, mlir::Value bound, unsigned &count);

/// Moves the scalar reads (tensor.extract) and index arithmetic at the top level that only the
/// dispatch's one scf.forall uses into it, so that the forall stays the dispatch's only segment
/// with side effects and splits into workgroups.
void sinkScalarReadsIntoWorkgroups(mlir::func::FuncOp func);

} // namespace kiln::cpu

#endif // KILN_TARGET_CPU_SCHEDULES_H
