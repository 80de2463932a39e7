//===- ScheduleNorm.cpp - Row-parallel schedule of norm dispatches --------===//
//
// A norm dispatch (layer norm: row mean, centred values, row variance, affine; RMS norm: row
// mean of squares, scale) is a chain of row-wise ops over [rows..., D]: reductions over the last
// dimension into per-row statistics, and elementwise ops that read full rows, per-row statistics
// or per-column parameters. Each row is independent, so the stored op is tiled into one
// workgroup per row (scf.forall over the leading dimensions) and every other op of the chain is
// fused into it; inside a workgroup each op runs along the row in chunks of vector registers
// (reductions accumulate one chunk at a time), vectorized. A decode row ([1, 1, D]) is one
// workgroup, vectorized the same way.
//
//===----------------------------------------------------------------------===//
#include "Schedules.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::cpu {
namespace {

/// Marks the ops of the row chain that run along the row (rank-R iteration spaces).
constexpr StringLiteral kRowOpAttr = "kiln.cpu.row_op";
/// Marks the ops fused into each row's workgroup: the chain's ops but the stored one, and the
/// fills of the per-row statistics.
constexpr StringLiteral kProducerAttr = "kiln.cpu.row_producer";

/// Whether `map` reads, from an iteration space of `rank` loops, a full row (identity), a per-row
/// value (the leading rank - 1 loops, in order) or a per-column value (the last loop only).
bool isRowAccess(AffineMap map, unsigned rank) {
  if (map.getNumDims() != rank || !map.isProjectedPermutation())
    return false;
  if (map.isIdentity())
    return true;
  if (map.getNumResults() == 1 && map.getDimPosition(0) == rank - 1)
    return true;
  if (map.getNumResults() != rank - 1)
    return false;
  for (unsigned i = 0; i + 1 < rank; ++i)
    if (map.getDimPosition(i) != i)
      return false;
  return true;
}

/// An op of a row chain over `rank` loops: elementwise (all parallel, identity output), or a
/// reduction of the last loop into a per-row output. Sets `reduction`.
bool isRowOp(linalg::LinalgOp op, unsigned rank, bool &reduction) {
  if (!op.hasPureTensorSemantics() || op.getNumLoops() != rank || op.getNumDpsInits() != 1 ||
      op->getNumResults() != 1)
    return false;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned i = 0; i + 1 < rank; ++i)
    if (iterators[i] != utils::IteratorType::parallel)
      return false;
  reduction = iterators.back() == utils::IteratorType::reduction;
  AffineMap out = op.getIndexingMapsArray().back();
  if (reduction ? out.getNumResults() != rank - 1 || !isRowAccess(out, rank)
                : !out.isIdentity())
    return false;
  for (OpOperand *in : op.getDpsInputOperands())
    if (!isRowAccess(op.getMatchingIndexingMap(in), rank))
      return false;
  return true;
}

} // namespace

