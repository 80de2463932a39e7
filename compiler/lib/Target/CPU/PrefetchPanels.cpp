//===- PrefetchPanels.cpp - The next weight panel read ahead --------------===//
//
// A matmul workgroup packs a K x T panel of the weights (stored [N, K], one contiguous run of T
// rows) into a stack buffer, then computes on it for much longer. The pack reads the weights
// from memory: a model's weights do not stay in any cache between two prefill chunks, so each
// pack waited on DRAM while the FMA units idled, and the register kernels ran while the memory
// bus idled.
//
// This step spreads prefetches of the next panel (the T rows after this one's) over the
// register kernels' K loops, in proportion to the work: by the time the thread packs the next
// panel, it is in the core's caches. A workgroup that packs one panel per column group (the
// AVX2 schedule) reads the next group's ahead, and its last group the next workgroup's first;
// the runtime hands each thread contiguous runs of workgroups (ThreadPool's guided chunks), so
// the next workgroup is usually this thread's. A prefetch never faults and never changes a
// result; the addresses are kept inside the weights all the same.
//
// Matched after bufferization, in each workgroup loop (scf.forall):
//   * the panel: one static 2-D memref.alloca [K, T] written by vector transfers whose values
//     come from 2-D vector reads of a function argument W : memref<N x K> (the pack);
//   * the register kernels: scf.for loops from 0 to K by 1 whose one loop-carried value is
//     the accumulator vector<R x C> and whose body reads the panel at [k, ...];
//   * the panel's owner: the innermost loop around the pack and every kernel (a column-group
//     loop, or the workgroup itself); the loops between it and a kernel have constant bounds
//     (the register blocks).
// Anything else is left alone.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Threading.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln::cpu {

namespace {

/// The most a workgroup's packed panel and the next workgroup's weights may take together:
/// 384 KiB, within the 512 KiB L2 of the project's Zen 3 machine beside the activations. A
/// 3072 x 32 panel (384 KiB packed; the down projection's before it took column groups) is
/// left alone: reading the next panel ahead evicted the one being computed on and made it
/// slower (bench/README.md, "The next workgroup's weights read ahead").
constexpr int64_t kPrefetchBudgetBytes = 384 * 1024;

/// One register kernel of a workgroup: its K loop, the loops around it inside the workgroup
/// (outermost first) and the work of one iteration of those loops (R x C x K MACs).
struct Kernel {
  scf::ForOp kLoop;
  SmallVector<scf::ForOp> blockLoops;
  int64_t blocks = 1;
  int64_t blockWork = 0;
};

/// `v` computed at the start of `body` (the panel owner's), with the induction variables of the
/// loops inside it at their lower bounds: the first index a loop nest reads.
/// Clones the pure index arithmetic `v` is made of; null when it is anything else.
/// The ops it creates are appended to `created`.
Value atLoopStarts(OpBuilder &b, Value v, Region &body, IRMapping &map,
                   SmallVectorImpl<Operation *> &created) {
  if (Value known = map.lookupOrNull(v))
    return known;
  if (!body.isAncestor(v.getParentRegion()))
    return v; // Defined outside the workgroup (constants, arguments).
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (arg.getOwner() == &body.front())
      return v; // The workgroup id, or the owner loop's induction variable.
    auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
    if (!loop || arg != loop.getInductionVar())
      return Value();
    Value lb = atLoopStarts(b, loop.getLowerBound(), body, map, created);
    if (lb)
      map.map(v, lb);
    return lb;
  }
  Operation *op = v.getDefiningOp();
  if (!isa<affine::AffineApplyOp, arith::AddIOp, arith::MulIOp, arith::SubIOp, arith::ConstantOp>(
          op))
    return Value();
  for (Value operand : op->getOperands())
    if (!atLoopStarts(b, operand, body, map, created))
      return Value();
  Operation *clone = b.clone(*op, map);
  // Fold what became constant (the sum of indices that are all at 0).
  SmallVector<Value, 1> folded;
  if (succeeded(b.tryFold(clone, folded)) && folded.size() == 1) {
    clone->erase();
    if (Operation *def = folded.front().getDefiningOp())
      created.push_back(def);
    map.map(v, folded.front());
    return folded.front();
  }
  created.push_back(clone);
  map.map(v, clone->getResult(0));
  return clone->getResult(0);
}

