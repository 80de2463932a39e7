//===- LowerHeads.cpp - Pooling and loss lowerings ------------------------===//
#include "LoweringUtils.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

namespace {

/// first: a rank-reducing slice of token 0. mean: masked sums over s divided by
/// max(count, 1e-9).
struct LowerPool : OpConversionPattern<PoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(PoolOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput();
    auto resultType = cast<RankedTensorType>(op.getType());
    Type element = resultType.getElementType();
    SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
    if (op.getMode() == PoolMode::First) {
      SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0)), strides(3, b.getIndexAttr(1));
      sizes[1] = b.getIndexAttr(1);
      rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(op, resultType, x, offsets, sizes,
                                                          strides);
      return success();
    }
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    SmallVector<OpFoldResult> outSizes = {sizes[0], sizes[2]};
    Value zero = floatConst(b, loc, element, 0.0);
    SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                  utils::IteratorType::reduction,
                                                  utils::IteratorType::parallel};
    Value mask = adaptor.getMask();
    // weight(b, s) = (mask != 0) as a float, or 1.
    auto weight = [&](OpBuilder &nb, Location l, Value m) -> Value {
      Value keep = nb.create<arith::CmpIOp>(
          l, arith::CmpIPredicate::ne, m, nb.create<arith::ConstantOp>(l, nb.getI32IntegerAttr(0)));
      return nb.create<arith::UIToFPOp>(l, element, keep);
    };
    Value sums, counts;
    if (mask) {
      sums = generic(b, loc, filledTensor(b, loc, outSizes, zero), {x, mask},
                     {b.getMultiDimIdentityMap(3), AffineMap::get(3, 0, {d0, d1}, ctx),
                      AffineMap::get(3, 0, {d0, d2}, ctx)},
                     iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
                       Value w = nb.create<arith::MulFOp>(l, args[0], weight(nb, l, args[1]));
                       nb.create<linalg::YieldOp>(
                           l, nb.create<arith::AddFOp>(l, args[2], w).getResult());
                     });
      AffineExpr e0, e1;
      bindDims(ctx, e0, e1);
      counts = generic(b, loc, filledTensor(b, loc, {sizes[0]}, zero), mask,
                       {b.getMultiDimIdentityMap(2), AffineMap::get(2, 0, {e0}, ctx)},
                       {utils::IteratorType::parallel, utils::IteratorType::reduction},
                       [&](OpBuilder &nb, Location l, ValueRange args) {
                         Value w = weight(nb, l, args[0]);
                         nb.create<linalg::YieldOp>(
                             l, nb.create<arith::AddFOp>(l, args[1], w).getResult());
                       });
    } else {
      sums = generic(b, loc, filledTensor(b, loc, outSizes, zero), x,
                     {b.getMultiDimIdentityMap(3), AffineMap::get(3, 0, {d0, d2}, ctx)}, iterators,
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       nb.create<linalg::YieldOp>(
                           l, nb.create<arith::AddFOp>(l, args[1], args[0]).getResult());
                     });
    }
    Value seqLen = mask ? Value() : indexToFloat(b, loc, dimOf(b, loc, x, 1), element);
    Value floor = floatConst(b, loc, element, 1e-9);
    AffineExpr e0, e1;
    bindDims(ctx, e0, e1);
    SmallVector<Value> inputs = {sums};
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(2)};
    if (mask) {
      inputs.push_back(counts);
      maps.push_back(AffineMap::get(2, 0, {e0}, ctx));
    }
    maps.push_back(b.getMultiDimIdentityMap(2));
    Value result = generic(b, loc, emptyTensor(b, loc, outSizes, element), inputs, maps,
                           parallelLoops(2), [&](OpBuilder &nb, Location l, ValueRange args) {
                             Value count = mask ? args[1] : seqLen;
                             count = nb.create<arith::MaximumFOp>(l, count, floor);
                             nb.create<linalg::YieldOp>(
                                 l, nb.create<arith::DivFOp>(l, args[0], count).getResult());
                           });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Mean cross-entropy over the labels that are not ignored. Per position:
