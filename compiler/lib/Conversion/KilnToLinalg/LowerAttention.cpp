//===- LowerAttention.cpp - Attention lowering -----------------------------===//
#include "LoweringUtils.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

namespace {

/// [B, L, heads * headDim] -> [B, L, heads, headDim].
Value splitHeads(OpBuilder &b, Location loc, Value x, int64_t heads, int64_t headDim) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
  sizes.pop_back();
  sizes.push_back(b.getIndexAttr(heads));
  sizes.push_back(b.getIndexAttr(headDim));
  auto resultType = RankedTensorType::get({type.getDimSize(0), type.getDimSize(1), heads, headDim},
                                          type.getElementType());
  SmallVector<ReassociationIndices> reassociation = {{0}, {1}, {2, 3}};
  return b.create<tensor::ExpandShapeOp>(loc, resultType, x, reassociation, sizes);
}

/// Scaled dot-product attention, grouped KV heads, masks and bias, as linalg.generic ops:
///   scores[b,h,i,j] = sum_d q[b,i,h,d] k[b,j,h/G,d]
///   logits = masked(scale * scores + bias)           (masked -> lowest finite float)
///   m = max_j logits; e = exp(logits - m); z = sum_j e
///   out[b,i,h,d] = (sum_j e[b,h,i,j] v[b,j,h/G,d]) / z[b,h,i]
///
/// With a run-time `position` p (keys read from a cache's whole capacity T), only keys
/// j < L = p + S can be visible. Every generic that runs over the key dimension (logits, row
/// max, exp, row sum, PV) then tests `arith.cmpi ult, (linalg.index <key loop>), L` itself and
/// selects (never multiplies) so that whatever it reads at j >= L (stale scores, NaN in unwritten
/// cache slots) cannot reach its result. That compare is the key bound's mark: a schedule may
/// stop any loop over that key dimension at or after L (ScheduleContraction.cpp,
/// ScheduleSoftmax.cpp), and each consumer stays correct whatever the producer left beyond L.
struct LowerAttention : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = getContext();
    auto qType = cast<RankedTensorType>(adaptor.getQuery().getType());
    auto element = cast<FloatType>(qType.getElementType());
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads(), headDim = op.getHeadDim();
    int64_t group = heads / kvHeads;

    Value q = splitHeads(b, loc, adaptor.getQuery(), heads, headDim);
    Value k = splitHeads(b, loc, adaptor.getKey(), kvHeads, headDim);
    Value v = splitHeads(b, loc, adaptor.getValue(), kvHeads, headDim);
    OpFoldResult batch = tensor::getMixedSize(b, loc, adaptor.getQuery(), 0);
    OpFoldResult seqQ = tensor::getMixedSize(b, loc, adaptor.getQuery(), 1);
    OpFoldResult seqK = tensor::getMixedSize(b, loc, adaptor.getKey(), 1);
    SmallVector<OpFoldResult> scoreSizes = {batch, b.getIndexAttr(heads), seqQ, seqK};

    AffineExpr d0, d1, d2, d3, d4;
    bindDims(ctx, d0, d1, d2, d3, d4);
    AffineExpr kvHead = d1.floorDiv(group);

    // scores[b,h,i,j] over loops (b, h, i, j, d)
    Value zero = floatConst(b, loc, element, 0.0);
    Value scores = generic(b, loc, filledTensor(b, loc, scoreSizes, zero), {q, k},
                           {AffineMap::get(5, 0, {d0, d2, d1, d4}, ctx),
                            AffineMap::get(5, 0, {d0, d3, kvHead, d4}, ctx),
                            AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx)},
                           {utils::IteratorType::parallel, utils::IteratorType::parallel,
                            utils::IteratorType::parallel, utils::IteratorType::parallel,
                            utils::IteratorType::reduction},
                           [](OpBuilder &nb, Location l, ValueRange args) {
                             Value p = nb.create<arith::MulFOp>(l, args[0], args[1]);
                             nb.create<linalg::YieldOp>(
                                 l, nb.create<arith::AddFOp>(l, args[2], p).getResult());
                           });

    // logits: scale, bias, masks over loops (b, h, i, j)
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(4)};
    AffineExpr e0, e1, e2, e3;
    bindDims(ctx, e0, e1, e2, e3);
    Value bias = adaptor.getBias(), mask = adaptor.getMask();
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(4, 0, {e1, e2, e3}, ctx));
    }
    if (mask) {
      inputs.push_back(mask);
      maps.push_back(AffineMap::get(4, 0, {e0, e3}, ctx));
    }
    maps.push_back(b.getMultiDimIdentityMap(4));
    Value scale = floatConst(b, loc, element, op.getScale().convertToDouble());
    Value lowest = lowestFloat(b, loc, element);
    bool causal = op.getCausal();
    // Causal: key j is visible to query i iff j <= i + shift, with shift = T - S (queries
    // aligned with the last keys) or the position of the first query when it is given (keys
    // read from a cache's whole capacity: the unwritten slots j > position + i are hidden too).
    Value shift, keyBound;
    if (causal && adaptor.getPosition()) {
      Value p = b.create<tensor::ExtractOp>(loc, adaptor.getPosition(),
                                            ValueRange{b.create<arith::ConstantIndexOp>(loc, 0)});
      shift = b.create<arith::IndexCastOp>(loc, b.getIndexType(), p);
      keyBound = b.create<arith::AddIOp>(loc, shift,
                                         getValueOrCreateConstantIndexOp(b, loc, seqQ));
    } else if (causal) {
      shift = b.create<arith::SubIOp>(loc, getValueOrCreateConstantIndexOp(b, loc, seqK),
                                      getValueOrCreateConstantIndexOp(b, loc, seqQ));
    }
    // `j < L` for the key loop `loop` of a generic's body (only with a position).
    auto keyVisible = [&](OpBuilder &nb, Location l, unsigned loop) -> Value {
      Value j = nb.create<linalg::IndexOp>(l, loop);
      return nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::ult, j, keyBound);
    };
    Value logits = generic(
        b, loc, emptyTensor(b, loc, scoreSizes, element), inputs, maps, parallelLoops(4),
        [&](OpBuilder &nb, Location l, ValueRange args) {
          unsigned next = 1;
          Value s = nb.create<arith::MulFOp>(l, args[0], scale);
          if (bias)
            s = nb.create<arith::AddFOp>(l, s, args[next++]);
          Value hidden;
          if (mask)
            hidden =
                nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, args[next++],
                                         nb.create<arith::ConstantOp>(l, nb.getI32IntegerAttr(0)));
          if (causal) {
            Value i = nb.create<linalg::IndexOp>(l, 2), j = nb.create<linalg::IndexOp>(l, 3);
            Value future = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sgt, j,
                                                    nb.create<arith::AddIOp>(l, i, shift));
            hidden = hidden ? nb.create<arith::OrIOp>(l, hidden, future).getResult() : future;
          }
          if (hidden)
            s = nb.create<arith::SelectOp>(l, hidden, lowest, s);
          // Implied by the causal test for every query; stated so that the key bound is marked
          // in this generic too.
          if (keyBound)
            s = nb.create<arith::SelectOp>(l, keyVisible(nb, l, 3), s, lowest);
          nb.create<linalg::YieldOp>(l, s);
        });

    // Row max and the normaliser over j.
    SmallVector<OpFoldResult> rowSizes = {batch, b.getIndexAttr(heads), seqQ};
    AffineMap full4 = b.getMultiDimIdentityMap(4);
    AffineMap rows4 = AffineMap::get(4, 0, {e0, e1, e2}, ctx);
    SmallVector<utils::IteratorType> reduceJ = parallelLoops(4);
    reduceJ.back() = utils::IteratorType::reduction;
    // Beyond the key bound, a reduction's input is replaced by its identity (the combiner stays
    // the last op, so the reductions still vectorize).
    auto visibleOr = [&](OpBuilder &nb, Location l, Value x, Value identity) -> Value {
      if (!keyBound)
        return x;
      return nb.create<arith::SelectOp>(l, keyVisible(nb, l, 3), x, identity);
    };
    Value rowMax = generic(b, loc, filledTensor(b, loc, rowSizes, lowest), logits, {full4, rows4},
                           reduceJ, [&](OpBuilder &nb, Location l, ValueRange args) {
                             Value x = visibleOr(nb, l, args[0], lowest);
                             nb.create<linalg::YieldOp>(
                                 l, nb.create<arith::MaximumFOp>(l, x, args[1]).getResult());
                           });
    Value exps = generic(
        b, loc, emptyTensor(b, loc, scoreSizes, element), {logits, rowMax}, {full4, rows4, full4},
        parallelLoops(4), [&](OpBuilder &nb, Location l, ValueRange args) {
          Value centered = nb.create<arith::SubFOp>(l, args[0], args[1]);
          Value e = nb.create<math::ExpOp>(l, centered);
          nb.create<linalg::YieldOp>(l, visibleOr(nb, l, e, zero));
        });
    Value norm = generic(b, loc, filledTensor(b, loc, rowSizes, zero), exps, {full4, rows4},
                         reduceJ, [&](OpBuilder &nb, Location l, ValueRange args) {
                           Value x = visibleOr(nb, l, args[0], zero);
                           nb.create<linalg::YieldOp>(
                               l, nb.create<arith::AddFOp>(l, x, args[1]).getResult());
                         });

    // out[b,i,h,d] = sum_j e[b,h,i,j] v[b,j,h/G,d], loops (b, h, i, j, d)
    SmallVector<OpFoldResult> outSizes = {batch, seqQ, b.getIndexAttr(heads),
                                          b.getIndexAttr(headDim)};
    Value weighted = generic(b, loc, filledTensor(b, loc, outSizes, zero), {exps, v},
                             {AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx),
                              AffineMap::get(5, 0, {d0, d3, kvHead, d4}, ctx),
                              AffineMap::get(5, 0, {d0, d2, d1, d4}, ctx)},
                             {utils::IteratorType::parallel, utils::IteratorType::parallel,
                              utils::IteratorType::parallel, utils::IteratorType::reduction,
                              utils::IteratorType::parallel},
                             [&](OpBuilder &nb, Location l, ValueRange args) {
                               Value p = nb.create<arith::MulFOp>(l, args[0], args[1]);
                               if (keyBound)
                                 p = nb.create<arith::SelectOp>(l, keyVisible(nb, l, 3), p, zero);
                               nb.create<linalg::YieldOp>(
                                   l, nb.create<arith::AddFOp>(l, args[2], p).getResult());
                             });
    // Divide by the normaliser, loops (b, i, h, d).
    Value normalized = generic(b, loc, emptyTensor(b, loc, outSizes, element), {weighted, norm},
                               {full4, AffineMap::get(4, 0, {e0, e2, e1}, ctx), full4},
                               parallelLoops(4), [](OpBuilder &nb, Location l, ValueRange args) {
                                 nb.create<linalg::YieldOp>(
                                     l, nb.create<arith::DivFOp>(l, args[0], args[1]).getResult());
                               });
    SmallVector<ReassociationIndices> reassociation = {{0}, {1}, {2, 3}};
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(op, qType, normalized, reassociation);
    return success();
  }
};

} // namespace

void kiln::lowering::populateAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerAttention>(patterns.getContext());
}
