//===- KilnToLinalg.cpp - The kiln-lower-to-linalg pass -------------------===//
//
// A full conversion of the kiln graph ops; kiln.param and kiln.param_ref stay legal (the
// entry-point ABI decides how parameters reach compiled code).
//
//===----------------------------------------------------------------------===//
#include "LoweringUtils.h"

#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/Kiln/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNLOWERTOLINALG
#include "kiln/Conversion/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::lowering;

Value kiln::lowering::sumLastDim(OpBuilder &b, Location loc, Value input,
                                 function_ref<Value(OpBuilder &, Location, Value)> transform) {
  auto type = cast<RankedTensorType>(input.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, input);
  sizes.pop_back();
  Value init = filledTensor(b, loc, sizes, floatConst(b, loc, type.getElementType(), 0.0));
  SmallVector<AffineExpr> outer;
  for (unsigned i = 0; i + 1 < rank; ++i)
    outer.push_back(b.getAffineDimExpr(i));
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, outer, b.getContext())};
  SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
  iterators.back() = utils::IteratorType::reduction;
  return generic(
      b, loc, init, input, maps, iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value x = transform ? transform(nb, nloc, args[0]) : args[0];
        nb.create<linalg::YieldOp>(nloc, nb.create<arith::AddFOp>(nloc, x, args[1]).getResult());
      });
}

void kiln::populateKilnToLinalgPatterns(RewritePatternSet &patterns) {
  populateLayerPatterns(patterns);
  populateAttentionPatterns(patterns);
  populatePositionBiasPatterns(patterns);
  populateHeadPatterns(patterns);
}

namespace {

struct KilnLowerToLinalgPass : kiln::impl::KilnLowerToLinalgBase<KilnLowerToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect, math::MathDialect,
                           tensor::TensorDialect, func::FuncDialect>();
    target.addIllegalDialect<KilnDialect>();
    target.addLegalOp<ParamOp, ParamRefOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(context);
    populateKilnToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
