//===- ScheduleMatvec.cpp - Dot-product schedule of decode's matmuls ------===//
//
// Decode multiplies one to four rows of activations by weights stored [N, K] (the projections
// and the lm head against the tied embedding: `matmul_transpose_b`). Each output is a dot
// product of two contiguous rows, the weights are read once, and the kernel is bound by how
// fast memory streams them, so the schedule is about the order of the weight reads:
//
// 1. Workgroups of 64 weight rows (scf.forall); a ragged N (the lm head, N = 50257) is cut into
//    the divisible columns and the edge, two independent parts (splitAlongN).
// 2. Eight streams: inside a workgroup, 8 weight rows are read side by side, K tiled by one
//    vector as a partial reduction (`tile_reduction_using_for`): an 8 x lanes accumulator
//    carried across all of K (in registers after bufferization), one load of A serving the 8
//    rows, one horizontal reduction per output at the end.
// 3. Long streams: the 8 rows of a step are not neighbours but 8 rows apart (rows j, j + 8,
//    ..., j + 56 at step j), so each stream walks 8 consecutive rows (24 KiB with K = 768)
//    instead of starting anew every 3 KiB; the hardware prefetchers keep up with long streams
//    only. The step's outputs land interleaved in the workgroup's tile, and one 8 x 8 transpose
//    per workgroup puts them back in order. (A plain C kernel on this machine kind, K = 768:
//    9-9.3 GB/s with neighbouring rows, 11-15 GB/s with rows 8 apart.)
// 4. An elementwise epilogue is the workgroup's root, applied to its M x 64 tile, vectorized
//    along N, as it is stored.
//
// A tile that 8 (4, 2) rows do not divide, a K that is not a multiple of the vector, or an
// accumulator that does not start as a fill, takes one dot product at a time instead: K in
// chunks of 256 (or 128, 64), each chunk multiplied and reduced into the next.
//
// The schedule runs in two transform scripts with a rewrite between them: the first cuts the
// workgroups, the rewrite builds the interleaved step loop (transform ops tile only
// contiguous slices), the second tiles the reduction and vectorizes.
//
//===----------------------------------------------------------------------===//
#include "Schedules.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::cpu {
namespace {

/// The step's matmul (8 weight rows against the activations) inside the interleaved loop.
constexpr StringLiteral kStepAttr = "kiln.cpu.matvec_step";
/// The transpose that puts a workgroup's interleaved outputs back in order.
constexpr StringLiteral kInterleaveAttr = "kiln.cpu.matvec_order";

/// Outputs per workgroup: 64 weight rows (192 KiB of weights with K = 768).
constexpr int64_t kTileN = 64;
/// Weight rows read side by side.
constexpr int64_t kStreams = 8;

/// Recognizes `store(epilogue?(matmul_transpose_b(A, W, fill?)))` with few rows; the epilogue
/// is what `matchEpilogue` accepts.
std::optional<MatmulDispatch> matchMatvec(func::FuncOp func) {
  SmallVector<bufferization::MaterializeInDestinationOp> stores;
  func.walk([&](bufferization::MaterializeInDestinationOp s) { stores.push_back(s); });
  SmallVector<linalg::MatmulTransposeBOp> ops;
  func.walk([&](linalg::MatmulTransposeBOp o) { ops.push_back(o); });
  if (stores.size() != 1 || ops.size() != 1)
    return std::nullopt;
  linalg::MatmulTransposeBOp op = ops.front();
  MatmulDispatch d;
  d.matmul = op;
  Operation *stored = stores.front().getSource().getDefiningOp();
  if (stored != op.getOperation()) {
    d.epilogue = matchEpilogue(stored, op->getResult(0));
    if (!d.epilogue)
      return std::nullopt;
  }
  auto aType = dyn_cast<RankedTensorType>(op.getDpsInputs()[0].getType());
  auto wType = dyn_cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  if (!op.hasPureTensorSemantics() || !aType || !wType || !aType.hasStaticShape() ||
      !wType.hasStaticShape() || !aType.getElementType().isF32() ||
      aType.getDimSize(0) > kMaxMatvecRows)
    return std::nullopt;
  d.m = aType.getDimSize(0);
  d.k = aType.getDimSize(1);
  d.n = wType.getDimSize(0);
  d.fill = op.getDpsInits()[0].getDefiningOp<linalg::LinalgOp>();
  if (d.fill && (!d.fill->getResult(0).hasOneUse() || !d.fill.hasPureTensorSemantics()))
    return std::nullopt;
  return d;
}

/// How one part of a dot-product dispatch is cut.
struct MatvecPlan {
  MatmulDispatch d;
  std::string sfx; // the part's marker suffix
  int64_t tileN;   // outputs per workgroup
  int64_t streams; // weight rows read side by side, 1: one dot product at a time
};

MatvecPlan planMatvec(const MatmulDispatch &d, std::string sfx, int64_t lanes) {
  MatvecPlan p{d, std::move(sfx), std::min(kTileN, d.n), 1};
  bool uniformInit = d.fill && isa<linalg::FillOp>(p.d.fill.getOperation());
  if (d.k % lanes == 0 && d.n % p.tileN == 0 && uniformInit)
    for (int64_t r : {kStreams, kStreams / 2, kStreams / 4})
      if (p.tileN % r == 0) {
        p.streams = r;
        break;
      }
  return p;
}

/// The first script's part: workgroups, with the matmul and its fill fused into each. A part
/// of one stream also gets its whole kernel here.
std::string workgroupScript(const MatvecPlan &p) {
  const MatmulDispatch &d = p.d;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << matchAttr("%root", kRootAttr)
     << "  %t0, %wg = transform.structured.tile_using_forall %root tile_sizes [" << d.m
     << ", " << p.tileN << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  std::string mv = "%t0", wg = "%wg";
  if (d.epilogue) {
    os << matchAttr("%mv", kMatmulAttr)
       << "  %mv0, %wg0 = transform.structured.fuse_into_containing_op %mv into %wg"
          " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    mv = "%mv0";
    wg = "%wg0";
  }
  if (d.fill)
    os << matchAttr("%fill", kFillAttr)
       << "  %fill0, %wg1 = transform.structured.fuse_into_containing_op %fill into " << wg
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  if (p.streams > 1)
    return s;
  int64_t chunk = d.k;
  for (int64_t c : {256, 128, 64})
    if (d.k > c && d.k % c == 0) {
      chunk = c;
      break;
    }
  os << "  %t1, %lm, %ln = transform.structured.tile_using_for " << mv
     << " tile_sizes [1, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
        "!transform.any_op)\n";
  std::string dot = "%t1";
  if (chunk != d.k) {
    os << "  %t2, %lk = transform.structured.tile_using_for %t1 tile_sizes [0, 0, " << chunk
       << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    dot = "%t2";
  }
  os << "  transform.structured.vectorize " << dot << " : !transform.any_op\n";
  // The epilogue tile is static when the workgroups divide N; a ragged edge stays scalar.
  if (d.epilogue && d.n % p.tileN == 0)
    os << "  transform.structured.vectorize %t0 : !transform.any_op\n";
  return s;
}

/// The second script's part for a part of several streams: the step's K as a partial
/// reduction (one row of A at a time), the reordering transpose and the epilogue vectorized.
std::string streamScript(const MatvecPlan &p, int64_t lanes) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << matchAttr("%step", kStepAttr);
  std::string step = "%step";
  if (p.d.m > 1) {
    os << "  %step1, %lm = transform.structured.tile_using_for %step tile_sizes [1]"
          " : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    step = "%step1";
  }
  os << "  %pfill, %partial, %combine, %lk = transform.structured.tile_reduction_using_for "
     << step << " by tile_sizes = [0, 0, " << lanes
     << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
        "!transform.any_op, !transform.any_op)\n"
        "  transform.structured.vectorize %pfill : !transform.any_op\n"
        "  transform.structured.vectorize %partial : !transform.any_op\n"
        "  transform.structured.vectorize %combine : !transform.any_op\n"
     << matchAttr("%order", kInterleaveAttr)
     << "  transform.structured.vectorize %order : !transform.any_op\n";
  if (p.d.epilogue)
    os << matchAttr("%ep", kRootAttr)
       << "  transform.structured.vectorize %ep : !transform.any_op\n";
  return s;
}

