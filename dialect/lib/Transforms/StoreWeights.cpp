//===- StoreWeights.cpp - Linear weights stored in a narrower type --------===//
//
// Decoding one token reads every weight once and little else: its speed is the memory
// bandwidth over the weights' bytes. Storing the linear layers' matrices in bf16 halves those
// bytes while every product and sum stays f32 (each weight is widened exactly as it is read).
//
// With int8, the matrices read as linear weights are stored as int8 with one f32 scale per
// output row (kiln.linear_q) and quarter the bytes. A tied output head's weight is also its
// embedding table: a row of the table is a row of the head, so the same row scales serve the
// lookup (kiln.embedding_q). Tables read only by an embedding are bf16 as with dtype=bf16: a
// token reads one row of them.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/ErrorHandling.h"

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

/// Whether some use of `ref` reads it as the weight of a kiln.linear.
bool readAsLinearWeight(ParamRefOp ref) {
  return llvm::any_of(ref->getUsers(), [](Operation *user) { return isa<LinearOp>(user); });
}

/// `<weight>.scale`, or `<weight>.scale.<i>` with the first i that names no symbol yet.
std::string scaleName(SymbolTable &symbols, StringRef weight) {
  std::string base = (weight + ".scale").str();
  std::string name = base;
  for (int i = 1; symbols.lookup(name); ++i)
    name = base + "." + std::to_string(i);
  return name;
}

/// Makes `param` (an f32 [N, K] matrix read as linear weights and perhaps as an embedding
/// table) an i8 matrix with its row scales in a new f32 [N] parameter, every kiln.linear reading
/// it a kiln.linear_q and every kiln.embedding a kiln.embedding_q.
void quantize(ParamOp param, ArrayRef<ParamRefOp> refs, SymbolTable &symbols) {
  MLIRContext *ctx = param.getContext();
  RankedTensorType type = param.getType();
  auto q = RankedTensorType::get(type.getShape(), IntegerType::get(ctx, 8));
  auto scaleType = RankedTensorType::get({type.getDimSize(0)}, Float32Type::get(ctx));
  OpBuilder b(ctx);
  b.setInsertionPointAfter(param);
  std::string name = scaleName(symbols, param.getSymName());
  auto scale = b.create<ParamOp>(param.getLoc(), name, scaleType, InitKind::Ones,
                                 /*std=*/nullptr, /*hf_name=*/nullptr, /*hf_transpose=*/false,
                                 /*hf_slice=*/nullptr, /*scale=*/nullptr,
                                 FlatSymbolRefAttr::get(param.getSymNameAttr()));
  symbols.insert(scale);
  param.setType(q);
  param.setScaleAttr(FlatSymbolRefAttr::get(scale.getSymNameAttr()));
  for (ParamRefOp ref : refs) {
    ref.getResult().setType(q);
    SmallVector<Operation *> users(ref->getUsers());
    b.setInsertionPointAfter(ref);
    Value scales = b.create<ParamRefOp>(ref.getLoc(), scaleType, scale.getSymName());
    for (Operation *user : users) {
      b.setInsertionPoint(user);
      Value quantized;
      if (auto linear = dyn_cast<LinearOp>(user))
        quantized = b.create<LinearQOp>(linear.getLoc(), linear.getType(), linear.getInput(),
                                        linear.getWeight(), scales, linear.getBias());
      else if (auto lookup = dyn_cast<EmbeddingOp>(user))
        quantized = b.create<EmbeddingQOp>(lookup.getLoc(), lookup.getType(), lookup.getIds(),
                                           lookup.getTable(), scales);
      else
        llvm_unreachable("onlyWeightOrTable admits linear weights and embedding tables only");
      user->getResult(0).replaceAllUsesWith(quantized);
      user->erase();
    }
  }
}

struct KilnStoreWeightsPass : kiln::impl::KilnStoreWeightsBase<KilnStoreWeightsPass> {
  using KilnStoreWeightsBase::KilnStoreWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (dtype == "f32")
      return;
    if (dtype != "bf16" && dtype != "int8") {
      module.emitError() << "kiln-store-weights: unknown dtype '" << dtype
                         << "' (bf16, int8 or f32)";
      return signalPassFailure();
    }
    Type storage = BFloat16Type::get(&getContext());
    llvm::StringMap<SmallVector<ParamRefOp>> refs;
    llvm::StringMap<bool> eligible, linearWeight;
    module.walk([&](ParamRefOp ref) {
      refs[ref.getName()].push_back(ref);
      auto [it, inserted] = eligible.try_emplace(ref.getName(), true);
      it->second = it->second && onlyWeightOrTable(ref);
      linearWeight[ref.getName()] |= readAsLinearWeight(ref);
    });
    SymbolTable symbols(module);
    for (ParamOp param : llvm::make_early_inc_range(module.getOps<ParamOp>())) {
      RankedTensorType type = param.getType();
      auto it = eligible.find(param.getSymName());
      if (type.getRank() != 2 || !type.getElementType().isF32() || it == eligible.end() ||
          !it->second)
        continue;
      if (dtype == "int8" && linearWeight.lookup(param.getSymName())) {
        quantize(param, refs[param.getSymName()], symbols);
        continue;
      }
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
