//===- LowerAttention.cpp - Attention lowering -----------------------------===//
#include "LoweringUtils.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

namespace {

/// [B, L, heads * headDim] -> [B, L, headShape..., headDim].
Value splitHeads(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> headShape,
                 int64_t headDim) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
  sizes.pop_back();
  SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(1)};
  ReassociationIndices last;
  for (int64_t h : headShape) {
    sizes.push_back(b.getIndexAttr(h));
    shape.push_back(h);
    last.push_back(static_cast<int64_t>(last.size()) + 2);
  }
  sizes.push_back(b.getIndexAttr(headDim));
  shape.push_back(headDim);
  last.push_back(static_cast<int64_t>(last.size()) + 2);
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<ReassociationIndices> reassociation = {{0}, {1}, last};
  return b.create<tensor::ExpandShapeOp>(loc, resultType, x, reassociation, sizes);
}

/// Scaled dot-product attention, grouped KV heads, masks and bias, as linalg.generic ops over
/// the query heads `h...`: one dimension h when every query head has its own KV head, two
/// (r, g) with h = r * G + g when G query heads share each KV head r (grouped-query attention):
///   scores[b,h...,i,j] = sum_d q[b,i,h...,d] k[b,j,r,d]
///   logits = masked(scale * scores + bias)           (masked -> lowest finite float)
///   m = max_j logits; e = exp(logits - m); z = sum_j e
///   out[b,i,h...,d] = (sum_j e[b,h...,i,j] v[b,j,r,d]) / z[b,h...,i]
/// Every map is a projected permutation (the KV head is a loop of its own, never h / G), so the
/// grouped form is scheduled as batched contractions like the other: the G query heads of one
/// KV head are rows of one contraction against that head's keys (ScheduleContraction.cpp).
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
    SmallVector<int64_t> headShape = {heads};
    if (group > 1)
      headShape = {kvHeads, group};
    auto nh = static_cast<unsigned>(headShape.size());

    Value q = splitHeads(b, loc, adaptor.getQuery(), headShape, headDim);
    Value k = splitHeads(b, loc, adaptor.getKey(), {kvHeads}, headDim);
    Value v = splitHeads(b, loc, adaptor.getValue(), {kvHeads}, headDim);
    OpFoldResult batch = tensor::getMixedSize(b, loc, adaptor.getQuery(), 0);
    OpFoldResult seqQ = tensor::getMixedSize(b, loc, adaptor.getQuery(), 1);
    OpFoldResult seqK = tensor::getMixedSize(b, loc, adaptor.getKey(), 1);
    SmallVector<OpFoldResult> headSizes;
    for (int64_t h : headShape)
      headSizes.push_back(b.getIndexAttr(h));

    // Loops of the score space: b, h..., i (query), j (key); the contractions add one more.
    unsigned scoreRank = nh + 3, queryLoop = nh + 1, keyLoop = nh + 2;
    auto dim = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto headExprs = [&]() {
      SmallVector<AffineExpr> e;
      for (unsigned i = 0; i < nh; ++i)
        e.push_back(dim(1 + i));
      return e;
    };
    auto map = [&](unsigned loops, ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(loops, 0, exprs, ctx);
    };
    auto concat = [](std::initializer_list<ArrayRef<AffineExpr>> parts) {
      SmallVector<AffineExpr> all;
      for (ArrayRef<AffineExpr> p : parts)
        all.append(p.begin(), p.end());
      return all;
    };
    AffineExpr kvHead = dim(1);
    SmallVector<OpFoldResult> scoreSizes = {batch};
    scoreSizes.append(headSizes);
    scoreSizes.append({seqQ, seqK});

    // scores[b,h...,i,j] over loops (b, h..., i, j, d)
    unsigned contractLoops = scoreRank + 1;
    AffineExpr qi = dim(queryLoop), kj = dim(keyLoop), dd = dim(keyLoop + 1);
    SmallVector<utils::IteratorType> scoreIters = parallelLoops(contractLoops);
    scoreIters.back() = utils::IteratorType::reduction;
    Value zero = floatConst(b, loc, element, 0.0);
    Value scores =
        generic(b, loc, filledTensor(b, loc, scoreSizes, zero), {q, k},
                {map(contractLoops, concat({{dim(0), qi}, headExprs(), {dd}})),
                 map(contractLoops, {dim(0), kj, kvHead, dd}),
                 map(contractLoops, concat({{dim(0)}, headExprs(), {qi, kj}}))},
                scoreIters, [](OpBuilder &nb, Location l, ValueRange args) {
                  Value p = nb.create<arith::MulFOp>(l, args[0], args[1]);
                  nb.create<linalg::YieldOp>(
                      l, nb.create<arith::AddFOp>(l, args[2], p).getResult());
                });

    // logits: scale, bias, masks over loops (b, h..., i, j)
    SmallVector<Value> inputs = {scores};
    AffineMap full = b.getMultiDimIdentityMap(scoreRank);
    SmallVector<AffineMap> maps = {full};
    Value bias = adaptor.getBias(), mask = adaptor.getMask();
    if (bias) {
      // [H, S, T], viewed as [h..., S, T].
      if (nh > 1) {
        auto biasType = cast<RankedTensorType>(bias.getType());
        SmallVector<OpFoldResult> sizes = headSizes;
        sizes.push_back(tensor::getMixedSize(b, loc, bias, 1));
        sizes.push_back(tensor::getMixedSize(b, loc, bias, 2));
        SmallVector<int64_t> shape(headShape);
        shape.append({biasType.getDimSize(1), biasType.getDimSize(2)});
        SmallVector<ReassociationIndices> reassociation = {{0, 1}, {2}, {3}};
        bias = b.create<tensor::ExpandShapeOp>(
            loc, RankedTensorType::get(shape, biasType.getElementType()), bias, reassociation,
            sizes);
      }
      inputs.push_back(bias);
      maps.push_back(map(scoreRank, concat({headExprs(), {qi, kj}})));
    }
    if (mask) {
      inputs.push_back(mask);
      maps.push_back(map(scoreRank, {dim(0), kj}));
    }
    maps.push_back(full);
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
    // `j < L` for the key loop of a generic's body (only with a position).
    auto keyVisible = [&](OpBuilder &nb, Location l) -> Value {
      Value j = nb.create<linalg::IndexOp>(l, keyLoop);
      return nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::ult, j, keyBound);
    };
    Value logits = generic(
        b, loc, emptyTensor(b, loc, scoreSizes, element), inputs, maps,
        parallelLoops(scoreRank), [&](OpBuilder &nb, Location l, ValueRange args) {
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
            Value i = nb.create<linalg::IndexOp>(l, queryLoop);
            Value j = nb.create<linalg::IndexOp>(l, keyLoop);
            Value future = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sgt, j,
                                                    nb.create<arith::AddIOp>(l, i, shift));
            hidden = hidden ? nb.create<arith::OrIOp>(l, hidden, future).getResult() : future;
          }
          if (hidden)
            s = nb.create<arith::SelectOp>(l, hidden, lowest, s);
          // Implied by the causal test for every query; stated so that the key bound is marked
          // in this generic too.
          if (keyBound)
            s = nb.create<arith::SelectOp>(l, keyVisible(nb, l), s, lowest);
          nb.create<linalg::YieldOp>(l, s);
        });

    // Row max and the normaliser over j.
    SmallVector<OpFoldResult> rowSizes(scoreSizes.begin(), scoreSizes.end() - 1);
    AffineMap rows = map(scoreRank, concat({{dim(0)}, headExprs(), {qi}}));
    SmallVector<utils::IteratorType> reduceJ = parallelLoops(scoreRank);
    reduceJ.back() = utils::IteratorType::reduction;
    // Beyond the key bound, a reduction's input is replaced by its identity (the combiner stays
    // the last op, so the reductions still vectorize).
    auto visibleOr = [&](OpBuilder &nb, Location l, Value x, Value identity) -> Value {
      if (!keyBound)
        return x;
      return nb.create<arith::SelectOp>(l, keyVisible(nb, l), x, identity);
    };
    Value rowMax = generic(b, loc, filledTensor(b, loc, rowSizes, lowest), logits, {full, rows},
                           reduceJ, [&](OpBuilder &nb, Location l, ValueRange args) {
                             Value x = visibleOr(nb, l, args[0], lowest);
                             nb.create<linalg::YieldOp>(
                                 l, nb.create<arith::MaximumFOp>(l, x, args[1]).getResult());
                           });
    Value exps = generic(
        b, loc, emptyTensor(b, loc, scoreSizes, element), {logits, rowMax}, {full, rows, full},
        parallelLoops(scoreRank), [&](OpBuilder &nb, Location l, ValueRange args) {
          Value centered = nb.create<arith::SubFOp>(l, args[0], args[1]);
          Value e = nb.create<math::ExpOp>(l, centered);
          nb.create<linalg::YieldOp>(l, visibleOr(nb, l, e, zero));
        });
    Value norm = generic(b, loc, filledTensor(b, loc, rowSizes, zero), exps, {full, rows},
                         reduceJ, [&](OpBuilder &nb, Location l, ValueRange args) {
                           Value x = visibleOr(nb, l, args[0], zero);
                           nb.create<linalg::YieldOp>(
                               l, nb.create<arith::AddFOp>(l, x, args[1]).getResult());
                         });

    // out[b,i,h...,d] = sum_j e[b,h...,i,j] v[b,j,r,d], loops (b, h..., i, j, d)
    SmallVector<OpFoldResult> outSizes = {batch, seqQ};
    outSizes.append(headSizes);
    outSizes.push_back(b.getIndexAttr(headDim));
    SmallVector<utils::IteratorType> pvIters = parallelLoops(contractLoops);
    pvIters[keyLoop] = utils::IteratorType::reduction;
    Value weighted =
        generic(b, loc, filledTensor(b, loc, outSizes, zero), {exps, v},
                {map(contractLoops, concat({{dim(0)}, headExprs(), {qi, kj}})),
                 map(contractLoops, {dim(0), kj, kvHead, dd}),
                 map(contractLoops, concat({{dim(0), qi}, headExprs(), {dd}}))},
                pvIters, [&](OpBuilder &nb, Location l, ValueRange args) {
                  Value p = nb.create<arith::MulFOp>(l, args[0], args[1]);
                  if (keyBound)
                    p = nb.create<arith::SelectOp>(l, keyVisible(nb, l), p, zero);
                  nb.create<linalg::YieldOp>(
                      l, nb.create<arith::AddFOp>(l, args[2], p).getResult());
                });
    // Divide by the normaliser, loops (b, i, h..., d).
    SmallVector<AffineExpr> normExprs = {dim(0)};
    for (unsigned i = 0; i < nh; ++i)
      normExprs.push_back(dim(2 + i));
    normExprs.push_back(dim(1));
    AffineMap fullOut = b.getMultiDimIdentityMap(scoreRank);
    Value normalized = generic(b, loc, emptyTensor(b, loc, outSizes, element), {weighted, norm},
                               {fullOut, map(scoreRank, normExprs), fullOut},
                               parallelLoops(scoreRank),
                               [](OpBuilder &nb, Location l, ValueRange args) {
                                 nb.create<linalg::YieldOp>(
                                     l, nb.create<arith::DivFOp>(l, args[0], args[1]).getResult());
                               });
    ReassociationIndices merged;
    for (unsigned i = 0; i <= nh; ++i)
      merged.push_back(2 + i);
    SmallVector<ReassociationIndices> reassociation = {{0}, {1}, merged};
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(op, qType, normalized, reassociation);
    return success();
  }
};

} // namespace

void kiln::lowering::populateAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerAttention>(patterns.getContext());
}
