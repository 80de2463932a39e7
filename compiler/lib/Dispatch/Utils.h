//===- Utils.h - Op classification shared by the dispatch passes -*- C++ -*-===//
#ifndef KILN_DISPATCH_UTILS_H
#define KILN_DISPATCH_UTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace kiln::dispatch {

/// Attention's PV bounded by a run-time position (LowerAttention.cpp): a two-input generic
/// whose body is `out + select(j < L, a * b, 0)`, a contraction with its product predicated.
inline bool isKeyBoundedContraction(mlir::linalg::LinalgOp op) {
  auto generic = llvm::dyn_cast<mlir::linalg::GenericOp>(op.getOperation());
  if (!generic || generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1 ||
      generic.getNumReductionLoops() != 1 ||
      std::distance(generic.getBody()->begin(), generic.getBody()->end()) != 6)
    return false;
  mlir::Block *body = generic.getBody();
  auto add = body->getTerminator()->getOperand(0).getDefiningOp<mlir::arith::AddFOp>();
  auto select = add ? add.getRhs().getDefiningOp<mlir::arith::SelectOp>() : nullptr;
  auto mul = select ? select.getTrueValue().getDefiningOp<mlir::arith::MulFOp>() : nullptr;
  auto cmp = select ? select.getCondition().getDefiningOp<mlir::arith::CmpIOp>() : nullptr;
  return mul && cmp && add.getLhs() == body->getArgument(2) &&
         mul.getLhs() == body->getArgument(0) && mul.getRhs() == body->getArgument(1) &&
         cmp.getPredicate() == mlir::arith::CmpIPredicate::ult &&
         cmp.getLhs().getDefiningOp<mlir::linalg::IndexOp>();
}

/// A contraction: named matmuls and linalg.generic contractions (attention's QK^T and PV).
inline bool isContraction(mlir::Operation *op) {
  auto linalgOp = llvm::dyn_cast_or_null<mlir::linalg::LinalgOp>(op);
  return linalgOp && (mlir::linalg::isaContractionOpInterface(linalgOp) ||
                      isKeyBoundedContraction(linalgOp));
}

/// A structured op with at least one reduction loop.
inline bool hasReduction(mlir::Operation *op) {
  auto linalgOp = llvm::dyn_cast_or_null<mlir::linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumReductionLoops() > 0;
}

/// A shape-only op: on dense row-major buffers, the same bytes as its source.
inline bool isView(mlir::Operation *op) {
  return llvm::isa_and_nonnull<mlir::tensor::ExpandShapeOp, mlir::tensor::CollapseShapeOp,
                               mlir::tensor::ReshapeOp, mlir::tensor::CastOp>(op);
}

/// A `tensor.extract_slice` with static offsets, sizes and unit strides (a KV cache's layer, the
/// last position of a sequence): read inside the dispatches that use it, as a view of its
/// source's buffer, never copied between dispatches.
inline bool isStaticSlice(mlir::Operation *op) {
  auto slice = llvm::dyn_cast_or_null<mlir::tensor::ExtractSliceOp>(op);
  return slice && slice.getOffsets().empty() && slice.getSizes().empty() &&
         slice.getStrides().empty() && slice.hasUnitStride() &&
         slice.getSourceType().hasStaticShape();
}

/// `v` followed back through views to the value they alias.
inline mlir::Value sourceThroughViews(mlir::Value v) {
  while (isView(v.getDefiningOp()))
    v = v.getDefiningOp()->getOperand(0);
  return v;
}

} // namespace kiln::dispatch

#endif // KILN_DISPATCH_UTILS_H
