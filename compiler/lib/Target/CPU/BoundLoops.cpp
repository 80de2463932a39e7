//===- BoundLoops.cpp - Attention loops stopped at the run-time key bound --===//
//
// With a run-time position p, the attention lowering (LowerAttention.cpp) marks every generic
// that runs over the key dimension with `arith.cmpi ult, (linalg.index k), %L` (L = p + S, the
// keys a cache holds after this step) and selects on it, so that each generic is correct
// whatever it reads at j >= L. A schedule that tiles such a key loop annotates the tile loop
// with kKeyLoopAttr; `boundKeyLoops` then stops it at min(capacity, roundUp(L, granule)):
// tiles stay static-sized (vectorization is unchanged) and the tiles beyond L are never
// computed.
//
// `sinkScalarReadsIntoWorkgroups` moves the scalar reads that such bounds (and masks) need into
// the dispatch's workgroup loop: a read left at the top level would be a second segment of
// side effects, and the dispatch would run as one workgroup (Distribute.cpp).
//
//===----------------------------------------------------------------------===//
#include "Schedules.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace kiln::cpu {

std::optional<KeyBound> findKeyBound(linalg::GenericOp op) {
  std::optional<KeyBound> found;
  op.getBody()->walk([&](arith::CmpIOp cmp) {
    if (found || cmp.getPredicate() != arith::CmpIPredicate::ult)
      return;
    auto index = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
    Value bound = cmp.getRhs();
    if (!index || !bound.getType().isIndex() ||
        op->isAncestor(bound.getParentBlock()->getParentOp()))
      return;
    found = KeyBound{static_cast<unsigned>(index.getDim()), bound};
  });
  return found;
}

LogicalResult boundKeyLoops(func::FuncOp func, Value bound, unsigned &count) {
  count = 0;
  SmallVector<scf::ForOp> loops;
  func.walk([&](scf::ForOp loop) {
    if (loop->hasAttr(kKeyLoopAttr))
      loops.push_back(loop);
  });
  for (scf::ForOp loop : loops) {
    auto granule = dyn_cast<IntegerAttr>(loop->getAttr(kKeyLoopAttr));
    loop->removeAttr(kKeyLoopAttr);
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound());
    std::optional<int64_t> step = getConstantIntValue(loop.getStep());
    if (!granule || !lb || *lb != 0 || !step || granule.getInt() % *step != 0 ||
        !bound.getParentRegion()->isAncestor(loop->getParentRegion()))
      return loop.emitError("internal error: a key loop cannot be bounded");
    // ub' = min(ub, roundUp(L, granule)).
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    int64_t g = granule.getInt();
    Value limit = bound;
    if (g != 1) {
      Value gv = b.create<arith::ConstantIndexOp>(loc, g);
      Value up = b.create<arith::AddIOp>(loc, bound, b.create<arith::ConstantIndexOp>(loc, g - 1));
      limit = b.create<arith::MulIOp>(loc, b.create<arith::DivUIOp>(loc, up, gv), gv);
    }
    Value ub = b.create<arith::MinUIOp>(loc, loop.getUpperBound(), limit);
    loop.getUpperBoundMutable().assign(ub);
    ++count;
  }
  return success();
}

Value markKeyBound(Value bound) {
  if (Operation *def = bound.getDefiningOp()) {
    def->setAttr(kKeyBoundAttr, UnitAttr::get(bound.getContext()));
    return bound;
  }
  return {};
}

Value takeKeyBound(func::FuncOp func) {
  Value found;
  func.walk([&](Operation *op) {
    if (!op->hasAttr(kKeyBoundAttr))
      return;
    op->removeAttr(kKeyBoundAttr);
    if (!found && op->getNumResults() == 1)
      found = op->getResult(0);
  });
  return found;
}

void sinkScalarReadsIntoWorkgroups(func::FuncOp func) {
  Block &entry = func.getBody().front();
  SmallVector<scf::ForallOp> foralls;
  for (Operation &op : entry)
    if (auto forall = dyn_cast<scf::ForallOp>(op))
      foralls.push_back(forall);
  if (foralls.size() != 1)
    return;
  scf::ForallOp forall = foralls.front();
  // Backwards, so that users move before the values they use and land after them.
  SmallVector<Operation *> candidates;
  for (Operation &op : entry.without_terminator())
    if (op.isBeforeInBlock(forall))
      candidates.push_back(&op);
  for (Operation *op : llvm::reverse(candidates)) {
    if (op->getNumRegions() != 0 || op->getNumResults() == 0 || isa<arith::ConstantOp>(op))
      continue;
    // Scalar reads and the index arithmetic on them only.
    bool scalar = llvm::all_of(op->getResultTypes(),
                               [](Type t) { return t.isIntOrIndexOrFloat(); });
    if (!scalar || !(isa<tensor::ExtractOp>(op) || isMemoryEffectFree(op)))
      continue;
    bool inside = llvm::all_of(op->getUsers(), [&](Operation *user) {
      return forall->isProperAncestor(user);
    });
    if (!inside || op->use_empty())
      continue;
    op->moveBefore(&forall.getBody()->front());
  }
}

} // namespace kiln::cpu
