//===- LowerLayers.cpp - Elementwise, norm, linear and embedding lowerings ===//
#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"

#include <cmath>

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

template <typename KilnOp, typename ArithOp> struct LowerBinary : OpConversionPattern<KilnOp> {
  using OpConversionPattern<KilnOp>::OpConversionPattern;
  LogicalResult matchAndRewrite(KilnOp op, typename KilnOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type element = getElementTypeOrSelf(op.getType());
    rewriter.replaceOp(op, elementwise(rewriter, loc, adaptor.getLhs(),
                                       {adaptor.getLhs(), adaptor.getRhs()}, element,
                                       [](OpBuilder &b, Location l, ValueRange args) {
                                         b.create<linalg::YieldOp>(
                                             l, b.create<ArithOp>(l, args[0], args[1]).getResult());
                                       }));
    return success();
  }
};

struct LowerScale : OpConversionPattern<ScaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ScaleOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type element = getElementTypeOrSelf(op.getType());
    Value factor = floatConst(rewriter, loc, element, op.getFactor().convertToDouble());
    rewriter.replaceOp(
        op, elementwise(rewriter, loc, adaptor.getInput(), adaptor.getInput(), element,
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          b.create<linalg::YieldOp>(
                              l, b.create<arith::MulFOp>(l, args[0], factor).getResult());
                        }));
    return success();
  }
};

/// Inference semantics: dropout is the identity.
struct LowerDropout : OpConversionPattern<DropoutOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(DropoutOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getInput());
    return success();
  }
};

/// The activation of `x` (a scalar of float type).
Value activate(OpBuilder &b, Location loc, ActivationKind kind, Value x) {
  Type t = x.getType();
  auto half = [&] { return floatConst(b, loc, t, 0.5); };
  auto one = [&] { return floatConst(b, loc, t, 1.0); };
  switch (kind) {
  case ActivationKind::Gelu: {
    // 0.5 x (1 + erf(x / sqrt 2))
    Value scaled = b.create<arith::MulFOp>(loc, x, floatConst(b, loc, t, M_SQRT1_2));
    Value erf = b.create<math::ErfOp>(loc, scaled);
    Value sum = b.create<arith::AddFOp>(loc, erf, one());
    return b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, x, half()), sum);
  }
  case ActivationKind::GeluTanh: {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value x3 = b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, x, x), x);
    Value inner = b.create<arith::AddFOp>(
        loc, x, b.create<arith::MulFOp>(loc, x3, floatConst(b, loc, t, 0.044715)));
    Value arg = b.create<arith::MulFOp>(loc, inner, floatConst(b, loc, t, std::sqrt(2.0 / M_PI)));
    Value sum = b.create<arith::AddFOp>(loc, b.create<math::TanhOp>(loc, arg), one());
    return b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, x, half()), sum);
  }
  case ActivationKind::Relu:
    return b.create<arith::MaximumFOp>(loc, x, floatConst(b, loc, t, 0.0));
  case ActivationKind::Silu: {
    // x / (1 + exp(-x))
    Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x));
    return b.create<arith::DivFOp>(loc, x, b.create<arith::AddFOp>(loc, e, one()));
  }
  case ActivationKind::Tanh:
    return b.create<math::TanhOp>(loc, x);
  }
  llvm_unreachable("unknown activation kind");
}

struct LowerActivation : OpConversionPattern<ActivationOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ActivationOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    ActivationKind kind = op.getKind();
    Type element = getElementTypeOrSelf(op.getType());
    rewriter.replaceOp(op,
                       elementwise(rewriter, op.getLoc(), adaptor.getInput(), adaptor.getInput(),
                                   element, [&](OpBuilder &b, Location l, ValueRange args) {
                                     b.create<linalg::YieldOp>(l, activate(b, l, kind, args[0]));
                                   }));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

/// Maps for an elementwise op over [..., D] that also reads a [...] row statistic and a
/// [D] vector: (identity, rows, last dim).
struct RowMaps {
  AffineMap full, rows, last;
};
RowMaps rowMaps(OpBuilder &b, unsigned rank) {
  SmallVector<AffineExpr> outer;
  for (unsigned i = 0; i + 1 < rank; ++i)
    outer.push_back(b.getAffineDimExpr(i));
  return {b.getMultiDimIdentityMap(rank), AffineMap::get(rank, 0, outer, b.getContext()),
          AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1))};
}

