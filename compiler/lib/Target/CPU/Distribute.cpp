//===- Distribute.cpp - Workgroups of a dispatch as a loop range ----------===//
//
// The schedule tiles a dispatch's root into an scf.forall whose iterations are independent
// workgroups. The dispatch ABI (docs/hal.md) calls the dispatch with a range [wg_begin, wg_end)
// of linearized workgroup ids, so the forall becomes
//
//   scf.for %wg = %wg_begin to %wg_end { %i, %j = delinearize(%wg); <tile body> }
//
// and the workgroup count (the forall's trip counts) is recorded for the runtime. A dispatch
// without a forall has one workgroup. The two index arguments are appended to the function.
// A schedule that cuts a dispatch into independent parts (a matmul split along N into a
// divisible part and its ragged edge) marks it; each part then gets its own workgroups, and
// workgroup `wg` runs the part whose range [first, first + count) holds it.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"
#include "Schedules.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace kiln::cpu {

/// Emits one segment's work for linearized workgroup `id` (relative to the segment): a forall's
/// body with its indices delinearized from `id` (row-major, the last dimension fastest), or the
/// ops of a run moved here (such a segment has one workgroup).
static void emitSegment(OpBuilder &b, scf::ForallOp forall, ArrayRef<Operation *> ops,
                        Value id) {
  if (!forall) {
    for (Operation *op : ops)
      op->moveBefore(b.getInsertionBlock(), b.getInsertionPoint());
    return;
  }
  Location floc = forall.getLoc();
  SmallVector<int64_t> lbs = *getConstantIntValues(forall.getMixedLowerBound());
  SmallVector<int64_t> ubs = *getConstantIntValues(forall.getMixedUpperBound());
  SmallVector<int64_t> steps = *getConstantIntValues(forall.getMixedStep());
  SmallVector<int64_t> counts;
  for (auto [lb, ub, step] : llvm::zip(lbs, ubs, steps))
    counts.push_back(std::max<int64_t>(0, (ub - lb + step - 1) / step));
  IRMapping map;
  Value rest = id;
  SmallVector<Value> ids(counts.size());
  for (int d = counts.size() - 1; d >= 0; --d) {
    Value count = b.create<arith::ConstantIndexOp>(floc, counts[d]);
    ids[d] = d == 0 ? rest : b.create<arith::RemUIOp>(floc, rest, count).getResult();
    if (d > 0)
      rest = b.create<arith::DivUIOp>(floc, rest, count);
  }
  for (auto [d, iv] : llvm::enumerate(forall.getInductionVars())) {
    Value v = ids[d];
    if (steps[d] != 1)
      v = b.create<arith::MulIOp>(floc, v, b.create<arith::ConstantIndexOp>(floc, steps[d]));
    if (lbs[d] != 0)
      v = b.create<arith::AddIOp>(floc, v, b.create<arith::ConstantIndexOp>(floc, lbs[d]));
    map.map(iv, v);
  }
  for (Operation &op : forall.getBody()->without_terminator())
    b.clone(op, map);
}