/// loss = m + log(sum_v exp(l_v - m)) - l_label with m = max_v l_v (a stable log-softmax).
struct LowerCrossEntropy : OpConversionPattern<CrossEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CrossEntropyOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = getContext();
    Value logits = adaptor.getLogits(), labels = adaptor.getLabels();
    auto logitsType = cast<RankedTensorType>(logits.getType());
    auto element = cast<FloatType>(logitsType.getElementType());
    unsigned rank = logitsType.getRank();

    if (op.getShift()) {
      // Position s predicts labels[:, s + 1]: logits[:, :S-1], labels[:, 1:].
      Value seq = dimOf(b, loc, logits, 1);
      Value one = indexConst(b, loc, 1);
      Value shorter = b.create<arith::SubIOp>(loc, seq, one);
      SmallVector<OpFoldResult> lSizes = sizesOf(b, loc, logits);
      lSizes[1] = shorter;
      SmallVector<OpFoldResult> zeros3(3, b.getIndexAttr(0)), ones3(3, b.getIndexAttr(1));
      logits = b.create<tensor::ExtractSliceOp>(loc, logits, zeros3, lSizes, ones3);
      SmallVector<OpFoldResult> yOffsets = {b.getIndexAttr(0), b.getIndexAttr(1)};
      SmallVector<OpFoldResult> ySizes = {tensor::getMixedSize(b, loc, labels, 0), shorter};
      labels = b.create<tensor::ExtractSliceOp>(loc, labels, yOffsets, ySizes,
                                                SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
    }

    // Row max and sum of exponentials over the class dimension.
    SmallVector<OpFoldResult> rowSizes = sizesOf(b, loc, logits);
    rowSizes.pop_back();
    SmallVector<AffineExpr> outer;
    for (unsigned i = 0; i + 1 < rank; ++i)
      outer.push_back(b.getAffineDimExpr(i));
    AffineMap full = b.getMultiDimIdentityMap(rank);
    AffineMap rows = AffineMap::get(rank, 0, outer, ctx);
    SmallVector<utils::IteratorType> reduceLast = parallelLoops(rank);
    reduceLast.back() = utils::IteratorType::reduction;
    Value lowest = lowestFloat(b, loc, element);
    Value zero = floatConst(b, loc, element, 0.0);
    Value rowMax = generic(b, loc, filledTensor(b, loc, rowSizes, lowest), logits, {full, rows},
                           reduceLast, [](OpBuilder &nb, Location l, ValueRange args) {
                             nb.create<linalg::YieldOp>(
                                 l, nb.create<arith::MaximumFOp>(l, args[0], args[1]).getResult());
                           });
    Value sumExp = generic(
        b, loc, filledTensor(b, loc, rowSizes, zero), {logits, rowMax}, {full, rows, rows},
        reduceLast, [](OpBuilder &nb, Location l, ValueRange args) {
          Value e = nb.create<math::ExpOp>(l, nb.create<arith::SubFOp>(l, args[0], args[1]));
          nb.create<linalg::YieldOp>(l, nb.create<arith::AddFOp>(l, args[2], e).getResult());
        });

    // Total loss and count of non-ignored positions, reduced over every position.
    unsigned posRank = rank - 1;
    auto scalarType = RankedTensorType::get({}, element);
    Value totalInit = b.create<linalg::FillOp>(
                           loc, ValueRange{zero},
                           ValueRange{b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{}, element)})
                          .getResult(0);
    AffineMap posIdentity = b.getMultiDimIdentityMap(posRank);
    AffineMap toScalar = AffineMap::get(posRank, 0, ArrayRef<AffineExpr>{}, ctx);
    SmallVector<utils::IteratorType> allReduce(posRank, utils::IteratorType::reduction);
    Value ignore = b.create<arith::ConstantOp>(
        loc, b.getI32IntegerAttr(static_cast<int32_t>(op.getIgnoreIndex())));
    auto totals = b.create<linalg::GenericOp>(
        loc, TypeRange{scalarType, scalarType}, ValueRange{rowMax, sumExp, labels},
        ValueRange{totalInit, totalInit},
        ArrayRef<AffineMap>{posIdentity, posIdentity, posIdentity, toScalar, toScalar}, allReduce,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value label = args[2];
          Value ignored = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, label, ignore);
          // An ignored label reads class 0 (always in bounds); its loss is discarded.
          Value cls = nb.create<arith::SelectOp>(
              l, ignored, nb.create<arith::ConstantOp>(l, nb.getI32IntegerAttr(0)), label);
          SmallVector<Value> indices;
          for (unsigned i = 0; i < posRank; ++i)
            indices.push_back(nb.create<linalg::IndexOp>(l, i));
          indices.push_back(nb.create<arith::IndexCastOp>(l, nb.getIndexType(), cls));
          Value picked = nb.create<tensor::ExtractOp>(l, logits, indices);
          Value lse = nb.create<arith::AddFOp>(l, args[0], nb.create<math::LogOp>(l, args[1]));
          Value loss = nb.create<arith::SubFOp>(l, lse, picked);
          Value zeroF = floatConst(nb, l, element, 0.0);
          Value oneF = floatConst(nb, l, element, 1.0);
          loss = nb.create<arith::SelectOp>(l, ignored, zeroF, loss);
          Value count = nb.create<arith::SelectOp>(l, ignored, zeroF, oneF);
          nb.create<linalg::YieldOp>(l, ValueRange{nb.create<arith::AddFOp>(l, args[3], loss),
                                                   nb.create<arith::AddFOp>(l, args[4], count)});
        });
    AffineMap scalarMap = AffineMap::get(0, 0, ArrayRef<AffineExpr>{}, ctx);
    Value mean = generic(
        b, loc, b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{}, element),
        {totals.getResult(0), totals.getResult(1)}, {scalarMap, scalarMap, scalarMap}, {},
        [](OpBuilder &nb, Location l, ValueRange args) {
          nb.create<linalg::YieldOp>(l, nb.create<arith::DivFOp>(l, args[0], args[1]).getResult());
        });
    rewriter.replaceOp(op, mean);
    return success();
  }
};

} // namespace

void kiln::lowering::populateHeadPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerPool, LowerCrossEntropy>(patterns.getContext());
}
