//===- LoweringUtils.h - Helpers for the kiln -> linalg patterns -*- C++ -*-===//
//
// Small builders shared by the kiln -> linalg patterns: empty and filled tensors with the
// dynamic sizes of an existing value, linalg.generic shorthands and scalar constants.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_LIB_CONVERSION_KILNTOLINALG_LOWERINGUTILS_H
#define KILN_LIB_CONVERSION_KILNTOLINALG_LOWERINGUTILS_H

#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kiln::lowering {

using BodyFn = llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// Sizes of `value` (a ranked tensor), `tensor.dim` for the dynamic ones.
inline llvm::SmallVector<mlir::OpFoldResult> sizesOf(mlir::OpBuilder &b, mlir::Location loc,
                                                     mlir::Value value) {
  return mlir::tensor::getMixedSizes(b, loc, value);
}

/// Size `dim` of `value` as an index value.
inline mlir::Value dimOf(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value, int64_t dim) {
  return b.createOrFold<mlir::tensor::DimOp>(loc, value, dim);
}

inline mlir::Value emptyTensor(mlir::OpBuilder &b, mlir::Location loc,
                               llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Type element) {
  return b.create<mlir::tensor::EmptyOp>(loc, sizes, element);
}

inline mlir::Value floatConst(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type,
                              double value) {
  return b.create<mlir::arith::ConstantOp>(loc, b.getFloatAttr(type, value));
}

inline mlir::Value indexConst(mlir::OpBuilder &b, mlir::Location loc, int64_t value) {
  return b.create<mlir::arith::ConstantIndexOp>(loc, value);
}

/// The lowest finite value of a float type (masked attention scores).
inline mlir::Value lowestFloat(mlir::OpBuilder &b, mlir::Location loc, mlir::FloatType type) {
  return b.create<mlir::arith::ConstantOp>(
      loc, b.getFloatAttr(type, llvm::APFloat::getLargest(type.getFloatSemantics(),
                                                          /*Negative=*/true)));
}

/// An index value (a size or a loop index) converted to the float type `type`.
inline mlir::Value indexToFloat(mlir::OpBuilder &b, mlir::Location loc, mlir::Value index,
                                mlir::Type type) {
  mlir::Value i64 = b.create<mlir::arith::IndexCastOp>(loc, b.getI64Type(), index);
  return b.create<mlir::arith::SIToFPOp>(loc, type, i64);
}

/// A tensor of `sizes` filled with `value`.
inline mlir::Value filledTensor(mlir::OpBuilder &b, mlir::Location loc,
                                llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Value value) {
  mlir::Value empty = emptyTensor(b, loc, sizes, value.getType());
  return b.create<mlir::linalg::FillOp>(loc, mlir::ValueRange{value}, mlir::ValueRange{empty})
      .getResult(0);
}

inline llvm::SmallVector<mlir::utils::IteratorType> parallelLoops(unsigned count) {
  return llvm::SmallVector<mlir::utils::IteratorType>(count, mlir::utils::IteratorType::parallel);
}

/// A linalg.generic with one result.
inline mlir::Value generic(mlir::OpBuilder &b, mlir::Location loc, mlir::Value init,
                           mlir::ValueRange inputs, llvm::ArrayRef<mlir::AffineMap> maps,
                           llvm::ArrayRef<mlir::utils::IteratorType> iterators, BodyFn body) {
  return b
      .create<mlir::linalg::GenericOp>(loc, init.getType(), inputs, mlir::ValueRange{init}, maps,
                                       iterators, body)
      .getResult(0);
}

/// An elementwise linalg.generic over `inputs`, all of the shape of `like`, producing a
/// tensor of `like`'s shape and `element` type.
inline mlir::Value elementwise(mlir::OpBuilder &b, mlir::Location loc, mlir::Value like,
                               mlir::ValueRange inputs, mlir::Type element, BodyFn body) {
  auto rank = static_cast<unsigned>(llvm::cast<mlir::RankedTensorType>(like.getType()).getRank());
  mlir::Value init = emptyTensor(b, loc, sizesOf(b, loc, like), element);
  llvm::SmallVector<mlir::AffineMap> maps(inputs.size() + 1, b.getMultiDimIdentityMap(rank));
  return generic(b, loc, init, inputs, maps, parallelLoops(rank), body);
}

/// Sums `input` ([..., D]) over its last dimension into [...] (init 0) after applying
/// `transform` to each element (identity when null).
mlir::Value sumLastDim(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::Value)> transform =
        nullptr);

// Pattern groups, one per file.
void populateLayerPatterns(mlir::RewritePatternSet &patterns);
void populateAttentionPatterns(mlir::RewritePatternSet &patterns);
void populatePositionBiasPatterns(mlir::RewritePatternSet &patterns);
void populateHeadPatterns(mlir::RewritePatternSet &patterns);

} // namespace kiln::lowering

#endif // KILN_LIB_CONVERSION_KILNTOLINALG_LOWERINGUTILS_H
