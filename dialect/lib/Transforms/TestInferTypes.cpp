//===- TestInferTypes.cpp - Report inferred result types ------------------===//
//
// Test support: lets lit check result type inference (dynamic sizes included) without
// going through the verifier's equality check.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Interfaces/InferTypeOpInterface.h"

namespace kiln {
#define GEN_PASS_DEF_KILNTESTINFERTYPES
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

struct KilnTestInferTypesPass : kiln::impl::KilnTestInferTypesBase<KilnTestInferTypesPass> {
  void runOnOperation() override {
    getOperation()->walk([](InferTypeOpInterface op) {
      if (!isa<kiln::KilnDialect>(op->getDialect()))
        return;
      SmallVector<Type> inferred;
      if (failed(op.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                     op->getAttrDictionary(), op->getPropertiesStorage(),
                                     op->getRegions(), inferred))) {
        op->emitRemark("inference failed");
        return;
      }
      InFlightDiagnostic remark = op->emitRemark("inferred ");
      llvm::interleaveComma(inferred, remark);
    });
  }
};

} // namespace