std::string script(StringRef body, bool last) {
  if (!last)
    return transformScript(body);
  return transformScript(
      (body + "  transform.apply_patterns to %f {\n"
              "    transform.apply_patterns.tensor.fold_tensor_empty\n"
              "    transform.apply_patterns.vector.lower_contraction lowering_strategy = \"dot\"\n"
              "    transform.apply_patterns.vector.transfer_permutation_patterns\n"
              "    transform.apply_patterns.canonicalization\n"
              "  } : !transform.any_op\n")
          .str());
}

/// Replaces a workgroup's matmul `mv` ([M, K] x [T, K] -> [M, T], T = streams * J) by a loop
/// over J steps; step j multiplies the weight rows j, j + J, ..., j + (streams - 1) J and
/// writes its outputs to columns [j * streams, (j + 1) * streams) of an interleaved tile,
/// which a transpose ([M, J, streams] -> [M, streams, J]) returns to the order of N.
LogicalResult interleaveStreams(linalg::MatmulTransposeBOp mv, const MatvecPlan &p) {
  Location loc = mv.getLoc();
  Value a = mv.getDpsInputs()[0], w = mv.getDpsInputs()[1], init = mv.getDpsInits()[0];
  auto wType = dyn_cast<RankedTensorType>(w.getType());
  auto initType = dyn_cast<RankedTensorType>(init.getType());
  if (!wType || !initType || !wType.hasStaticShape() || !initType.hasStaticShape() ||
      wType.getDimSize(0) != p.tileN)
    return failure();
  int64_t m = initType.getDimSize(0), k = wType.getDimSize(1), streams = p.streams;
  int64_t steps = p.tileN / streams;
  IRRewriter b(mv.getContext());
  b.setInsertionPoint(mv);
  Type f32 = initType.getElementType();
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value count = b.create<arith::ConstantIndexOp>(loc, steps);
  Value width = b.create<arith::ConstantIndexOp>(loc, streams);
  UnitAttr unit = b.getUnitAttr();
  // The init is a fill, the same in any order: the interleaved tile starts from it as it is.
  auto loop = b.create<scf::ForOp>(
      loc, zero, count, one, ValueRange{init},
      [&](OpBuilder &nb, Location l, Value j, ValueRange iter) {
        Value rows = nb.create<tensor::ExtractSliceOp>(
            l, RankedTensorType::get({streams, k}, wType.getElementType()), w,
            ArrayRef<OpFoldResult>{j, nb.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{nb.getIndexAttr(streams), nb.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{nb.getIndexAttr(steps), nb.getIndexAttr(1)});
        Value col = nb.create<arith::MulIOp>(l, j, width);
        SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), col};
        SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(m), nb.getIndexAttr(streams)};
        SmallVector<OpFoldResult> strides = {nb.getIndexAttr(1), nb.getIndexAttr(1)};
        Value acc = nb.create<tensor::ExtractSliceOp>(l, iter[0], offsets, sizes, strides);
        auto step = nb.create<linalg::MatmulTransposeBOp>(l, acc.getType(),
                                                          ValueRange{a, rows}, ValueRange{acc});
        step->setAttr((kStepAttr + p.sfx).str(), unit);
        Value next = nb.create<tensor::InsertSliceOp>(l, step->getResult(0), iter[0], offsets,
                                                      sizes, strides);
        nb.create<scf::YieldOp>(l, next);
      });
  auto split = RankedTensorType::get({m, steps, streams}, f32);
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}};
  Value interleaved =
      b.create<tensor::ExpandShapeOp>(loc, split, loop.getResult(0), groups);
  Value ordered = b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{m, streams, steps}, f32);
  auto order = b.create<linalg::TransposeOp>(loc, interleaved, ordered,
                                             ArrayRef<int64_t>{0, 2, 1});
  order->setAttr((kInterleaveAttr + p.sfx).str(), unit);
  Value result =
      b.create<tensor::CollapseShapeOp>(loc, initType, order->getResult(0), groups);
  b.replaceOp(mv, result);
  return success();
}

} // namespace

