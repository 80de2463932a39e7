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
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace kiln::cpu {

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

  SmallVector<scf::ForallOp> foralls;
  for (Operation &op : entry)
    if (auto forall = dyn_cast<scf::ForallOp>(op))
      foralls.push_back(forall);
  if (foralls.size() != 1)
    return success(); // One workgroup; any forall runs as a sequential loop.

  // Workgroups may split only when the forall is the dispatch's only computation: anything
  // else with side effects at the top level would run once per workgroup range.
  for (Operation &op : entry) {
    if (isa<scf::ForallOp, func::ReturnOp, memref::AllocaOp>(op) || isMemoryEffectFree(&op))
      continue;
    return success();
  }
  scf::ForallOp forall = foralls.front();
  if (forall.getNumResults() != 0)
    return forall.emitError("internal error: workgroup loop was not bufferized");
  std::optional<SmallVector<int64_t>> lbs = getConstantIntValues(forall.getMixedLowerBound());
  std::optional<SmallVector<int64_t>> ubs = getConstantIntValues(forall.getMixedUpperBound());
  std::optional<SmallVector<int64_t>> steps = getConstantIntValues(forall.getMixedStep());
  if (!lbs || !ubs || !steps || forall.getRank() > 3)
    return success();
  SmallVector<int64_t> counts;
  int64_t total = 1;
  for (auto [lb, ub, step] : llvm::zip(*lbs, *ubs, *steps)) {
    counts.push_back(std::max<int64_t>(0, (ub - lb + step - 1) / step));
    total *= counts.back();
  }
  if (total == 0 || total > std::numeric_limits<uint32_t>::max())
    return forall.emitError("workgroup count out of range: ") << total;

  OpBuilder b(forall);
  Location floc = forall.getLoc();
  Value one = b.create<arith::ConstantIndexOp>(floc, 1);
  auto loop = b.create<scf::ForOp>(floc, begin, end, one);
  b.setInsertionPointToStart(loop.getBody());
  // Row-major delinearization: the last forall dimension varies fastest.
  IRMapping map;
  Value rest = loop.getInductionVar();
  SmallVector<Value> ids(counts.size());
  for (int d = counts.size() - 1; d >= 0; --d) {
    Value count = b.create<arith::ConstantIndexOp>(floc, counts[d]);
    ids[d] = d == 0 ? rest : b.create<arith::RemUIOp>(floc, rest, count).getResult();
    if (d > 0)
      rest = b.create<arith::DivUIOp>(floc, rest, count);
  }
  for (auto [d, iv] : llvm::enumerate(forall.getInductionVars())) {
    Value id = ids[d];
    if ((*steps)[d] != 1)
      id = b.create<arith::MulIOp>(floc, id,
                                   b.create<arith::ConstantIndexOp>(floc, (*steps)[d]));
    if ((*lbs)[d] != 0)
      id = b.create<arith::AddIOp>(floc, id,
                                   b.create<arith::ConstantIndexOp>(floc, (*lbs)[d]));
    map.map(iv, id);
  }
  for (Operation &op : forall.getBody()->without_terminator())
    b.clone(op, map);
  forall.erase();

  for (size_t d = 0; d < counts.size(); ++d)
    info.workgroupCount[d] = static_cast<uint32_t>(counts[counts.size() - 1 - d]);
  // Linearized x * y * z equals `total`; x is the fastest-varying dimension.
  return success();
}

LogicalResult distributeWorkgroups(ModuleOp module, std::vector<DispatchInfo> &infos) {
  for (auto func : module.getOps<func::FuncOp>()) {
    DispatchInfo info;
    info.name = func.getSymName().str();
    if (failed(distributeFunction(func, info)))
      return failure();
    infos.push_back(std::move(info));
  }
  return success();
}

} // namespace kiln::cpu
