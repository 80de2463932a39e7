//===- DistinctArguments.cpp - noalias on the outlined ops' own buffers ----===//
//
// An outlined op (one linalg op of a whole entry point in a function of its own) takes its
// buffers as memref descriptors, and LLVM must assume that any two of them overlap: a
// reduction's accumulator is loaded and stored at every step of its loop, since a store
// could change what the next load of an input reads. Within an entry point most buffers are
// its own temporaries, each a `memref.alloc` of its own:
//
//  1. markDistinctArguments (on buffers, before the lowering to LLVM): an argument that, at
//     every call, is a view of an allocation (memref.alloc / alloca) that no other argument
//     of the call is a view of records its descriptor's aligned pointer (`kiln_distinct_slots`).
//  2. addNoAliasToDistinctArguments (LLVM dialect): those pointers become `noalias`.
//
// The entry point's own arguments (weights, inputs, the KV cache's state, which may be one
// buffer for input and output) are never distinct; nor is an op whose output is also one of
// its inputs (an in-place update); and a function that takes its buffers' addresses (a
// matmul handing them to its chunk dispatches) is left alone.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dispatch/Dispatch.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace kiln {
namespace {

constexpr llvm::StringLiteral kDistinctSlotsAttr = "kiln_distinct_slots";

/// The buffer `v` is a view of: through views, casts and reshapes, to the op or argument
/// that produced it.
Value rootBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      v = view.getViewSource();
    else if (auto cast = dyn_cast<memref::CastOp>(def))
      v = cast.getSource();
    else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def))
      v = collapse.getSrc();
    else if (auto expand = dyn_cast<memref::ExpandShapeOp>(def))
      v = expand.getSrc();
    else if (auto reshape = dyn_cast<memref::ReshapeOp>(def))
      v = reshape.getSource();
    else
      break;
  }
  return v;
}

bool isFreshAllocation(Value root) {
  return root.getDefiningOp<memref::AllocOp>() || root.getDefiningOp<memref::AllocaOp>();
}

} // namespace

void markDistinctArguments(ModuleOp module) {
  for (func::FuncOp f : module.getOps<func::FuncOp>()) {
    if (!f->hasAttr(dispatch::kOutlinedOpAttr) || f.isExternal())
      continue;
    // A function that takes its buffers' addresses (a matmul calling its chunk dispatches)
    // hands them to code LLVM cannot see: left as it is.
    bool addressTaken = false;
    f.walk([&](Operation *op) {
      addressTaken |=
          isa<memref::ExtractAlignedPointerAsIndexOp, memref::ExtractStridedMetadataOp>(op);
    });
    if (addressTaken)
      continue;
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(f, module);
    if (!uses || uses->empty() || llvm::any_of(*uses, [](const SymbolTable::SymbolUse &use) {
          return !isa<func::CallOp>(use.getUser());
        }))
      continue;
    unsigned n = f.getNumArguments();
    SmallVector<bool> distinct(n);
    for (unsigned i = 0; i < n; ++i)
      distinct[i] = isa<MemRefType>(f.getArgumentTypes()[i]);
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = cast<func::CallOp>(use.getUser());
      SmallVector<Value> roots;
      for (Value operand : call.getOperands())
        roots.push_back(isa<MemRefType>(operand.getType()) ? rootBuffer(operand) : Value());
      for (unsigned i = 0; i < n; ++i) {
        if (!distinct[i])
          continue;
        distinct[i] = isFreshAllocation(roots[i]);
        for (unsigned j = 0; j < n && distinct[i]; ++j)
          distinct[i] = j == i || roots[j] != roots[i];
      }
    }
    SmallVector<int64_t> slots;
    int64_t slot = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (distinct[i])
        slots.push_back(slot + 1); // the aligned pointer
      slot += loweredArgumentSlots(f.getArgumentTypes()[i]);
    }
    if (!slots.empty())
      f->setAttr(kDistinctSlotsAttr, DenseI64ArrayAttr::get(f.getContext(), slots));
  }
}

void addNoAliasToDistinctArguments(ModuleOp module) {
  for (auto f : module.getOps<LLVM::LLVMFuncOp>()) {
    auto slots = f->getAttrOfType<DenseI64ArrayAttr>(kDistinctSlotsAttr);
    if (!slots)
      continue;
    f->removeAttr(kDistinctSlotsAttr);
    unsigned params = f.getFunctionType().getNumParams();
    for (int64_t slot : slots.asArrayRef())
      if (slot < params && isa<LLVM::LLVMPointerType>(f.getFunctionType().getParamType(slot)))
        f.setArgAttr(slot, LLVM::LLVMDialect::getNoAliasAttrName(),
                     UnitAttr::get(f.getContext()));
  }
}

} // namespace kiln