/// 1 / sqrt(sum / D + eps) for each row of `sums` ([...]); `width` is D as a float.
Value inverseRms(OpBuilder &b, Location loc, Value sums, Value width, double eps) {
  Type element = getElementTypeOrSelf(sums.getType());
  Value epsValue = floatConst(b, loc, element, eps);
  return elementwise(b, loc, sums, sums, element, [&](OpBuilder &nb, Location l, ValueRange args) {
    Value mean = nb.create<arith::DivFOp>(l, args[0], width);
    // 1 / sqrt rather than math.rsqrt, which not every backend lowers.
    Value root = nb.create<math::SqrtOp>(l, nb.create<arith::AddFOp>(l, mean, epsValue));
    Value r = nb.create<arith::DivFOp>(l, floatConst(nb, l, element, 1.0), root);
    nb.create<linalg::YieldOp>(l, r);
  });
}

struct LowerLayerNorm : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    Type element = type.getElementType();
    Value width = indexToFloat(rewriter, loc, dimOf(rewriter, loc, x, rank - 1), element);
    RowMaps maps = rowMaps(rewriter, rank);

    // mean = sum(x) / D; centered = x - mean
    Value sums = sumLastDim(rewriter, loc, x);
    Value mean = elementwise(
        rewriter, loc, sums, sums, element, [&](OpBuilder &b, Location l, ValueRange args) {
          b.create<linalg::YieldOp>(l, b.create<arith::DivFOp>(l, args[0], width).getResult());
        });
    Value centered = generic(
        rewriter, loc, emptyTensor(rewriter, loc, sizesOf(rewriter, loc, x), element), {x, mean},
        {maps.full, maps.rows, maps.full}, parallelLoops(rank),
        [](OpBuilder &b, Location l, ValueRange args) {
          b.create<linalg::YieldOp>(l, b.create<arith::SubFOp>(l, args[0], args[1]).getResult());
        });
    // var = mean(centered^2) (biased); y = centered * rsqrt(var + eps) * gamma + beta
    Value squares = sumLastDim(rewriter, loc, centered, [](OpBuilder &b, Location l, Value v) {
      return b.create<arith::MulFOp>(l, v, v).getResult();
    });
    Value inv = inverseRms(rewriter, loc, squares, width, op.getEps().convertToDouble());
    Value result = generic(
        rewriter, loc, emptyTensor(rewriter, loc, sizesOf(rewriter, loc, x), element),
        {centered, inv, adaptor.getGamma(), adaptor.getBeta()},
        {maps.full, maps.rows, maps.last, maps.last, maps.full}, parallelLoops(rank),
        [](OpBuilder &b, Location l, ValueRange args) {
          Value normed = b.create<arith::MulFOp>(l, args[0], args[1]);
          Value scaled = b.create<arith::MulFOp>(l, normed, args[2]);
          b.create<linalg::YieldOp>(l, b.create<arith::AddFOp>(l, scaled, args[3]).getResult());
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerRMSNorm : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    Type element = type.getElementType();
    Value width = indexToFloat(rewriter, loc, dimOf(rewriter, loc, x, rank - 1), element);
    RowMaps maps = rowMaps(rewriter, rank);
    Value squares = sumLastDim(rewriter, loc, x, [](OpBuilder &b, Location l, Value v) {
      return b.create<arith::MulFOp>(l, v, v).getResult();
    });
    Value inv = inverseRms(rewriter, loc, squares, width, op.getEps().convertToDouble());
    Value result = generic(
        rewriter, loc, emptyTensor(rewriter, loc, sizesOf(rewriter, loc, x), element),
        {x, inv, adaptor.getGamma()}, {maps.full, maps.rows, maps.last, maps.full},
        parallelLoops(rank), [](OpBuilder &b, Location l, ValueRange args) {
          Value normed = b.create<arith::MulFOp>(l, args[0], args[1]);
          b.create<linalg::YieldOp>(l, b.create<arith::MulFOp>(l, normed, args[2]).getResult());
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

/// y = x w^T (+ b) as a 2-D `linalg.matmul_transpose_b` (w keeps its PyTorch [N, K]
/// layout, no copy) into a zero-filled [M, N], then an elementwise bias epilogue. The outer
/// dims of x are collapsed into M and expanded back afterwards. This is the
/// fill + matmul + elementwise-epilogue shape the CPU matmul schedule works on.
/// kiln.linear_q is the same with an i8 w (the matmul converts each weight with sitofp as it
/// reads it) and an epilogue `y * scale[n] (+ b[n])`.
template <typename OpT> struct LowerLinearOp : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpT>::OpAdaptor;
  LogicalResult matchAndRewrite(OpT op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value x = adaptor.getInput(), w = adaptor.getWeight();
    Value scale;
    if constexpr (std::is_same_v<OpT, LinearQOp>)
      scale = adaptor.getScale();
    auto type = cast<RankedTensorType>(x.getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank();
    Type element = type.getElementType();
    SmallVector<OpFoldResult> outSizes = sizesOf(b, loc, x);
    outSizes.back() = tensor::getMixedSize(b, loc, w, 0);

    // x as [M, K].
    Value x2 = x;
    SmallVector<ReassociationIndices> reassociation;
    if (rank == 1) {
      reassociation = {{0, 1}};
      auto expanded = RankedTensorType::get({1, type.getDimSize(0)}, element);
      x2 = b.create<tensor::ExpandShapeOp>(
          loc, expanded, x, reassociation,
          SmallVector<OpFoldResult>{b.getIndexAttr(1), tensor::getMixedSize(b, loc, x, 0)});
    } else if (rank > 2) {
      ReassociationIndices outer;
      for (int64_t i = 0; i + 1 < rank; ++i)
        outer.push_back(i);
      reassociation = {outer, {rank - 1}};
      x2 = b.create<tensor::CollapseShapeOp>(loc, x, reassociation);
    }
    SmallVector<OpFoldResult> sizes2 = sizesOf(b, loc, x2);
    sizes2.back() = outSizes.back();
    Value acc = filledTensor(b, loc, sizes2, floatConst(b, loc, element, 0.0));
    Value y =
        b.create<linalg::MatmulTransposeBOp>(loc, acc.getType(), ValueRange{x2, w}, ValueRange{acc})
            .getResult(0);
    Value bias = adaptor.getBias();
    if (scale || bias) {
      // One epilogue: y * scale[n] (linear_q), + bias[n].
      MLIRContext *ctx = this->getContext();
      AffineMap row = AffineMap::get(2, 0, b.getAffineDimExpr(1), ctx);
      SmallVector<Value> ins = {y};
      SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(2)};
      for (Value v : {scale, bias})
        if (v) {
          ins.push_back(v);
          maps.push_back(row);
        }
      maps.push_back(b.getMultiDimIdentityMap(2));
      bool scaled = bool(scale);
      y = generic(b, loc, emptyTensor(b, loc, sizes2, element), ins, maps, parallelLoops(2),
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value v = args[0];
                    unsigned next = 1;
                    if (scaled)
                      v = nb.create<arith::MulFOp>(l, v, args[next++]);
                    if (bias)
                      v = nb.create<arith::AddFOp>(l, v, args[next]);
                    nb.create<linalg::YieldOp>(l, v);
                  });
    }
    if (rank == 1)
      y = b.create<tensor::CollapseShapeOp>(loc, resultType, y, reassociation);
    else if (rank > 2)
      // tensor.reshape rather than tensor.expand_shape: MLIR 19's bufferization crashes on
      // an expand_shape that splits one dynamic size into several.
      y = b.create<tensor::ReshapeOp>(
          loc, resultType, y,
          b.create<tensor::FromElementsOp>(loc, getValueOrCreateConstantIndexOp(b, loc, outSizes)));
    rewriter.replaceOp(op, y);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

/// [B, S, D] from a row gather: out[b, s, d] = table[row(b, s), d], times rowScale[row(b, s)]
/// when given (an int8 table).
Value gatherRows(OpBuilder &b, Location loc, Value ids, Value table,
                 function_ref<Value(OpBuilder &, Location, Value id, Value s)> row,
                 Value rowScale = nullptr) {
  auto tableType = cast<RankedTensorType>(table.getType());
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, ids);
  sizes.push_back(tensor::getMixedSize(b, loc, table, 1));
  // A bf16 or int8 table (stored weights) gives f32 rows.
  Type element = tableType.getElementType();
  bool widen = element.isBF16() || isa<IntegerType>(element);
  if (widen)
    element = b.getF32Type();
  Value init = emptyTensor(b, loc, sizes, element);
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps = {
      AffineMap::get(3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(1)}, ctx),
      b.getMultiDimIdentityMap(3)};
  return generic(b, loc, init, ids, maps, parallelLoops(3),
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   Value s = nb.create<linalg::IndexOp>(l, 1);
                   Value d = nb.create<linalg::IndexOp>(l, 2);
                   Value r = row(nb, l, args[0], s);
                   Value v = nb.create<tensor::ExtractOp>(l, table, ValueRange{r, d});
                   if (isa<IntegerType>(v.getType()))
                     v = nb.create<arith::SIToFPOp>(l, element, v);
                   else if (widen)
                     v = nb.create<arith::ExtFOp>(l, element, v);
                   if (rowScale)
                     v = nb.create<arith::MulFOp>(
                         l, v, nb.create<tensor::ExtractOp>(l, rowScale, ValueRange{r}));
                   nb.create<linalg::YieldOp>(l, v);
                 });
}

/// kiln.embedding and kiln.embedding_q (its int8 table's rows scaled as they are read).
template <typename OpT>
struct LowerEmbedding : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  LogicalResult matchAndRewrite(OpT op, typename OpT::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value scale;
    if constexpr (std::is_same_v<OpT, EmbeddingQOp>)
      scale = adaptor.getScale();
    rewriter.replaceOp(
        op, gatherRows(
                rewriter, op.getLoc(), adaptor.getIds(), adaptor.getTable(),
                [](OpBuilder &b, Location l, Value id, Value) {
                  return b.create<arith::IndexCastOp>(l, b.getIndexType(), id).getResult();
                },
                scale));
    return success();
  }
};