LogicalResult scheduleNorm(func::FuncOp func, unsigned vectorBits, bool dump, bool &scheduled) {
  scheduled = false;
  SmallVector<bufferization::MaterializeInDestinationOp> stores;
  func.walk([&](bufferization::MaterializeInDestinationOp op) { stores.push_back(op); });
  if (stores.size() != 1)
    return success();
  auto root = stores.front().getSource().getDefiningOp<linalg::LinalgOp>();
  if (!root || root.getNumLoops() < 2 || root.getNumReductionLoops() != 0)
    return success();
  unsigned rank = root.getNumLoops();
  SmallVector<int64_t> ranges = root.getStaticLoopRanges();
  if (ShapedType::isDynamicShape(ranges))
    return success();
  int64_t d = ranges.back();
  // Every structured op is a row op of the same rank (at least one of them a row reduction:
  // anything else is a plain elementwise dispatch) or a fill of a per-row statistic.
  SmallVector<linalg::LinalgOp> rowOps, inits;
  bool anyReduction = false, ok = true;
  func.walk([&](linalg::LinalgOp op) {
    if (auto fill = dyn_cast<linalg::FillOp>(op.getOperation())) {
      auto type = dyn_cast<RankedTensorType>(fill.getResult(0).getType());
      if (!type || type.getRank() != rank - 1)
        ok = false;
      inits.push_back(op);
      return;
    }
    bool reduction = false;
    if (!isRowOp(op, rank, reduction)) {
      ok = false;
      return;
    }
    anyReduction |= reduction;
    rowOps.push_back(op);
  });
  if (!ok || !anyReduction)
    return success();

  // A fill read by several statistics is cloned per use, so that each workgroup fuses its own.
  IRRewriter rewriter(func.getContext());
  SmallVector<linalg::LinalgOp> allInits = inits;
  for (linalg::LinalgOp init : inits) {
    SmallVector<OpOperand *> uses;
    for (OpOperand &use : init->getResult(0).getUses())
      uses.push_back(&use);
    for (OpOperand *use : llvm::drop_begin(uses)) {
      rewriter.setInsertionPoint(init);
      Operation *clone = rewriter.clone(*init);
      use->set(clone->getResult(0));
      allInits.push_back(cast<linalg::LinalgOp>(clone));
    }
  }

  // Chunk along the row: 4 vector registers, else one, else the row is left as loops.
  int64_t lanes = vectorBits / 32;
  int64_t chunk = d % (4 * lanes) == 0 ? 4 * lanes : d % lanes == 0 ? lanes : 0;
  if (chunk >= d)
    chunk = 0; // one chunk: the row is vectorized as it is
  bool vectorize = d % lanes == 0 && d <= 64 * 1024;
  UnitAttr unit = UnitAttr::get(func.getContext());
  SmallVector<Operation *> producers;
  for (linalg::LinalgOp op : rowOps) {
    op->setAttr(kRowOpAttr, unit);
    if (op != root)
      producers.push_back(op);
  }
  for (linalg::LinalgOp op : allInits)
    producers.push_back(op);
  for (Operation *op : producers)
    if (op->getBlock() != root->getBlock())
      return success();
  // Consumers first: each producer is fused once all its readers are in the workgroup, into
  // each of them (a value read twice, layer norm's centred row, is computed twice per row).
  llvm::sort(producers, [](Operation *a, Operation *b) { return b->isBeforeInBlock(a); });
  for (auto [i, op] : llvm::enumerate(producers))
    op->setAttr((kProducerAttr + "_" + std::to_string(i)).str(), unit);
  root->setAttr(kRootAttr, unit);

  std::string s;
  llvm::raw_string_ostream os(s);
  os << matchAttr("%root", kRootAttr)
     << "  %t0, %wg = transform.structured.tile_using_forall %root tile_sizes [";
  for (unsigned i = 0; i + 1 < rank; ++i)
    os << "1, ";
  os << "0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  std::string wg = "%wg";
  for (size_t i = 0; i < producers.size(); ++i) {
    std::string next = "%wg_" + std::to_string(i);
    os << matchAttr("%p_" + std::to_string(i), (kProducerAttr + "_" + std::to_string(i)).str())
       << "  %fused_" << i << ", " << next << " = transform.structured.fuse_into_containing_op %p_"
       << i << " into " << wg
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    wg = next;
  }
  if (vectorize) {
    os << matchAttr("%rows", kRowOpAttr, wg);
    std::string rows = "%rows";
    if (chunk) {
      os << "  %chunks, %lc = transform.structured.tile_using_for %rows tile_sizes [";
      for (unsigned i = 0; i + 1 < rank; ++i)
        os << "0, ";
      os << chunk << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
      rows = "%chunks";
    }
    os << "  transform.structured.vectorize " << rows << " : !transform.any_op\n";
  }
  os << "  transform.apply_patterns to %f {\n"
        "    transform.apply_patterns.tensor.fold_tensor_empty\n"
        "    transform.apply_patterns.vector.transfer_permutation_patterns\n"
        "    transform.apply_patterns.canonicalization\n"
        "  } : !transform.any_op\n";
  if (failed(applySchedule(func, transformScript(s), dump)))
    return failure();
  stripScheduleMarkers(func);
  scheduled = true;
  return success();
}

} // namespace kiln::cpu