static LogicalResult distributeFunction(func::FuncOp func, DispatchInfo &info) {
  Block &entry = func.getBody().front();
  MLIRContext *ctx = func.getContext();
  Location loc = func.getLoc();
  Type index = IndexType::get(ctx);
  BlockArgument begin = entry.addArgument(index, loc);
  BlockArgument end = entry.addArgument(index, loc);
  SmallVector<Type> inputs(func.getFunctionType().getInputs());
  for (Type t : inputs) {
    auto memref = cast<MemRefType>(t);
    info.bufferShapes.emplace_back(memref.getShape().begin(), memref.getShape().end());
    info.bufferElementBytes.push_back((memref.getElementTypeBitWidth() + 7) / 8);
  }
  inputs.append({index, index});
  func.setFunctionType(FunctionType::get(ctx, inputs, {}));

  // Segments of the dispatch: each top-level scf.forall, and each run of other ops with side
  // effects between them, with the side-effect-free ops that compute on what the run read (the
  // vector math of an epilogue between its loads and its store). Constants, views and stack
  // buffers stay where they are.
  struct Segment {
    scf::ForallOp forall;
    SmallVector<Operation *> ops;
    SmallVector<int64_t> counts;
    int64_t total = 1;
  };
  SmallVector<Segment> segments;
  for (Operation &op : entry.without_terminator()) {
    if (auto forall = dyn_cast<scf::ForallOp>(op)) {
      segments.push_back({forall});
      continue;
    }
    bool openRun = !segments.empty() && !segments.back().forall;
    bool usesRun = openRun && llvm::any_of(op.getOperands(), [&](Value v) {
                     Operation *def = v.getDefiningOp();
                     return def && llvm::is_contained(segments.back().ops, def);
                   });
    if ((isa<memref::AllocaOp>(op) || isMemoryEffectFree(&op)) && !usesRun)
      continue;
    if (!openRun)
      segments.push_back({});
    segments.back().ops.push_back(&op);
  }
  // Workgroups may split only when the forall is the dispatch's only computation (anything else
  // with side effects at the top level would run once per workgroup range), or when the schedule
  // marked the segments as independent (the parts of a matmul split along N): then each segment
  // gets its own workgroups, one per forall iteration and one for a run of other ops.
  bool independent = func->hasAttr(kIndependentSegmentsAttr);
  func->removeAttr(kIndependentSegmentsAttr);
  if (segments.empty() || (segments.size() > 1 && !independent))
    return success();
  if (segments.size() == 1 && !segments.front().forall)
    return success();
  for (Segment &seg : segments) {
    if (!seg.forall)
      continue;
    scf::ForallOp forall = seg.forall;
    if (forall.getNumResults() != 0)
      return forall.emitError("internal error: workgroup loop was not bufferized");
    std::optional<SmallVector<int64_t>> lbs = getConstantIntValues(forall.getMixedLowerBound());
    std::optional<SmallVector<int64_t>> ubs = getConstantIntValues(forall.getMixedUpperBound());
    std::optional<SmallVector<int64_t>> steps = getConstantIntValues(forall.getMixedStep());
    if (!lbs || !ubs || !steps || forall.getRank() > 3)
      return success();
    for (auto [lb, ub, step] : llvm::zip(*lbs, *ubs, *steps)) {
      seg.counts.push_back(std::max<int64_t>(0, (ub - lb + step - 1) / step));
      seg.total *= seg.counts.back();
    }
  }
  // Ops moved into a segment must not define values used elsewhere.
  for (Segment &seg : segments)
    for (Operation *op : seg.ops)
      for (Value v : op->getResults())
        for (Operation *user : v.getUsers())
          if (!llvm::any_of(seg.ops, [&](Operation *o) { return o->isAncestor(user); }))
            return success();
  int64_t total = 0;
  for (Segment &seg : segments)
    total += seg.total;
  if (total == 0 || total > std::numeric_limits<uint32_t>::max())
    return func.emitError("workgroup count out of range: ") << total;

  Operation *anchor = segments.back().forall ? segments.back().forall.getOperation()
                                             : segments.back().ops.back();
  OpBuilder b(anchor->getContext());
  b.setInsertionPointAfter(anchor);
  Location floc = anchor->getLoc();
  Value one = b.create<arith::ConstantIndexOp>(floc, 1);
  auto loop = b.create<scf::ForOp>(floc, begin, end, one);
  b.setInsertionPointToStart(loop.getBody());
  Value wg = loop.getInductionVar();
  int64_t first = 0;
  for (auto [i, seg] : llvm::enumerate(segments)) {
    // Workgroups [first, first + seg.total) run this segment.
    Value local = wg;
    if (first != 0)
      local = b.create<arith::SubIOp>(floc, wg, b.create<arith::ConstantIndexOp>(floc, first));
    if (i + 1 < segments.size()) {
      Value in = b.create<arith::CmpIOp>(
          floc, arith::CmpIPredicate::ult, wg,
          b.create<arith::ConstantIndexOp>(floc, first + seg.total));
      auto branch = b.create<scf::IfOp>(floc, in, /*withElseRegion=*/true);
      b.setInsertionPointToStart(branch.thenBlock());
      emitSegment(b, seg.forall, seg.ops, local);
      // The remaining segments nest in the else branch.
      b.setInsertionPointToStart(branch.elseBlock());
      first += seg.total;
      continue;
    }
    emitSegment(b, seg.forall, seg.ops, local);
  }
  for (Segment &seg : segments)
    if (seg.forall)
      seg.forall.erase();

  if (segments.size() == 1) {
    ArrayRef<int64_t> counts = segments.front().counts;
    for (size_t d = 0; d < counts.size(); ++d)
      info.workgroupCount[d] = static_cast<uint32_t>(counts[counts.size() - 1 - d]);
  } else {
    info.workgroupCount = {static_cast<uint32_t>(total), 1, 1};
  }
  // Linearized x * y * z equals `total`; x is the fastest-varying dimension.
  return success();
}

LogicalResult distributeWorkgroups(ModuleOp module, std::vector<DispatchInfo> &infos) {
  for (auto func : module.getOps<func::FuncOp>()) {
    DispatchInfo info;
    info.name = func.getSymName().str();
    if (auto level = func->getAttrOfType<IntegerAttr>(kMaxOptLevelAttr)) {
      info.maxOptLevel = static_cast<unsigned>(level.getInt());
      func->removeAttr(kMaxOptLevelAttr);
    }
    if (failed(distributeFunction(func, info)))
      return failure();
    infos.push_back(std::move(info));
  }
  return success();
}

} // namespace kiln::cpu
