//===- Fusion.cpp - The kiln-dispatch-fusion pass -------------------------===//
//
// Brings static linalg on tensors into the shape dispatch formation groups: each matmul
// followed by at most one elementwise generic over its [M, N] result. Reshapes between a
// matmul's [M, N] result and its [B, S, N] elementwise consumers are folded by collapsing the
// consumers' loops (not by expanding the matmul), then single-use elementwise producers are
// fused into their consumers as `linalg-fuse-elementwise-ops` does.
//
//===----------------------------------------------------------------------===//
#include "Utils.h"

#include "kiln/Dispatch/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_KILNDISPATCHFUSION
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using kiln::dispatch::hasReduction;
using kiln::dispatch::isContraction;

namespace {

/// A static `tensor.reshape` (its shape operand is only known to be constant) becomes a
/// `tensor.collapse_shape` or `tensor.expand_shape`, which the reshape folding understands;
/// a reshape that is neither collapses to 1-D and expands from there.
struct StaticReshapeToExpandCollapse : OpRewritePattern<tensor::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tensor::ReshapeOp op, PatternRewriter &rewriter) const override {
    auto source = cast<RankedTensorType>(op.getSource().getType());
    auto result = cast<RankedTensorType>(op.getResult().getType());
    if (!source.hasStaticShape() || !result.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    if (source.getRank() > result.getRank())
      if (auto reassociation = getReassociationIndicesForReshape(source, result)) {
        rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(op, result, op.getSource(),
                                                             *reassociation);
        return success();
      }
    if (source.getRank() < result.getRank())
      if (auto reassociation = getReassociationIndicesForReshape(source, result)) {
        rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(op, result, op.getSource(),
                                                           *reassociation);
        return success();
      }
    if (source == result) {
      rewriter.replaceOp(op, op.getSource());
      return success();
    }
    // Neither a collapse nor an expansion: through 1-D.
    auto flat = RankedTensorType::get({source.getNumElements()}, source.getElementType());
    SmallVector<ReassociationIndices> all(1);
    for (int64_t i = 0; i < source.getRank(); ++i)
      all[0].push_back(i);
    Value collapsed =
        source.getRank() == 1
            ? op.getSource()
            : rewriter.create<tensor::CollapseShapeOp>(loc, flat, op.getSource(), all).getResult();
    SmallVector<ReassociationIndices> back(1);
    for (int64_t i = 0; i < result.getRank(); ++i)
      back[0].push_back(i);
    if (result.getRank() == 1)
      rewriter.replaceOp(op, collapsed);
    else
      rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(op, result, collapsed, back);
    return success();
  }
};

bool readsContraction(Operation *op) {
  return llvm::any_of(op->getOperands(),
                      [](Value v) { return isContraction(v.getDefiningOp()); });
}

bool usesIndex(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  return generic && generic.hasIndexSemantics();
}

struct KilnDispatchFusionPass : kiln::impl::KilnDispatchFusionBase<KilnDispatchFusionPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<StaticReshapeToExpandCollapse>(ctx);
    // Reshapes move into elementwise consumers by collapsing their loops, so that the epilogue
    // of an [M, N] matmul stays [M, N]. Ops computing indices from linalg.index keep their
    // loops (collapsing would delinearize every index).
    linalg::populateFoldReshapeOpsByCollapsingPatterns(patterns, [](OpOperand *operand) {
      Operation *consumer = operand->getOwner();
      return !isContraction(consumer) && !usesIndex(consumer);
    });
    // Single-use elementwise producers fuse into their consumers; an epilogue (an op reading a
    // contraction) is never pulled into a reduction, where it would be recomputed per
    // reduction step and lost to the matmul schedule.
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      if (!producer || !producer->hasOneUse())
        return false;
      Operation *consumer = operand->getOwner();
      if (readsContraction(producer) && (hasReduction(consumer) || isContraction(consumer)))
        return false;
      return true;
    });
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::EmptyOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::populateFoldTensorEmptyPatterns(patterns);
    linalg::FillOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