/// The first position of a sequence as an index: the static `offset` plus the run-time
/// `position` operand (tensor<1xi32>) when there is one; null when both are absent / zero.
Value firstPosition(OpBuilder &b, Location loc, Value position, int64_t offset) {
  Value first;
  if (position) {
    Value p = b.create<tensor::ExtractOp>(loc, position, ValueRange{indexConst(b, loc, 0)});
    first = b.create<arith::IndexCastOp>(loc, b.getIndexType(), p);
  }
  if (offset != 0)
    first = first ? b.create<arith::AddIOp>(loc, first, indexConst(b, loc, offset)).getResult()
                  : indexConst(b, loc, offset);
  return first;
}

struct LowerPositionEmbedding : OpConversionPattern<PositionEmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(PositionEmbeddingOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value first = firstPosition(rewriter, op.getLoc(), adaptor.getPosition(), op.getOffset());
    rewriter.replaceOp(op, gatherRows(rewriter, op.getLoc(), adaptor.getIds(), adaptor.getTable(),
                                      [&](OpBuilder &b, Location l, Value, Value s) -> Value {
                                        if (!first)
                                          return s;
                                        return b.create<arith::AddIOp>(l, s, first);
                                      }));
    return success();
  }
};

/// out[b, s, 2i] = sin(s / base^(2i/dim)), out[b, s, 2i+1] = cos(...), in f32.
struct LowerSinusoidal : OpConversionPattern<SinusoidalPositionsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SinusoidalPositionsOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Type element = type.getElementType();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, adaptor.getIds());
    sizes.push_back(rewriter.getIndexAttr(op.getDim()));
    Value init = emptyTensor(rewriter, loc, sizes, element);
    // inv_freq(i) = exp(-(2i / dim) ln(base))
    double logBaseOverDim = std::log(op.getBase().convertToDouble()) / op.getDim();
    Value result = generic(
        rewriter, loc, init, ValueRange{}, {rewriter.getMultiDimIdentityMap(3)}, parallelLoops(3),
        [&](OpBuilder &b, Location l, ValueRange) {
          Value s = indexToFloat(b, l, b.create<linalg::IndexOp>(l, 1), element);
          Value c = b.create<linalg::IndexOp>(l, 2);
          Value two = indexConst(b, l, 2);
          Value pairStart = b.create<arith::MulIOp>(l, b.create<arith::DivUIOp>(l, c, two), two);
          Value exponent = b.create<arith::MulFOp>(l, indexToFloat(b, l, pairStart, element),
                                                   floatConst(b, l, element, -logBaseOverDim));
          Value angle = b.create<arith::MulFOp>(l, s, b.create<math::ExpOp>(l, exponent));
          Value isEven =
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                      b.create<arith::RemUIOp>(l, c, two), indexConst(b, l, 0));
          Value value = b.create<arith::SelectOp>(l, isEven, b.create<math::SinOp>(l, angle),
                                                  b.create<math::CosOp>(l, angle));
          b.create<linalg::YieldOp>(l, value);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Rotate-half RoPE. For channel c of head (c / Dh), i = c % Dh, h = Dh / 2, j = i % h:
/// a = (position + offset + s) theta^(-2j/Dh); y = x cos a + sign x[partner] sin a with partner
/// c + h, sign -1 for i < h and partner c - h, sign +1 otherwise.
struct LowerRotary : OpConversionPattern<RotaryOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RotaryOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Type element = getElementTypeOrSelf(x.getType());
    int64_t headDim = op.getHeadDim(), half = headDim / 2;
    double logThetaOverDim = std::log(op.getTheta().convertToDouble()) / headDim;
    Value first = firstPosition(rewriter, loc, adaptor.getPosition(), op.getOffset());
    Value result =
        elementwise(rewriter, loc, x, x, element, [&](OpBuilder &b, Location l, ValueRange args) {
          Value bIdx = b.create<linalg::IndexOp>(l, 0);
          Value sIdx = b.create<linalg::IndexOp>(l, 1);
          Value c = b.create<linalg::IndexOp>(l, 2);
          Value i = b.create<arith::RemUIOp>(l, c, indexConst(b, l, headDim));
          Value halfV = indexConst(b, l, half);
          Value low = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ult, i, halfV);
          Value j = b.create<arith::RemUIOp>(l, i, halfV);
          Value partner = b.create<arith::SelectOp>(l, low, b.create<arith::AddIOp>(l, c, halfV),
                                                    b.create<arith::SubIOp>(l, c, halfV));
          Value other = b.create<tensor::ExtractOp>(l, x, ValueRange{bIdx, sIdx, partner});
          Value pos = first ? b.create<arith::AddIOp>(l, sIdx, first).getResult() : sIdx;
          Value twoJ = b.create<arith::MulIOp>(l, j, indexConst(b, l, 2));
          Value invFreq = b.create<math::ExpOp>(
              l, b.create<arith::MulFOp>(l, indexToFloat(b, l, twoJ, element),
                                         floatConst(b, l, element, -logThetaOverDim)));
          Value angle = b.create<arith::MulFOp>(l, indexToFloat(b, l, pos, element), invFreq);
          Value sinA = b.create<math::SinOp>(l, angle), cosA = b.create<math::CosOp>(l, angle);
          Value rotated = b.create<arith::MulFOp>(l, other, sinA);
          Value signedRot =
              b.create<arith::SelectOp>(l, low, b.create<arith::NegFOp>(l, rotated), rotated);
          Value y =
              b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, args[0], cosA), signedRot);
          b.create<linalg::YieldOp>(l, y);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// updated = insert_slice rows into cache[layer, 0, p, 0]; prefix = extract_slice
