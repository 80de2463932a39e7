//===- StoreWeights.cpp - Linear weights stored in a narrower type --------===//
//
// Decoding one token reads every weight once and little else: its speed is the memory
// bandwidth over the weights' bytes. Storing the linear layers' matrices in bf16 halves those
// bytes while every product and sum stays f32 (each weight is widened exactly as it is read).
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSTOREWEIGHTS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Whether every use of `ref` reads it as the weight of a kiln.linear with f32 inputs or as the
/// table of a kiln.embedding (a tied output head's weight is both).
bool onlyWeightOrTable(ParamRefOp ref) {
  for (OpOperand &use : ref->getUses()) {
    Operation *user = use.getOwner();
    if (auto linear = dyn_cast<LinearOp>(user)) {
      if (use.getOperandNumber() != 1 ||
          !linear.getInput().getType().getElementType().isF32())
        return false;
    } else if (!isa<EmbeddingOp>(user)) {
      return false;
    }
  }
  return true;
}

struct KilnStoreWeightsPass : kiln::impl::KilnStoreWeightsBase<KilnStoreWeightsPass> {
  using KilnStoreWeightsBase::KilnStoreWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (dtype == "f32")
      return;
    if (dtype != "bf16") {
      module.emitError() << "kiln-store-weights: unknown dtype '" << dtype
                         << "' (bf16 or f32)";
      return signalPassFailure();
    }
    Type storage = BFloat16Type::get(&getContext());
    llvm::StringMap<SmallVector<ParamRefOp>> refs;
    llvm::StringMap<bool> eligible;
    module.walk([&](ParamRefOp ref) {
      refs[ref.getName()].push_back(ref);
      auto [it, inserted] = eligible.try_emplace(ref.getName(), true);
      it->second = it->second && onlyWeightOrTable(ref);
    });
    for (ParamOp param : module.getOps<ParamOp>()) {
      RankedTensorType type = param.getType();
      auto it = eligible.find(param.getSymName());
      if (type.getRank() != 2 || !type.getElementType().isF32() || it == eligible.end() ||
          !it->second)
        continue;
      auto narrow = RankedTensorType::get(type.getShape(), storage);
      param.setType(narrow);
      for (ParamRefOp ref : refs[param.getSymName()])
        ref.getResult().setType(narrow);
      // An embedding's rows widen to f32: its result type is unchanged (EmbeddingOp infers f32
      // from a bf16 table).
    }
  }
};

} // namespace
