//===- Utils.h - Op classification shared by the dispatch passes -*- C++ -*-===//
#ifndef KILN_DISPATCH_UTILS_H
#define KILN_DISPATCH_UTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

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

/// A static slice (extract or insert) covering one index of the leading axis in full: offsets
/// `[l, 0, ..., 0]`, sizes `[1, d1, ..., dn]`, unit strides, in `whole` (static, rank >= 2).
/// One layer of a KV cache: its bytes are one contiguous range of the whole buffer.
inline bool isLeadingAxisSlab(mlir::OffsetSizeAndStrideOpInterface slice,
                              mlir::RankedTensorType whole) {
  if (!whole.hasStaticShape() || whole.getRank() < 2 || !slice.getOffsets().empty() ||
      !slice.getSizes().empty() || !slice.getStrides().empty())
    return false;
  llvm::ArrayRef<int64_t> offsets = slice.getStaticOffsets(), sizes = slice.getStaticSizes();
  if (int64_t(sizes.size()) != whole.getRank() || sizes[0] != 1 ||
      !llvm::all_of(slice.getStaticStrides(), [](int64_t s) { return s == 1; }))
    return false;
  for (int64_t axis = 1; axis < whole.getRank(); ++axis)
    if (offsets[axis] != 0 || sizes[axis] != whole.getDimSize(axis))
      return false;
  return true;
}

/// The entry point's `kiln.state` argument (a KV cache) of which `v` is a version, following
/// views and layer write-backs (isStateWriteBack); null when `v` is not one.
inline mlir::BlockArgument stateArgumentOf(mlir::Value v) {
  v = sourceThroughViews(v);
  while (auto insert = v.getDefiningOp<mlir::tensor::InsertSliceOp>()) {
    if (!isLeadingAxisSlab(insert, insert.getDestType()))
      break;
    v = sourceThroughViews(insert.getDest());
  }
  auto arg = llvm::dyn_cast<mlir::BlockArgument>(v);
  auto fn = arg ? llvm::dyn_cast_or_null<mlir::FunctionOpInterface>(arg.getOwner()->getParentOp())
                : mlir::FunctionOpInterface();
  if (!fn || arg.getOwner() != &fn.getFunctionBody().front() ||
      !fn.getArgAttr(arg.getArgNumber(), "kiln.state"))
    return {};
  return arg;
}

/// One layer of a state buffer read by the dispatches: `tensor.extract_slice %state[l, 0, ...]
/// [1, d1, ...]`. It stays in the entry point and the dispatches take it as their operand, so
/// they do not depend on `l`; the schedule binds it as that layer's bytes of the state buffer.
inline bool isStateSlab(mlir::Operation *op) {
  auto slice = llvm::dyn_cast_or_null<mlir::tensor::ExtractSliceOp>(op);
  return slice && isLeadingAxisSlab(slice, slice.getSourceType()) &&
         stateArgumentOf(slice.getSource());
}

/// A layer of a state buffer, updated in place by a dispatch, put back into the state:
/// `tensor.insert_slice %layer into %state[l, 0, ...] [1, d1, ...]`. It stays in the entry
/// point, where it costs nothing: the dispatch wrote that layer's bytes of the state buffer.
inline bool isStateWriteBack(mlir::Operation *op) {
  auto insert = llvm::dyn_cast_or_null<mlir::tensor::InsertSliceOp>(op);
  return insert && isLeadingAxisSlab(insert, insert.getDestType()) &&
         stateArgumentOf(insert.getDest());
}

} // namespace kiln::dispatch

#endif // KILN_DISPATCH_UTILS_H
