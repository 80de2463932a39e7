//===- BufferLifetimes.cpp - Free each temporary of a whole entry point after its last use -===//
//
// Ownership-based deallocation frees a buffer at the end of the block that owns it. In an
// entry point compiled whole that block is the function: every temporary of every layer stays
// allocated until the entry point returns, ~100 MiB for a 128-token GPT-2 124M prefill and
// growing with the tokens. Here each `memref.dealloc` of a `memref.alloc` in the same block
// moves up to just after the last op of that block that uses the buffer or a view of it
// (subviews, casts, reshapes, the base buffer of its strided metadata), so the next layer's
// temporaries reuse its blocks. A buffer whose address leaves that closure (a view yielded
// from a region, an op with memref results that is not a view, the pointer taken as an
// integer) keeps its dealloc where it is.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace kiln {
namespace {

/// An op whose memref results are views of its memref operand (and nothing else).
bool isView(Operation *op) {
  return isa<ViewLikeOpInterface, memref::CastOp, memref::ExtractStridedMetadataOp,
             memref::CollapseShapeOp, memref::ExpandShapeOp, memref::ReshapeOp>(op);
}

bool hasMemRefResult(Operation *op) {
  return llvm::any_of(op->getResultTypes(),
                      [](Type t) { return isa<BaseMemRefType, LLVM::LLVMPointerType>(t); });
}

/// The last op of `block` that uses `buffer` or one of its views; null when the buffer's
/// address may escape what this follows.
Operation *lastUseInBlock(Value buffer, Operation *alloc, Operation *dealloc, Block *block) {
  Operation *last = alloc;
  SmallVector<Value> work = {buffer};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (user == dealloc)
        continue;
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      if (!inBlock || user->hasTrait<OpTrait::IsTerminator>() ||
          isa<memref::ExtractAlignedPointerAsIndexOp, memref::DeallocOp>(user))
        return nullptr;
      if (last->isBeforeInBlock(inBlock))
        last = inBlock;
      if (isView(user)) {
        for (Value r : user->getResults())
          if (isa<BaseMemRefType>(r.getType()))
            work.push_back(r);
      } else if (hasMemRefResult(user)) {
        return nullptr;
      }
    }
  }
  return last;
}

} // namespace

void shortenBufferLifetimes(func::FuncOp function) {
  SmallVector<memref::DeallocOp> deallocs;
  function.walk([&](memref::DeallocOp d) { deallocs.push_back(d); });
  for (memref::DeallocOp d : deallocs) {
    auto alloc = d.getMemref().getDefiningOp<memref::AllocOp>();
    Block *block = d->getBlock();
    if (!alloc || alloc->getBlock() != block)
      continue;
    Operation *last = lastUseInBlock(alloc.getResult(), alloc, d, block);
    if (last && last->isBeforeInBlock(d))
      d->moveAfter(last);
  }
}

} // namespace kiln