/// updated[layer, 0, 0, 0][1, B, p + S, E] (static form: [1, B, P, E]), both rank-reducing.
/// One-shot bufferization writes the rows in place and makes the prefix a view: no copy of the
/// cache.
struct LowerKVCacheAppend : OpConversionPattern<KVCacheAppendOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(KVCacheAppendOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value cache = adaptor.getCache(), rows = adaptor.getRows();
    Value p = firstPosition(rewriter, loc, adaptor.getPosition(), 0);
    OpFoldResult zero = rewriter.getIndexAttr(0), one = rewriter.getIndexAttr(1);
    OpFoldResult layer = rewriter.getIndexAttr(op.getLayer());
    SmallVector<OpFoldResult> strides(4, one);
    OpFoldResult batch = tensor::getMixedSize(rewriter, loc, rows, 0);
    OpFoldResult seq = tensor::getMixedSize(rewriter, loc, rows, 1);
    OpFoldResult width = tensor::getMixedSize(rewriter, loc, cache, 3);
    Value updated = rewriter.create<tensor::InsertSliceOp>(
        loc, rows, cache, SmallVector<OpFoldResult>{layer, zero, p, zero},
        SmallVector<OpFoldResult>{one, batch, seq, width}, strides);
    auto prefixType = cast<RankedTensorType>(op.getPrefix().getType());
    OpFoldResult length;
    if (op.getCapacity()) {
      length = rewriter.getIndexAttr(cast<RankedTensorType>(cache.getType()).getDimSize(2));
    } else {
      Value seqV = getValueOrCreateConstantIndexOp(rewriter, loc, seq);
      length = rewriter.create<arith::AddIOp>(loc, p, seqV).getResult();
    }
    Value prefix = rewriter.create<tensor::ExtractSliceOp>(
        loc, prefixType, updated, SmallVector<OpFoldResult>{layer, zero, zero, zero},
        SmallVector<OpFoldResult>{one, batch, length, width}, strides);
    rewriter.replaceOp(op, {updated, prefix});
    return success();
  }
};

} // namespace

void kiln::lowering::populateLayerPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerBinary<AddOp, arith::AddFOp>, LowerBinary<MulOp, arith::MulFOp>, LowerScale,
               LowerDropout, LowerActivation, LowerLayerNorm, LowerRMSNorm,
               LowerLinearOp<LinearOp>, LowerLinearOp<LinearQOp>, LowerEmbedding<EmbeddingOp>,
               LowerEmbedding<EmbeddingQOp>,
               LowerPositionEmbedding, LowerSinusoidal, LowerRotary,
               LowerKVCacheAppend>(
      patterns.getContext());
}
