//===- Bufferize.cpp - One-shot bufferization of scheduled dispatches -----===//
//
// Results are written in place (tensor.empty ops that feed a materialize_in_destination are
// eliminated first). Temporaries that bufferization still needs go on the stack when they are
// small and static (register-tile scratch), else on the heap with deallocations inserted by the
// ownership-based deallocation pipeline. Static stack buffers are hoisted to the function entry
// so that loops do not grow the stack. Afterwards vector transfers that re-read and re-write the
// same accumulator tile inside a loop are hoisted, which keeps accumulators in registers.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Dialect/Vector/Transforms/VectorTransforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Threading.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln::cpu {

/// Largest temporary placed on the stack (bytes): a workgroup's packed weight panel
/// (3072 x 128 floats with AVX-512) fits; the CPU driver's workers have 16 MiB stacks.
static constexpr int64_t kMaxStackBuffer = 2 * 1024 * 1024;

static FailureOr<Value> allocateBuffer(OpBuilder &b, Location loc, MemRefType type,
                                       ValueRange dynamicSizes, unsigned alignment) {
  IntegerAttr align = b.getI64IntegerAttr(std::max(alignment, 64u));
  if (type.getElementTypeBitWidth() % 8 != 0)
    return b.create<memref::AllocOp>(loc, type, dynamicSizes, ValueRange(), align).getResult();
  int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  if (type.hasStaticShape()) {
    if (type.getNumElements() * elementBytes <= kMaxStackBuffer)
      return b.create<memref::AllocaOp>(loc, type, dynamicSizes, ValueRange(), align)
          .getResult();
    return b.create<memref::AllocOp>(loc, type, dynamicSizes, ValueRange(), align).getResult();
  }
  // A dynamically sized tile (the ragged edge of a loop) has a constant upper bound: reserve
  // that much on the stack and view it with the actual sizes, instead of a heap allocation
  // per tile.
  int64_t bytes = elementBytes;
  unsigned dynamicIndex = 0;
  for (int64_t dim : type.getShape()) {
    int64_t bound = dim;
    if (ShapedType::isDynamic(dim)) {
      FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
          presburger::BoundType::UB, ValueBoundsConstraintSet::Variable(dynamicSizes[dynamicIndex++]),
          /*stopCondition=*/nullptr, /*closedUB=*/true);
      if (failed(ub) || *ub <= 0)
        return b.create<memref::AllocOp>(loc, type, dynamicSizes, ValueRange(), align)
            .getResult();
      bound = *ub;
    }
    bytes *= bound;
  }
  if (bytes > kMaxStackBuffer)
    return b.create<memref::AllocOp>(loc, type, dynamicSizes, ValueRange(), align).getResult();
  auto raw = b.create<memref::AllocaOp>(loc, MemRefType::get({bytes}, b.getI8Type()),
                                        ValueRange(), ValueRange(), align);
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  return b.create<memref::ViewOp>(loc, type, raw, zero, dynamicSizes).getResult();
}

namespace {
/// Erases `linalg.copy` / `memref.copy` whose source and target are the same buffer.
struct EraseSelfCopiesPass : PassWrapper<EraseSelfCopiesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(EraseSelfCopiesPass)
  StringRef getArgument() const override { return "kiln-erase-self-copies"; }
  void runOnOperation() override {
    SmallVector<Operation *> dead;
    getOperation().walk([&](Operation *op) {
      if (auto copy = dyn_cast<linalg::CopyOp>(op)) {
        if (copy.getInputs().size() == 1 && copy.getOutputs().size() == 1 &&
            copy.getInputs()[0] == copy.getOutputs()[0] && copy->getNumResults() == 0)
          dead.push_back(op);
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        if (copy.getSource() == copy.getTarget())
          dead.push_back(op);
      }
    });
    for (Operation *op : dead)
      op->erase();
  }
};
} // namespace

static std::unique_ptr<Pass> createEraseSelfCopiesPass() {
  return std::make_unique<EraseSelfCopiesPass>();
}

/// Moves static allocas to the top of the function's entry block.
static void hoistStaticAllocas(func::FuncOp func) {
  Block &entry = func.getBody().front();
  SmallVector<memref::AllocaOp> allocas;
  func.walk([&](memref::AllocaOp op) {
    if (op.getType().hasStaticShape() && op->getBlock() != &entry)
      allocas.push_back(op);
  });
  for (memref::AllocaOp op : allocas)
    op->moveBefore(&entry, entry.begin());
}

LogicalResult bufferizeDispatches(ModuleOp module) {
  // Passes that can run nested on each function do (the dispatches in parallel); one-shot
  // bufferization across function boundaries and deallocation run on the module.
  PassManager pm(module.getContext());
  {
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    // CSE first: the analysis proves an extract_slice / parallel_insert_slice pair in place
    // only when both use the same offset values.
    fpm.addPass(createCanonicalizerPass());
    fpm.addPass(createCSEPass());
    // Accumulator tiles read and written in each K iteration become loop-carried vectors (on
    // tensors; after bufferization, views defeat the memref hoisting).
    fpm.addPass(createLoopInvariantSubsetHoistingPass());
    fpm.addPass(bufferization::createEmptyTensorEliminationPass());
  }
  bufferization::OneShotBufferizationOptions options;
  options.bufferizeFunctionBoundaries = true;
  options.setFunctionBoundaryTypeConversion(bufferization::LayoutMapOption::IdentityLayoutMap);
  options.allocationFn = allocateBuffer;
  // Copies as linalg.copy: they become loops, not calls into MLIR's runtime library.
  options.memCpyFn = [](OpBuilder &b, Location loc, Value from, Value to) {
    b.create<linalg::CopyOp>(loc, from, to);
    return success();
  };
  pm.addPass(bufferization::createOneShotBufferizePass(options));
  // A state written back into its own buffer (an entry point's KV cache, updated in place)
  // bufferizes to a copy of a buffer onto itself: drop it before it becomes a loop over the
  // whole cache.
  pm.addPass(createEraseSelfCopiesPass());
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createCSEPass());
  if (failed(pm.run(module)))
    return failure();

  // Loop-invariant views first, so that accumulator transfers have invariant operands; then
  // hoist accumulators out of the K loops, forward stores to loads of scratch tiles and drop
  // dead stores.
  PassManager cleanup(module.getContext());
  OpPassManager &fcleanup = cleanup.nest<func::FuncOp>();
  fcleanup.addPass(createLoopInvariantCodeMotionPass());
  fcleanup.addPass(createCanonicalizerPass());
  fcleanup.addPass(createCSEPass());
  if (failed(cleanup.run(module)))
    return failure();
  SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
  parallelForEach(module.getContext(), funcs, [](func::FuncOp func) {
    hoistStaticAllocas(func);
    linalg::hoistRedundantVectorTransfers(func);
    IRRewriter rewriter(func.getContext());
    vector::transferOpflowOpt(rewriter, func);
  });
  return cleanup.run(module);
}

} // namespace kiln::cpu
