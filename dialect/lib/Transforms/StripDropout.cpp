//===- StripDropout.cpp - Remove dropout for inference --------------------===//
//
// Dropout is the identity at inference; inference entry points are compiled without it.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSTRIPDROPOUT
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct KilnStripDropoutPass : kiln::impl::KilnStripDropoutBase<KilnStripDropoutPass> {
  void runOnOperation() override {
    // A walk rather than a greedy driver: only dropouts change, nothing else is folded.
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](DropoutOp op) { rewriter.replaceOp(op, op.getInput()); });
  }
};

} // namespace