LogicalResult scheduleMatvec(func::FuncOp func, unsigned vectorBits, bool dump,
                             bool &scheduled) {
  std::optional<MatmulDispatch> mv = matchMatvec(func);
  if (!mv)
    return success();
  scheduled = true;
  int64_t lanes = vectorBits / 32;
  SmallVector<MatmulDispatch> parts;
  int64_t tileN = std::min(kTileN, mv->n);
  if (mv->n > tileN && mv->n % tileN != 0) {
    FailureOr<std::array<MatmulDispatch, 2>> split =
        splitAlongN(func, *mv, mv->n - mv->n % tileN);
    if (succeeded(split)) {
      func->setAttr(kIndependentSegmentsAttr, UnitAttr::get(func.getContext()));
      parts.append(split->begin(), split->end());
    }
  }
  if (parts.empty())
    parts.push_back(*mv);
  SmallVector<MatvecPlan> plans;
  for (auto [i, part] : llvm::enumerate(parts)) {
    std::string sfx = parts.size() == 1 ? "" : "_" + std::to_string(i);
    markMatmulOps(part, sfx);
    plans.push_back(planMatvec(part, sfx, lanes));
  }
  std::string first, second;
  for (const MatvecPlan &p : plans) {
    first += plans.size() == 1 ? workgroupScript(p) : withSuffix(workgroupScript(p), p.sfx);
    if (p.streams > 1)
      second += plans.size() == 1 ? streamScript(p, lanes)
                                  : withSuffix(streamScript(p, lanes), p.sfx);
  }
  if (failed(applySchedule(func, script(first, /*last=*/false), dump)))
    return failure();
  for (const MatvecPlan &p : plans) {
    if (p.streams == 1)
      continue;
    // The workgroup's matmul kept its marker through tiling and fusion (the original, now
    // dead, too).
    SmallVector<linalg::MatmulTransposeBOp> tiled;
    func.walk([&](linalg::MatmulTransposeBOp op) {
      if (op->hasAttr((kMatmulAttr + p.sfx).str()) && op->getParentOfType<scf::ForallOp>())
        tiled.push_back(op);
    });
    if (tiled.size() != 1 || failed(interleaveStreams(tiled.front(), p)))
      return func.emitError() << "internal error: the dot-product schedule of dispatch '"
                              << func.getSymName() << "' lost its workgroup matmul";
  }
  if (failed(applySchedule(func, script(second, /*last=*/true), dump)))
    return failure();
  stripScheduleMarkers(func);
  return success();
}

} // namespace kiln::cpu
