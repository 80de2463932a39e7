//===- LowerPositionBias.cpp - T5 relative position bias lowering ---------===//
#include "LoweringUtils.h"

#include <cmath>

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

namespace {

/// T5 relative position buckets (HF T5Attention._relative_position_bucket), in the same
/// f32 arithmetic, then a gather from the [num_buckets, H] table into [H, S, T]; with a
/// position operand, query i is at position + i.
struct LowerRelativePositionBias : OpConversionPattern<RelativePositionBiasOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RelativePositionBiasOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = cast<RankedTensorType>(op.getType());
    Type element = resultType.getElementType();
    Value table = adaptor.getTable();
    bool bidirectional = op.getBidirectional();
    int64_t buckets = op.getNumBuckets();
    if (bidirectional)
      buckets /= 2;
    int64_t exact = buckets / 2;
    double logRange = std::log(static_cast<double>(op.getMaxDistance()) / exact);
    // Queries at absolute positions p .. p + S - 1 when the position is given (a decoder's
    // new tokens against its cache), else 0 .. S - 1.
    Value start;
    if (Value position = adaptor.getPosition())
      start = b.create<arith::ExtSIOp>(
          loc, b.getI64Type(),
          b.create<tensor::ExtractOp>(loc, position,
                                      ValueRange{b.create<arith::ConstantIndexOp>(loc, 0)}));
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(op.getNumHeads()),
                                       tensor::getMixedSize(b, loc, adaptor.getQuery(), 1),
                                       tensor::getMixedSize(b, loc, adaptor.getKey(), 1)};
    Value result = generic(
        b, loc, emptyTensor(b, loc, sizes, element), ValueRange{}, {b.getMultiDimIdentityMap(3)},
        parallelLoops(3), [&](OpBuilder &nb, Location l, ValueRange) {
          auto i64 = [&](Value index) {
            return nb.create<arith::IndexCastOp>(l, nb.getI64Type(), index).getResult();
          };
          auto c64 = [&](int64_t v) {
            return nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(v)).getResult();
          };
          Value h = nb.create<linalg::IndexOp>(l, 0);
          Value i = i64(nb.create<linalg::IndexOp>(l, 1));
          if (start)
            i = nb.create<arith::AddIOp>(l, i, start);
          Value j = i64(nb.create<linalg::IndexOp>(l, 2));
          Value rel = nb.create<arith::SubIOp>(l, j, i); // memory - query
          Value zero = c64(0);
          Value base = zero, distance;
          if (bidirectional) {
            Value positive = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sgt, rel, zero);
            base = nb.create<arith::SelectOp>(l, positive, c64(buckets), zero);
            Value negated = nb.create<arith::SubIOp>(l, zero, rel);
            distance = nb.create<arith::SelectOp>(l, positive, rel, negated);
          } else {
            distance = nb.create<arith::MaxSIOp>(l, nb.create<arith::SubIOp>(l, zero, rel), zero);
          }
          Value isSmall =
              nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, distance, c64(exact));
          // exact + trunc(log(distance / exact) / log(max_distance / exact) * (n - exact)),
          // clamped to n - 1. For distance < exact the log is unused (and may be -inf).
          Value ratio =
              nb.create<arith::DivFOp>(l, nb.create<arith::SIToFPOp>(l, element, distance),
                                       floatConst(nb, l, element, static_cast<double>(exact)));
          Value scaled = nb.create<arith::MulFOp>(
              l,
              nb.create<arith::DivFOp>(l, nb.create<math::LogOp>(l, ratio),
                                       floatConst(nb, l, element, logRange)),
              floatConst(nb, l, element, static_cast<double>(buckets - exact)));
          Value safe =
              nb.create<arith::SelectOp>(l, isSmall, floatConst(nb, l, element, 0.0), scaled);
          Value large = nb.create<arith::AddIOp>(
              l, c64(exact), nb.create<arith::FPToSIOp>(l, nb.getI64Type(), safe));
          large = nb.create<arith::MinSIOp>(l, large, c64(buckets - 1));
          Value bucket = nb.create<arith::AddIOp>(
              l, base, nb.create<arith::SelectOp>(l, isSmall, distance, large));
          Value row = nb.create<arith::IndexCastOp>(l, nb.getIndexType(), bucket);
          nb.create<linalg::YieldOp>(
              l, nb.create<tensor::ExtractOp>(l, table, ValueRange{row, h}).getResult());
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void kiln::lowering::populatePositionBiasPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerRelativePositionBias>(patterns.getContext());
}