/// The register kernel whose K loop is `loop`, reading `panel` [K, T]; nullopt if it is not one.
std::optional<Kernel> matchKernel(scf::ForOp loop, Value panel, int64_t k, Operation *owner) {
  if (getConstantIntValue(loop.getLowerBound()) != 0 ||
      getConstantIntValue(loop.getUpperBound()) != k || getConstantIntValue(loop.getStep()) != 1 ||
      loop.getNumRegionIterArgs() != 1)
    return std::nullopt;
  auto acc = dyn_cast<VectorType>(loop.getRegionIterArgs()[0].getType());
  if (!acc || acc.getRank() != 2 || acc.isScalable())
    return std::nullopt;
  bool readsPanel = false;
  loop.getBody()->walk([&](vector::TransferReadOp read) {
    readsPanel |= read.getSource() == panel && read.getIndices()[0] == loop.getInductionVar();
  });
  if (!readsPanel)
    return std::nullopt;
  Kernel kernel;
  kernel.kLoop = loop;
  kernel.blockWork = acc.getNumElements() * k;
  for (Operation *p = loop->getParentOp(); p != owner; p = p->getParentOp()) {
    auto outer = dyn_cast<scf::ForOp>(p);
    if (!outer)
      return std::nullopt;
    std::optional<int64_t> lb = getConstantIntValue(outer.getLowerBound()),
                           ub = getConstantIntValue(outer.getUpperBound()),
                           step = getConstantIntValue(outer.getStep());
    if (!lb || !ub || !step || *step <= 0 || *ub <= *lb)
      return std::nullopt;
    kernel.blockLoops.insert(kernel.blockLoops.begin(), outer);
    kernel.blocks *= (*ub - *lb + *step - 1) / *step;
  }
  return kernel;
}

