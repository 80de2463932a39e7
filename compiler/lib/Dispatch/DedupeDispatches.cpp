//===- DedupeDispatches.cpp - Merging structurally identical dispatches ---===//
//
// A model with repeated blocks (GPT-2's 12 layers) is cut into one set of dispatches per block
// that differ only in the parameters their calls bind: the dispatch functions take parameters
// as arguments, so their bodies are identical. Each dispatch function whose signature,
// attributes (other than its symbol name, visibility and `kiln_dispatch`) and body equal those
// of an earlier one, up to SSA names and locations, is erased and its calls are redirected to
// the earlier one (the survivor). The schedule then names the survivor and every target
// compiles it once. Candidates are bucketed by a structural hash; equality is decided by
// OperationEquivalence, so a hash collision never merges different functions. The same
// merging serves the op functions outlined from whole entry points (OutlineOps.cpp).
//
//===----------------------------------------------------------------------===//
#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"

#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/Hashing.h"

namespace kiln {
#define GEN_PASS_DEF_KILNDEDUPEDISPATCHES
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace kiln::dispatch {
namespace {

/// Attributes of a dispatch function that do not change what it computes.
bool isNameLike(StringRef name) {
  return name == SymbolTable::getSymbolAttrName() ||
         name == SymbolTable::getVisibilityAttrName() || name == kDispatchAttr;
}

/// The function's attributes that matter for equality (signature, argument and result
/// attributes, anything else a later pass attached), in a canonical order.
DictionaryAttr significantAttrs(func::FuncOp f) {
  SmallVector<NamedAttribute> kept;
  for (NamedAttribute a : f->getAttrs())
    if (!isNameLike(a.getName().getValue()))
      kept.push_back(a);
  return DictionaryAttr::get(f.getContext(), kept);
}

/// A structural hash of `f` that is equal for functions OperationEquivalence calls equal: the
/// significant attributes, then every nested op's name, attributes, properties, operand and
/// result types and region shape, in walk order.
llvm::hash_code structuralHash(func::FuncOp f) {
  llvm::hash_code h = llvm::hash_value(significantAttrs(f).getAsOpaquePointer());
  f.getBody().walk([&](Operation *op) {
    h = llvm::hash_combine(h, op->getName().getAsOpaquePointer(),
                           op->getRawDictionaryAttrs().getAsOpaquePointer(),
                           op->hashProperties(), op->getNumRegions(), op->getNumSuccessors());
    for (Type t : op->getOperandTypes())
      h = llvm::hash_combine(h, t.getAsOpaquePointer());
    for (Type t : op->getResultTypes())
      h = llvm::hash_combine(h, t.getAsOpaquePointer());
  });
  return h;
}

bool sameFunction(func::FuncOp a, func::FuncOp b) {
  return significantAttrs(a) == significantAttrs(b) &&
         OperationEquivalence::isRegionEquivalentTo(&a.getBody(), &b.getBody(),
                                                    OperationEquivalence::IgnoreLocations);
}

} // namespace

void dedupeFunctions(ModuleOp module, llvm::function_ref<bool(func::FuncOp)> isCandidate,
                     unsigned *numMerged) {
  // Survivors by hash, in module order: the first of each class survives.
  llvm::DenseMap<llvm::hash_code, SmallVector<func::FuncOp, 1>> survivors;
  SmallVector<std::pair<func::FuncOp, func::FuncOp>> merged; // (duplicate, survivor)
  for (func::FuncOp f : module.getOps<func::FuncOp>()) {
    if (f.isExternal() || !isCandidate(f))
      continue;
    SmallVector<func::FuncOp, 1> &bucket = survivors[structuralHash(f)];
    auto it = llvm::find_if(bucket, [&](func::FuncOp s) { return sameFunction(s, f); });
    if (it != bucket.end())
      merged.emplace_back(f, *it);
    else
      bucket.push_back(f);
  }
  // Calls refer to dispatches by symbol: one walk over the module redirects every reference
  // to a duplicate (a survivor is never a duplicate, so there are no chains).
  llvm::DenseMap<Attribute, Attribute> redirect;
  for (auto [duplicate, survivor] : merged) {
    redirect[FlatSymbolRefAttr::get(duplicate.getSymNameAttr())] =
        FlatSymbolRefAttr::get(survivor.getSymNameAttr());
    duplicate.erase();
  }
  if (!redirect.empty()) {
    AttrTypeReplacer replacer;
    replacer.addReplacement([&](SymbolRefAttr ref) -> std::optional<Attribute> {
      auto it = redirect.find(ref);
      if (it == redirect.end())
        return std::nullopt;
      return it->second;
    });
    replacer.recursivelyReplaceElementsIn(module, /*replaceAttrs=*/true, /*replaceLocs=*/false,
                                          /*replaceTypes=*/false);
  }
  if (numMerged)
    *numMerged = merged.size();
}

LogicalResult dedupeDispatches(ModuleOp module, unsigned *numMerged) {
  dedupeFunctions(
      module, [](func::FuncOp f) { return f->hasAttr(kDispatchAttr); }, numMerged);
  return success();
}

} // namespace kiln::dispatch

namespace {

struct KilnDedupeDispatchesPass
    : kiln::impl::KilnDedupeDispatchesBase<KilnDedupeDispatchesPass> {
  void runOnOperation() override {
    if (failed(kiln::dispatch::dedupeDispatches(getOperation())))
      signalPassFailure();
  }
};

} // namespace
