//===- LowerToLLVM.cpp - Bufferized dispatches -> LLVM dialect ------------===//
//
// Ops the schedule left as linalg become loops; transcendental math ops become polynomial
// approximations (a libm call per element made GELU 3x slower); n-D vector transfers are
// unrolled to 1-D ones; then everything converts to the LLVM dialect. Memrefs cross function
// boundaries as bare pointers: every dispatch buffer has a static, dense, row-major shape.
// Every pass that can runs nested on each function, so the dispatches are lowered in parallel
// (a specialized model has hundreds); only the conversions that add module-level declarations
// (libm, malloc, the functions themselves) run on the module.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln::cpu {

/// Replaces math ops (tanh, exp, erf, log, ...) by polynomial approximations, in f32.
static LogicalResult approximateMath(ModuleOp module) {
  RewritePatternSet patterns(module.getContext());
  MathPolynomialApproximationOptions options;
  options.enableAvx2 = false;
  populateMathPolynomialApproximationPatterns(patterns, options);
  return applyPatternsAndFoldGreedily(module, std::move(patterns));
}

LogicalResult lowerToLLVMDialect(ModuleOp module, bool barePtrCallConv) {
  MLIRContext *ctx = module.getContext();
  // memref.copy would lower to a call into MLIR's runtime library for strided views; as
  // linalg.copy it becomes loops.
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp op) { copies.push_back(op); });
  for (memref::CopyOp op : copies) {
    OpBuilder b(op);
    b.create<linalg::CopyOp>(op.getLoc(), op.getSource(), op.getTarget());
    op.erase();
  }
  {
    PassManager pm(ctx);
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    fpm.addPass(createConvertLinalgToLoopsPass());
    fpm.addPass(createForallToForLoopPass());
    fpm.addPass(createCanonicalizerPass());
    fpm.addPass(createCSEPass());
    if (failed(pm.run(module)))
      return failure();
  }
  if (failed(approximateMath(module)))
    return module.emitError("approximating math functions failed");

  PassManager pm(ctx);
  {
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    fpm.addPass(vector::createLowerVectorMaskPass());
    // Reductions along the innermost dimension become vector.reduction (a shuffle tree), not
    // one extract per lane.
    fpm.addPass(vector::createLowerVectorMultiReductionPass(
        vector::VectorMultiReductionLowering::InnerReduction));
    fpm.addPass(createConvertVectorToSCFPass(VectorTransferToSCFOptions().enableFullUnroll()));
    fpm.addPass(createCanonicalizerPass());
    fpm.addPass(createLowerAffinePass());
    fpm.addPass(createConvertSCFToCFPass());
    fpm.addPass(memref::createExpandStridedMetadataPass());
    fpm.addPass(createLowerAffinePass());
    // Math ops with LLVM intrinsics (fma, fabs, sqrt, ...) first; libm only for what remains.
    fpm.addPass(createConvertMathToLLVMPass());
  }
  pm.addPass(createConvertMathToLibmPass());
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.reassociateFPReductions = true;
  pm.addNestedPass<func::FuncOp>(createConvertVectorToLLVMPass(vectorOptions));
  // Heap temporaries call _mlir_memref_to_llvm_alloc / _free, which the code blob defines
  // (Emit.cpp): the runtime's pool of blocks, or malloc / free without a runtime.
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  {
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    fpm.addPass(createArithToLLVMConversionPass());
    fpm.addPass(createConvertIndexToLLVMPass());
  }
  ConvertFuncToLLVMPassOptions funcOptions;
  funcOptions.useBarePtrCallConv = barePtrCallConv;
  pm.addPass(createConvertFuncToLLVMPass(funcOptions));
  pm.addPass(createConvertControlFlowToLLVMPass());
  {
    OpPassManager &lpm = pm.nest<LLVM::LLVMFuncOp>();
    lpm.addPass(createReconcileUnrealizedCastsPass());
    lpm.addPass(createCanonicalizerPass());
  }
  return pm.run(module);
}

LogicalResult compileToLLVMDialect(ModuleOp module, const CPUTargetOptions &options,
                                   std::vector<DispatchInfo> &infos) {
  if (failed(prepareDispatches(module)) || failed(scheduleDispatches(module, options)) ||
      failed(bufferizeDispatches(module)))
    return failure();
  if (options.prefetchPanels && failed(prefetchWeightPanels(module)))
    return failure();
  if (failed(distributeWorkgroups(module, infos)) || failed(lowerToLLVMDialect(module)))
    return failure();
  return success();
}

} // namespace kiln::cpu