/// Adds the prefetches to one workgroup loop and returns true; leaves it untouched and returns
/// false if it is not a matmul's.
bool prefetchNextPanel(scf::ForallOp workgroup, func::FuncOp func) {
  // The panel and the weights it is packed from.
  Value panel, weights;
  vector::TransferReadOp panelRead;
  bool ambiguous = false;
  workgroup.getBody()->walk([&](vector::TransferWriteOp write) {
    Value written = write.getSource();
    while (auto view = written.getDefiningOp<memref::SubViewOp>())
      written = view.getSource();
    auto alloca = written.getDefiningOp<memref::AllocaOp>();
    if (!alloca || alloca.getType().getRank() != 2 || !alloca.getType().hasStaticShape())
      return;
    for (Operation &op : *write->getBlock()) {
      auto read = dyn_cast<vector::TransferReadOp>(op);
      auto arg = read ? dyn_cast<BlockArgument>(read.getSource()) : BlockArgument();
      if (!arg || arg.getOwner() != &func.getBody().front() || read.getVectorType().getRank() != 2)
        continue;
      if ((panel && panel != written) || (weights && weights != arg))
        ambiguous = true;
      panel = written;
      weights = arg;
      panelRead = read;
    }
  });
  if (!panel || ambiguous)
    return false;
  auto panelType = cast<MemRefType>(panel.getType());
  auto weightsType = dyn_cast<MemRefType>(weights.getType());
  // Weights stored [N, K]: a panel is T whole rows, one contiguous run.
  int64_t k = panelType.getDimSize(0), t = panelType.getDimSize(1);
  if (!weightsType || weightsType.getRank() != 2 || !weightsType.hasStaticShape() ||
      !weightsType.getLayout().isIdentity() || weightsType.getDimSize(1) != k ||
      weightsType.getDimSize(0) < t)
    return false;
  int64_t n = weightsType.getDimSize(0);
  // The next panel's weights must fit in L2 beside this workgroup's packed panel, which the
  // register kernels keep re-reading.
  int64_t elementBytes = std::max<int64_t>(1, weightsType.getElementTypeBitWidth() / 8);
  int64_t nextBytes = k * t * elementBytes;
  int64_t panelBytes = k * t * panelType.getElementTypeBitWidth() / 8;
  if (panelBytes + nextBytes > kPrefetchBudgetBytes)
    return false;

  // The loops that compute on the panel, and the innermost op around all of them and the pack
  // (the workgroup, or a loop over column groups that packs a panel per group): the panel's
  // owner. Its body is where the next panel is located; its kernels share the read-ahead.
  SmallVector<scf::ForOp> kernelLoops;
  workgroup.getBody()->walk([&](scf::ForOp loop) {
    if (loop.getNumRegionIterArgs() != 1 || !isa<VectorType>(loop.getRegionIterArgs()[0].getType()))
      return;
    bool readsPanel = false;
    loop.getBody()->walk(
        [&](vector::TransferReadOp read) { readsPanel |= read.getSource() == panel; });
    if (readsPanel)
      kernelLoops.push_back(loop);
  });
  if (kernelLoops.empty())
    return false;
  Operation *owner = panelRead->getParentOp();
  while (owner != workgroup &&
         (!isa<scf::ForOp>(owner) || !llvm::all_of(kernelLoops, [&](scf::ForOp loop) {
           return owner->isProperAncestor(loop);
         })))
    owner = owner->getParentOp();
  SmallVector<Kernel> kernels;
  for (scf::ForOp loop : kernelLoops) {
    std::optional<Kernel> kernel = matchKernel(loop, panel, k, owner);
    if (!kernel)
      return false;
    kernels.push_back(*kernel);
  }
  int64_t totalWork = 0;
  for (const Kernel &kernel : kernels)
    totalWork += kernel.blocks * kernel.blockWork;
  int64_t panelElements = k * t;

  // Where the panel starts: the pack's first row. Its first K index must be 0: that also
  // rules out weights stored [K, N] with N = K, whose panels start at a column.
  Region &body = owner->getRegion(0);
  OpBuilder b(func.getContext());
  b.setInsertionPointToStart(&body.front());
  Location loc = workgroup.getLoc();
  IRMapping map;
  SmallVector<Operation *> created;
  Value firstRow = atLoopStarts(b, panelRead.getIndices()[0], body, map, created);
  Value firstCol = atLoopStarts(b, panelRead.getIndices()[1], body, map, created);
  if (!firstRow || !firstCol || !matchPattern(firstCol, m_Zero())) {
    for (Operation *op : llvm::reverse(created))
      op->erase(); // No half-built index arithmetic left behind.
    return false;
  }
  // The next panel's first element, in the weights seen as one run of N x K elements; the
  // last workgroup reads ahead within its own panel.
  Value nextRow = b.create<arith::MinSIOp>(
      loc, b.create<arith::AddIOp>(loc, firstRow, b.create<arith::ConstantIndexOp>(loc, t)),
      b.create<arith::ConstantIndexOp>(loc, n - t));
  Value nextStart = b.create<arith::MulIOp>(loc, nextRow, b.create<arith::ConstantIndexOp>(loc, k));
  Value lastElement = b.create<arith::ConstantIndexOp>(loc, n * k - 1);
  b.setInsertionPointToStart(&func.getBody().front());
  Value flat = b.create<memref::CollapseShapeOp>(
      loc, weights, ArrayRef<ReassociationIndices>{ReassociationIndices{0, 1}});

  int64_t workBefore = 0;
  for (Kernel &kernel : kernels) {
    // The first element this register block prefetches: the share of the panel that the work
    // before it stands for. Each K step then advances by the block's share over K (rounded up,
    // so that the blocks together cover the panel).
    b.setInsertionPoint(kernel.kLoop);
    Value block = b.create<arith::ConstantIndexOp>(loc, 0);
    for (scf::ForOp outer : kernel.blockLoops) {
      int64_t lb = *getConstantIntValue(outer.getLowerBound()),
              ub = *getConstantIntValue(outer.getUpperBound()),
              step = *getConstantIntValue(outer.getStep());
      Value trips = b.create<arith::ConstantIndexOp>(loc, (ub - lb + step - 1) / step);
      Value index = b.create<arith::DivUIOp>(
          loc,
          b.create<arith::SubIOp>(loc, outer.getInductionVar(),
                                  b.create<arith::ConstantIndexOp>(loc, lb)),
          b.create<arith::ConstantIndexOp>(loc, step));
      block = b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, block, trips), index);
    }
    Value work = b.create<arith::AddIOp>(
        loc, b.create<arith::ConstantIndexOp>(loc, workBefore),
        b.create<arith::MulIOp>(loc, block,
                                b.create<arith::ConstantIndexOp>(loc, kernel.blockWork)));
    Value blockStart = b.create<arith::AddIOp>(
        loc, nextStart,
        b.create<arith::DivUIOp>(
            loc,
            b.create<arith::MulIOp>(loc, work,
                                    b.create<arith::ConstantIndexOp>(loc, panelElements)),
            b.create<arith::ConstantIndexOp>(loc, totalWork)));
    int64_t blockShare = (kernel.blockWork * panelElements + totalWork - 1) / totalWork;
    int64_t perStep = std::max<int64_t>(1, (blockShare + k - 1) / k);

    // One prefetch per cache line: the K loop is cut into runs of `run` steps, each run
    // prefetching the next line of the block's share.
    int64_t run = 1;
    while (run * 2 * perStep * elementBytes <= 64 && k % (run * 2) == 0)
      run *= 2;
    scf::ForOp kLoop = kernel.kLoop;
    auto outer = b.create<scf::ForOp>(
        loc, b.create<arith::ConstantIndexOp>(loc, 0), b.create<arith::ConstantIndexOp>(loc, k),
        b.create<arith::ConstantIndexOp>(loc, run), kLoop.getInitArgs(),
        [&](OpBuilder &nb, Location nloc, Value k0, ValueRange acc) {
          Value at = nb.create<arith::AddIOp>(
              nloc, blockStart,
              nb.create<arith::MulIOp>(nloc, k0, nb.create<arith::ConstantIndexOp>(nloc, perStep)));
          at = nb.create<arith::MinUIOp>(nloc, at, lastElement);
          nb.create<memref::PrefetchOp>(nloc, flat, ValueRange{at}, /*isWrite=*/false,
                                        /*localityHint=*/3, /*isDataCache=*/true);
          Value end =
              nb.create<arith::AddIOp>(nloc, k0, nb.create<arith::ConstantIndexOp>(nloc, run));
          auto inner = cast<scf::ForOp>(nb.clone(*kLoop));
          inner.getLowerBoundMutable().assign(k0);
          inner.getUpperBoundMutable().assign(end);
          inner.getInitArgsMutable().assign(acc);
          nb.create<scf::YieldOp>(nloc, inner.getResults());
        });
    kLoop.replaceAllUsesWith(outer.getResults());
    kLoop.erase();
    workBefore += kernel.blocks * kernel.blockWork;
  }
  return true;
}

} // namespace

LogicalResult prefetchWeightPanels(ModuleOp module) {
  SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
  // One flag per function (written by its own task only), not a vector<bool>.
  SmallVector<char> rewritten(funcs.size(), 0);
  parallelFor(module.getContext(), 0, funcs.size(), [&](size_t i) {
    SmallVector<scf::ForallOp> workgroups;
    funcs[i].walk([&](scf::ForallOp forall) {
      if (!forall->getParentOfType<scf::ForallOp>())
        workgroups.push_back(forall);
    });
    for (scf::ForallOp workgroup : workgroups)
      rewritten[i] |= prefetchNextPanel(workgroup, funcs[i]);
  });
  // Fold the new index arithmetic's constants, in the functions that have some.
  PassManager pm(module.getContext(), func::FuncOp::getOperationName());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  for (auto [func, changed] : llvm::zip(funcs, rewritten))
    if (changed && failed(pm.run(func)))
      return failure();
  return success();
}

} // namespace kiln::cpu
